"""Course kits: the generator stubs on the syntax tree, kits leak no later answer, public cases grade.

For every assignment a kit is made and its public cases are graded in a subprocess (PYTHONPATH = the
kit, so the kit's own minidense is imported): the untouched stubs score 0, the library's code put back
scores full marks. The hidden-case grader is tested in test_assignments_grade.py.
"""
import ast
import io
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import tokenize
from pathlib import Path

import nbformat
import numpy as np
import pytest
from paths import GOLDEN

from minidense import cli
from minidense.assignments import ASSIGNMENTS, COURSE, generator, make_kit, merge
from minidense.assignments.cases import case_rng, make_cases
from minidense.assignments.course.conv.spec import HINTS as HINTS_CONV
from minidense.assignments.grading import compare

LIBRARY = Path(generator.PACKAGE_DIR)


def grade(kit, *args, output=False):
    """Run the kit's grader as a student would; returns results.json (and the printed text with output=True)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "HYPOTHESIS"))}
    env.update(PYTHONPATH=str(kit), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "grader/run.py", *args], cwd=kit, env=env, capture_output=True, text=True,
                          timeout=300)
    results = kit / "results.json"
    assert results.exists(), f"no results.json; grader output:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    out = json.loads(results.read_text())
    assert f"{out['total']:6.2f} / {out['max']:3d}" in proc.stdout   # the score table was printed
    return (out, proc.stdout) if output else out


def put_back_reference(kit, spec):
    for rel in generator.kit_stubs(spec):
        shutil.copyfile(LIBRARY / rel, kit / "minidense" / rel)


def scores(results):
    return {name: p["score"] for name, p in results["parts"].items() if p["run"]}


@pytest.fixture(scope="module")
def kits(tmp_path_factory):
    made = {}

    def get(name):
        if name not in made:
            made[name] = Path(make_kit(name, str(tmp_path_factory.mktemp(name) / "kit")))
        return made[name]
    return get


def copy_kit(kit, tmp_path, name):
    dest = tmp_path / name
    shutil.copytree(kit, dest, ignore=shutil.ignore_patterns("__pycache__", "results.json", "hint_state.json"))
    return dest


# ------------------------------------------------------------------ the generator
SOURCE = '''"""A module."""
import numpy as np


def helper(x):
    """Doubles x."""
    # a hint that must go
    return 2 * x


def other(x):
    return x + 1


class Op:
    """An op."""

    def forward(self, x):
        # comment before the first statement
        self.x = x
        return x * x

    def backward(self, g):
        return 2 * self.x * g
'''


def test_stub_source_keeps_signatures_and_docstrings_and_drops_the_bodies():
    out = generator.stub_source(SOURCE, ["helper", "Op.forward"], where="m.py")
    tree = ast.parse(out)
    funcs = generator._functions(tree)
    assert ast.get_docstring(funcs["helper"]) == "Doubles x."
    assert [type(s).__name__ for s in funcs["helper"].body] == ["Expr", "Raise"]
    assert [type(s).__name__ for s in funcs["Op.forward"].body] == ["Raise"]
    assert "a hint" not in out and "comment before" not in out and "x * x" not in out and "2 * x" not in out
    # everything else is copied line for line
    assert "def other(x):\n    return x + 1\n" in out and "        return 2 * self.x * g\n" in out
    assert "m.py: Op.forward: your code here" in out
    namespace = {}
    exec(compile(out, "m.py", "exec"), namespace)
    with pytest.raises(NotImplementedError, match="helper"):
        namespace["helper"](1)
    assert namespace["other"](1) == 2


def test_stub_source_names_a_missing_function():
    with pytest.raises(KeyError, match="Op.sideways"):
        generator.stub_source(SOURCE, ["Op.sideways"])


def test_cli_lists_and_makes(tmp_path, capsys):
    assert cli.main(["assignment", "list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed and spec.title in listed for name, spec in ASSIGNMENTS.items())
    assert cli.main(["assignment", "make", "nope", "--out", str(tmp_path / "x")]) == 2


@pytest.mark.parametrize("name", sorted(ASSIGNMENTS))
def test_kit_layout_stubs_handout_and_notebook(name, kits):
    kit, spec = kits(name), ASSIGNMENTS[name]
    for rel in ("HANDOUT.md", "README.md", "starter.ipynb", "pytest.ini", "grader/conftest.py", "grader/run.py",
                "grader/test_public.py", "grader/harness.py", "grader/compare.py", "grader/parts.json",
                "grader/cases.json", "grader/public.npz", "minidense/__init__.py"):
        assert (kit / rel).is_file(), rel
    assert not (kit / "minidense" / "assignments").exists()
    # every stubbed function is a docstring and a raise, nothing else
    for rel, names in generator.kit_stubs(spec).items():
        funcs = generator._functions(ast.parse((kit / "minidense" / rel).read_text()))
        for q in names:
            body = funcs[q].body[1:] if ast.get_docstring(funcs[q]) else funcs[q].body
            assert len(body) == 1 and isinstance(body[0], ast.Raise), (rel, q)
    # the handout renders: headings, balanced code fences, every part in the table
    for md_file in ("HANDOUT.md", "README.md"):
        text = (kit / md_file).read_text()
        assert text.startswith("# ") and text.count("```") % 2 == 0
        assert len(re.findall(r"^## ", text, flags=re.M)) >= 2
    handout = (kit / "HANDOUT.md").read_text()
    assert all(f"| `{p.name}` | {p.points} |" in handout for p in spec.parts)
    try:
        from markdown_it import MarkdownIt
    except ImportError:
        pass
    else:
        html = MarkdownIt("commonmark").enable("table").render(handout)
        assert "<table>" in html and html.count("<h2>") >= 2
    notebook = nbformat.read(kit / "starter.ipynb", as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            compile(cell.source, "starter.ipynb", "exec")


def test_make_kit_refuses_a_folder_in_use(tmp_path):
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "mine.txt").write_text("keep me")
    with pytest.raises(FileExistsError):
        make_kit("conv", str(tmp_path / "used"))
    with pytest.raises(ValueError, match="unknown assignment"):
        make_kit("nope", str(tmp_path / "new"))


# ------------------------------------------------------------------ grading
def test_grader_refuses_an_installed_minidense(kits, tmp_path):
    kit = copy_kit(kits("conv"), tmp_path, "elsewhere")
    shutil.rmtree(kit / "minidense")   # the grader would import the library instead of the kit's copy
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "HYPOTHESIS"))}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "grader"], cwd=kit,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3 and "not from this kit" in proc.stdout + proc.stderr
    assert not (kit / "results.json").exists()


KIT_CONVOLUTIONS = """
import minidense as md, minidense.functional as F
from minidense.ops import fastpaths
assert not fastpaths.enabled()
for shape, kwargs in (((1, 2, 6, 6), dict(padding=1)),          # stride 1, 'same' width: rows end to end
                      ((8, 16, 64, 64), dict(padding=1))):      # columns over the block budget
    try:
        F.conv2d(md.randn(*shape), md.randn(4, shape[1], 3, 3), **kwargs)
    except NotImplementedError as e:
        print("stub:", e)
    with md.fast_paths(True):
        try:
            F.conv2d(md.randn(*shape), md.randn(4, shape[1], 3, 3), **kwargs)
        except NotImplementedError as e:
            print("stub:", e)
"""


def _printed_in_kit(kit, script):
    """The lines ``script`` prints, run by Python in the kit's folder with the kit's package (MINIDENSE_FAST unset)."""
    env = {**os.environ, "PYTHONPATH": str(kit)}
    env.pop("MINIDENSE_FAST", None)
    proc = subprocess.run([sys.executable, "-c", script], cwd=kit, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def test_an_untouched_conv_kit_computes_no_convolution_by_another_road(kits):
    """The kit ships without the fast paths: its convolution is the student's kernels or nothing."""
    kit = kits("conv")
    assert "ON_BY_DEFAULT = False" in (kit / "minidense" / "ops" / "fastpaths.py").read_text()
    assert "def blocks" not in (kit / "minidense" / "ops" / "conv_fast.py").read_text()
    lines = _printed_in_kit(kit, KIT_CONVOLUTIONS)
    assert len(lines) == 4, lines
    assert lines[0].startswith("stub: ops/im2col.py: im2col: your code here") or \
        lines[0].startswith("stub: ops/conv.py: _conv_forward: your code here"), lines[0]
    assert lines[0] == lines[2]
    assert all("not part of this kit" in line for line in lines[1::2])


KIT_CROSS_ENTROPIES = """
import numpy as np
import minidense as md, minidense.functional as F
md.set_num_threads(2)
x, t = md.zeros(4, 2, 512, 512), md.tensor(np.zeros((4, 512, 512), np.int64))   # 8 MiB: split, in the library
for fast in (False, True):
    with md.fast_paths(fast):
        try:
            F.cross_entropy(x, t)
        except NotImplementedError as e:
            print("stub:", e)
"""


def test_an_untouched_losses_kit_computes_no_cross_entropy_by_another_road(kits):
    """The kit ships without the split cross-entropy (ops/loss_fast.py): the student's op or nothing."""
    lines = _printed_in_kit(kits("losses"), KIT_CROSS_ENTROPIES)
    assert len(lines) == 2, lines
    assert "your code here" in lines[0] and "not part of this kit" in lines[1], lines


#: a reference to a document or module: a path ending in one of these (data files such as a data set's
#: train.txt, or what the code writes, results.json, are not documents)
DOCUMENT = re.compile(r"(?<![\w.-])((?:[\w-]+/)*[\w-]+\.(?:py|md|ipynb|cfg|toml))(?![\w/])")
#: the repository's folders and its issues, which no kit holds
ELSEWHERE = re.compile(r"\b(?:docs|bench|notebooks|tests|examples)/[\w./-]*|\bissues?\b|\bMakefile\b|`make [\w-]+`")
CELL_NUMBER = re.compile(r"\bcells? \d+")
SECTION = re.compile(r"section \"([^\"]+)\"")


def kit_texts(kit):
    """(file, text) of everything in a kit that a student reads: Markdown, the notebook's cells, Python."""
    for path in sorted(kit.rglob("*")):
        rel = str(path.relative_to(kit))
        if "__pycache__" in path.parts:
            continue
        if path.suffix in (".md", ".py"):
            yield rel, path.read_text(encoding="utf-8")
        elif path.suffix == ".ipynb":
            yield rel, "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)


def dangling_references(kit):
    """[(file, what)]: the files, folders, issues, numbered cells and sections a kit's text names but the kit
    does not hold (a section is named as the notebook or the handout shows its heading)."""
    files = {str(p.relative_to(kit)) for p in kit.rglob("*") if p.is_file()}
    names = {Path(f).name for f in files}
    notebook = nbformat.read(kit / "starter.ipynb", as_version=4)
    lines = [line for c in notebook.cells if c.cell_type == "markdown" for line in c.source.splitlines()]
    lines += (kit / "HANDOUT.md").read_text().splitlines()
    headings = {line.lstrip("#").strip() for line in lines if line.startswith("#")}
    found = []
    for where, text in kit_texts(kit):
        for name in DOCUMENT.findall(text):
            if not ({name, f"minidense/{name}", f"grader/{name}"} & files or "/" not in name and name in names):
                found.append((where, name))
        found += [(where, m) for m in ELSEWHERE.findall(text) + CELL_NUMBER.findall(text)]
        found += [(where, f'section "{m}"') for m in SECTION.findall(text) if m not in headings]
    return found


def test_dangling_references_are_found(tmp_path):
    """The scan names each kind of reference a kit cannot follow, and passes what the kit holds."""
    (tmp_path / "grader").mkdir()
    (tmp_path / "grader" / "run.py").write_text('"""Run me: see grader/run.py, run.py and HANDOUT.md."""\n')
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("## 1. Tiny\n\nSee cell 2.")]),
                   tmp_path / "starter.ipynb")
    (tmp_path / "HANDOUT.md").write_text('# H\n\nRead docs/design.md and the performance issue; section "1. Tiny" '
                                         'and section "9. Gone"; notes.md.\n')
    assert sorted(what for _, what in dangling_references(tmp_path)) == \
        ["cell 2", "docs/design.md", "docs/design.md", "issue", "notes.md", 'section "9. Gone"']


@pytest.mark.parametrize("name", sorted(ASSIGNMENTS))
def test_a_kit_names_only_what_it_holds(name, kits):
    """A kit stands alone: its handout, notebook, README, answers sheet, grader and package name no file,
    folder, issue or notebook section that the kit does not hold (a notebook's steps are named as its
    headings show them)."""
    assert dangling_references(kits(name)) == []


def test_the_kits_say_what_they_run(kits):
    """The conv kit's conv.py says that the kit runs the reference kernels only; the unet notebook sets one
    BLAS thread as the grader does, before NumPy is imported."""
    doc = " ".join(ast.get_docstring(ast.parse((kits("conv") / "minidense" / "ops" / "conv.py").read_text())).split())
    assert "a course kit sets it to False" in doc and "a kit runs these kernels only" in doc
    setup = nbformat.read(kits("unet") / "starter.ipynb", as_version=4).cells[1].source
    assert setup.index('os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")') < setup.index("import numpy")


@pytest.mark.parametrize("name", sorted(ASSIGNMENTS))
def test_untouched_kit_scores_zero(name, kits):
    results = grade(kits(name))
    assert results["total"] == 0 and all(v == 0 for v in scores(results).values())


@pytest.mark.parametrize("name", sorted(ASSIGNMENTS))
def test_reference_code_scores_full_marks(name, kits, tmp_path):
    kit = copy_kit(kits(name), tmp_path, "reference")
    put_back_reference(kit, ASSIGNMENTS[name])
    results = grade(kit)
    assert results["total"] == results["max"] == 100, results
    assert all(p["passed"] == p["tests"] > 0 for p in results["parts"].values())


def test_a_failure_says_what_and_where_once_with_the_cases_hint(kits, tmp_path):
    """The student's view of a failing case: the error their code raised and where, the case's hint, in
    plain text (no colour codes when not on a terminal), said once (no pytest assertion echo)."""
    kit = copy_kit(kits("losses"), tmp_path, "student")
    put_back_reference(kit, ASSIGNMENTS["losses"])
    path = kit / "minidense" / "metrics.py"
    source = path.read_text()
    assert source.count(", minlength=num_classes ** 2)") == 1
    path.write_text(source.replace(", minlength=num_classes ** 2)", ")"))   # the reshape then fails
    results, text = grade(kit, "-m", "confusion_iou", output=True)
    assert 0 < results["parts"]["confusion_iou"]["score"] < 25
    line = next(s for s in text.splitlines() if "case class-absent-from-both: ValueError: cannot reshape" in s)
    assert "metrics.py:" in line and "in _count_confusion" in line, line
    assert "Hint: a class absent from both maps" in line, line
    assert "\x1b[" not in text and "assert " not in text, text[-2000:]


def plant(kit, mistake):
    """Put ``mistake`` into the kit's files (which hold the reference code)."""
    files = {rel: (kit / "minidense" / rel).read_text() for rel, _, _ in mistake.replace}
    for rel, source in mistake.apply(files).items():
        (kit / "minidense" / rel).write_text(source)


def test_hints_come_in_tiers_the_next_after_another_failing_run(kits, tmp_path):
    """A failing case shows hint 1 and says more exist; the same part failing on a later run shows hint 2 as
    well; `--hint 2` shows it at once; the class feedback's verdict (compare's default) stays at tier 1."""
    spec = ASSIGNMENTS["conv"]
    (mistake,) = [m for m in spec.mistakes if m.what.startswith("col2im writes (=)")]
    first, second = HINTS_CONV["col2im"]
    kit = copy_kit(kits("conv"), tmp_path, "tiers")
    put_back_reference(kit, spec)
    plant(kit, mistake)
    _, text = grade(kit, "-m", "col2im", output=True)
    failing = [s for s in text.splitlines() if "Hint:" in s and not s.startswith("FAILED")]   # (summary: cut)
    assert failing and all(f"Hint: {first}" in s and "Hint 2" not in s and "(hint 1 of 2" in s
                           for s in failing), text[-3000:]
    _, text = grade(kit, "-m", "col2im", output=True)
    assert f"Hint 2: {second}" in text, text[-3000:]
    fresh = copy_kit(kits("conv"), tmp_path, "asked")
    put_back_reference(fresh, spec)
    plant(fresh, mistake)
    _, text = grade(fresh, "--hint", "2", "-m", "col2im", output=True)
    assert f"Hint 2: {second}" in text, text[-3000:]
    case = {"hints": [first, second]}
    assert compare.explain(case, "wrong") == f"wrong. Hint: {first} (hint 1 of 2: the next after another " \
        "failing run, or with `python grader/run.py --hint 2`)"
    assert compare.explain(case, "wrong", tier=5) == f"wrong. Hint: {first}. Hint 2: {second}"
    assert compare.explain(case, None, tier=2) is None



def test_a_part_not_written_yet_keeps_its_hint_tier(kits, tmp_path):
    """Runs of the grader while a part is still a stub (NotImplementedError) are not failing attempts at it: its
    next hint waits until code that was written fails."""
    kit = copy_kit(kits("conv"), tmp_path, "stubs")
    for _ in range(2):
        _, text = grade(kit, "-m", "col2im", output=True)
    assert "NotImplementedError" in text and "Hint: " in text and "Hint 2" not in text, text[-3000:]
    published = (kit / "grader" / "cases.json").read_text(encoding="utf-8")   # tier 2 is veiled there
    first, second = HINTS_CONV["col2im"]
    assert json.dumps(first) in published and compare.veil(second) in published and json.dumps(second) not in published

MISTAKES = [(a.name, i) for a in COURSE for i in range(len(a.mistakes))]


@pytest.mark.slow
@pytest.mark.parametrize("name,i", MISTAKES, ids=[f"{n}-{i}" for n, i in MISTAKES])
def test_planted_mistake_loses_points_in_its_part(name, i, kits, tmp_path):
    """The full matrix (make test-slow): each planted mistake loses points in its parts, and only there
    or in the parts declared to build on them."""
    spec = ASSIGNMENTS[name]
    mistake = spec.mistakes[i]
    what, loses = mistake.what, mistake.loses
    kit = copy_kit(kits(name), tmp_path, "mistake")
    put_back_reference(kit, spec)
    plant(kit, mistake)
    results = grade(kit)
    got = scores(results)
    full = {p.name: p.points for p in spec.parts}
    dependents = {p.name for p in spec.parts if set(p.builds_on) & loses}
    for part in loses:
        assert got[part] < full[part], f"{what}: part {part} kept all its points"
    for part in set(got) - loses - dependents:
        assert got[part] == full[part], f"{what}: unrelated part {part} lost points"


@pytest.mark.parametrize("name", sorted(ASSIGNMENTS))
def test_every_kit_has_ten_planted_mistakes_that_apply_to_the_library(name):
    """Each planted mistake replaces functions the student writes, by name, with code that differs from the
    library's, and names parts of its assignment."""
    spec = ASSIGNMENTS[name]
    assert len(spec.mistakes) >= 10, f"{name}: {len(spec.mistakes)} planted mistakes, the course asks for 10"
    parts = {p.name for p in spec.parts}
    for m in spec.mistakes:
        assert m.loses and m.loses <= parts, (m.what, m.loses)
        assert m.replace and all(q in spec.stubs.get(rel, ()) for rel, q, _ in m.replace), (m.what, m.replace)
        library = {rel: (LIBRARY / rel).read_text() for rel, _, _ in m.replace}
        planted = m.apply(library)   # KeyError when a function is gone from the library
        for rel, qualname, _ in m.replace:
            ours = merge.functions(ast.parse(library[rel]))[qualname]
            theirs = merge.functions(ast.parse(planted[rel]))[qualname]
            assert _body_dump(ours) != _body_dump(theirs), f"the mistake '{m.what}' leaves {rel}: {qualname} as it is"


def test_replace_function_puts_a_function_in_place_by_name():
    out = merge.replace_function(SOURCE, "Op.backward", "def backward(self, g):\n    return self.x * g\n")
    assert "        return self.x * g\n" in out and "2 * self.x * g" not in out
    assert out.replace("        return self.x * g\n", "        return 2 * self.x * g\n") == SOURCE
    with pytest.raises(KeyError, match="Op.sideways"):
        merge.replace_function(SOURCE, "Op.sideways", "def sideways(self):\n    pass\n")
    with pytest.raises(ValueError, match="one def backward"):
        merge.replace_function(SOURCE, "Op.backward", "def forward(self, g):\n    return g\n")


# ------------------------------------------------------------------ the course: order, no leaks, carry
def test_list_prints_the_course_in_order(capsys):
    assert cli.main(["assignment", "list"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert [line.split()[1] for line in lines] == [a.name for a in COURSE]
    assert [line.split()[0] for line in lines] == [f"{i}." for i in range(1, len(COURSE) + 1)]


def same_array(a, b):
    """Equal shapes and values, NaN equal to NaN (cases hold missing depths as NaN)."""
    return a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind == b.dtype.kind == "f")


def _body_dump(node):
    body = node.body[1:] if merge.has_docstring(node) else node.body
    return ast.dump(ast.Module(body=body, type_ignores=[]))


def test_no_kit_holds_a_later_answer_or_hidden_outputs(kits):
    """Every kit: no function body equal to the reference body of a function that this or a later
    assignment stubs, anywhere in the kit; no array file but the public cases, and those hold exactly
    the public cases (no hidden case of a term)."""
    library = {}
    for rel in generator.merge_tables(*(a.all_stubs() for a in COURSE)):
        library[rel] = merge.functions(ast.parse((LIBRARY / rel).read_text()))
    for k, spec in enumerate(COURSE):
        kit = kits(spec.name)
        secret = {}
        for later in COURSE[k:]:
            for rel, names in later.all_stubs().items():
                for q in names:
                    secret[_body_dump(library[rel][q])] = f"{rel}: {q}"
        found = []
        for path in (kit / "minidense").rglob("*.py"):
            for q, node in merge.functions(ast.parse(path.read_text())).items():
                if _body_dump(node) in secret:
                    found.append(f"{path.relative_to(kit)}: {q} holds the body of {secret[_body_dump(node)]}")
        assert not found, found
        for rel, names in spec.all_stubs().items():   # the kit's own functions are stubs
            funcs = merge.functions(ast.parse((kit / "minidense" / rel).read_text()))
            assert all(merge.is_stub(funcs[q]) for q in names)
        assert not (kit / "minidense" / "assignments").exists()
        # the grader's files: the verdicts on training runs (mean IoU, depth errors: assignment 4's answers)
        # only in the kits with a training part
        shipped = {p.name for p in (kit / "grader").glob("*.py")}
        expected = set(generator.KIT_GRADER_FILES.values()) | \
            (set(generator.TRAINING_GRADER_FILES.values()) if spec.training else set())
        assert shipped == expected, (spec.name, shipped ^ expected)
        assert spec.training or "bincount" not in "".join(p.read_text() for p in (kit / "grader").glob("*.py"))
        arrays = sorted(str(p.relative_to(kit)) for p in kit.rglob("*") if p.suffix in (".npz", ".npy", ".pkl",
                                                                                        ".pickle", ".h5"))
        assert arrays == ["grader/public.npz"], arrays
        meta, public = generator.public_cases(spec)
        stored = np.load(kit / "grader" / "public.npz")
        assert sorted(stored.files) == sorted(public)
        assert all(same_array(stored[key], public[key]) for key in public)
        assert json.loads((kit / "grader" / "cases.json").read_text()) == json.loads(json.dumps(meta))
        hidden_inputs = [a for i, part in enumerate(spec.parts) if part.name != "training"
                         for c in make_cases(spec, part.name, case_rng(8142, "student-a", i), public=False)
                         for a in c["inputs"].values()]
        hidden_inputs = [h for h in hidden_inputs if np.any(h != 0)]   # zeros (initial biases) say nothing
        assert not any(same_array(stored[key], h) for key in stored.files for h in hidden_inputs)


def test_stub_messages_name_the_file_and_function_and_why(kits):
    conv = (kits("conv") / "minidense" / "ops" / "conv.py").read_text()
    assert "ops/conv.py: _conv_forward: your code here (see HANDOUT.md)" in conv
    assert "ops/conv.py: ConvTranspose2d.forward: revealed in a later assignment" in conv
    assert "ops/im2col.py: im2col: your code here" in (kits("conv") / "minidense" / "ops" / "im2col.py").read_text()
    loss = (kits("conv") / "minidense" / "ops" / "loss.py").read_text()
    assert "ops/loss.py: CrossEntropy.forward: revealed in a later assignment" in loss
    assert "your code here" not in loss


def test_carry_merges_the_students_own_functions_and_falls_back_on_stubs(kits, tmp_path):
    student = copy_kit(kits("conv"), tmp_path, "student-conv")
    columns = student / "minidense" / "ops" / "im2col.py"
    funcs = merge.functions(ast.parse((LIBRARY / "ops" / "im2col.py").read_text()))
    lines = (LIBRARY / "ops" / "im2col.py").read_text().splitlines(keepends=True)
    node = funcs["im2col"]
    mine = "".join(lines[node.lineno - 1:node.end_lineno]).replace('"""', '"""MY OWN IM2COL. ', 1)
    source, skipped = merge.merge_functions(columns.read_text(), mine, ["im2col"])
    assert not skipped
    columns.write_text(source)
    with pytest.warns(UserWarning, match="_conv_forward: still a stub"):
        out = make_kit("pool", str(tmp_path / "pool"), carry=[str(student)])
    pool_columns = (Path(out) / "minidense" / "ops" / "im2col.py").read_text()
    got = merge.functions(ast.parse(pool_columns))
    assert "MY OWN IM2COL" in pool_columns and not merge.is_stub(got["im2col"])
    assert merge.is_stub(got["col2im"])                                 # the pool kit's own function stays a stub
    conv = merge.functions(ast.parse((Path(out) / "minidense" / "ops" / "conv.py").read_text()))
    library_conv = merge.functions(ast.parse((LIBRARY / "ops" / "conv.py").read_text()))
    assert _body_dump(conv["_conv_forward"]) == _body_dump(library_conv["_conv_forward"])   # released: was a stub
    with pytest.raises(ValueError, match="not of an assignment before"):
        make_kit("conv", str(tmp_path / "again"), carry=[str(student)])


def test_merge_takes_only_the_named_functions():
    donor = SOURCE.replace("return x + 1", "return x + 100").replace("return 2 * x", "return 3 * x")
    merged, skipped = merge.merge_functions(SOURCE, donor, ["helper"])
    assert "return 3 * x" in merged and "return x + 1" in merged and not skipped
    _, skipped = merge.merge_functions(SOURCE, "def helper(:\n", ["helper"])
    assert "does not parse" in skipped["helper"]


def test_set_constants_replaces_module_level_assignments():
    source = 'import os\n\nON_BY_DEFAULT = os.environ.get("X", "1") != "0"\nLIMIT: int = (\n    4096)\n'
    out = generator.set_constants(source, {"ON_BY_DEFAULT": False, "LIMIT": 8})
    assert "ON_BY_DEFAULT = False" in out and "LIMIT = 8" in out and "4096" not in out and "import os" in out
    with pytest.raises(KeyError, match="NOPE"):
        generator.set_constants(source, {"NOPE": 1})


# ------------------------------------------------------------------ the leak measure
#: a kit leaks a graded function when a run of LEAK_RUN tokens of its reference body (comments and layout
#: dropped, names kept, the argument checks its contract prescribes left out) appears in text the kit ships
LEAK_RUN = 12
TOKEN = re.compile(r"\w+|[^\w\s]")


def _prescribed_check(statement):
    """An argument check the contract prescribes: ``if ...: raise ValueError/TypeError(...)`` or a call of
    the checking helpers (``_checks``, the models' ``_common``); or the registration of a buffer, whose
    name and value the contract states (``self.register_buffer("output_bias", ...)``)."""
    if isinstance(statement, ast.If) and not statement.orelse and len(statement.body) == 1 \
            and isinstance(statement.body[0], ast.Raise):
        exc = statement.body[0].exc
        name = exc.func if isinstance(exc, ast.Call) else exc
        return isinstance(name, ast.Name) and name.id in ("ValueError", "TypeError")
    call = statement.value if isinstance(statement, (ast.Expr, ast.Assign)) else None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
            and isinstance(call.func.value, ast.Name)):
        return False
    owner, method = call.func.value.id, call.func.attr
    return owner in ("_checks", "_common") or isinstance(statement, ast.Expr) and (owner, method) == \
        ("self", "register_buffer")


def _names_only(target):
    return isinstance(target, ast.Name) or isinstance(target, ast.Tuple) and all(map(_names_only, target.elts))


def _argument_unpacking(statement, params):
    """Names given to the arguments' parts, which the contract states: ``(kh, kw), (sh, sw), ... = geo``,
    ``n, c = x.shape[:2]``, ``xp = get_array_module(x)`` (a target of plain names, a value that is an
    argument, its shape or a slice of it, or its array module)."""
    if not (isinstance(statement, ast.Assign) and all(map(_names_only, statement.targets))):
        return False
    value = statement.value
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "get_array_module":
        value = value.args[0] if len(value.args) == 1 and not value.keywords else None
    if isinstance(value, ast.Subscript):
        value = value.value
    if isinstance(value, ast.Attribute) and value.attr == "shape":
        value = value.value
    return isinstance(value, ast.Name) and value.id in params


def body_tokens(source, node):
    """The tokens of a function's body: no docstring, comments or layout, no prescribed argument check, no
    unpacking of the arguments."""
    lines = source.splitlines(keepends=True)
    body = node.body[1:] if merge.has_docstring(node) else node.body
    params = {a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs}
    text = textwrap.dedent("".join("".join(lines[s.lineno - 1:s.end_lineno]) for s in body
                                   if not (_prescribed_check(s) or _argument_unpacking(s, params))))
    skip = (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER)
    words = [t.string for t in tokenize.generate_tokens(io.StringIO(text).readline) if t.type not in skip]
    return TOKEN.findall(" ".join(words))


def _runs(tokens):
    return {tuple(tokens[i:i + LEAK_RUN]) for i in range(len(tokens) - LEAK_RUN + 1)}


def graded_runs(spec):
    """{run of LEAK_RUN tokens: "file: function"} of the reference bodies of the functions ``spec`` grades."""
    runs = {}
    for rel, names in spec.stubs.items():
        source = (LIBRARY / rel).read_text()
        functions = merge.functions(ast.parse(source))
        for name in names:
            runs.update(dict.fromkeys(_runs(body_tokens(source, functions[name])), f"{rel}: {name}"))
    return runs


def leaks(texts, runs):
    """{(where, "file: function")} for each text that holds a run of a graded function's body."""
    return {(where, runs[r]) for where, text in texts for r in _runs(TOKEN.findall(text)) if r in runs}


def test_the_leak_measure_finds_the_conv_handout_that_printed_its_code():
    """The conv handout as it was (its `_conv_forward` printed, `G = g.transpose(...)`, im2col's slice) leaks by
    the measure; the handout that gives the column matrix and the three products as definitions does not;
    a body's comments, layout, prescribed argument checks, the unpacking of its arguments and a buffer's
    registration do not count (the unpacking of anything else does)."""
    spec = ASSIGNMENTS["conv"]
    runs = graded_runs(spec)
    before = (GOLDEN / "conv_handout_with_code.md").read_text()
    assert {f for _, f in leaks([("before", before)], runs)} >= {"ops/conv.py: _conv_forward",
                                                                 "ops/conv.py: _conv_weight_grad"}
    assert leaks([("handout", spec.handout)], runs) == set()
    source = 'def f(self, x, geo):\n    """Doc."""\n    if x is None:\n        raise ValueError("x")\n' \
             '    (kh, kw), (sh, sw) = geo\n    n, c = x.shape[:2]\n    xp = get_array_module(x)\n' \
             '    _common.images("f", x, 3)\n    self.register_buffer("b", x)\n' \
             '    h, w = y.shape\n    # a comment\n    return   (x  + 1)\n'
    assert body_tokens(source, merge.functions(ast.parse(source))["f"]) == \
        ["h", ",", "w", "=", "y", ".", "shape", "return", "(", "x", "+", "1", ")"]


def shipped_texts(kit):
    """What a student of the kit reads, as (where, text): every file but the stubbed package's own code,
    and of the cases only the first tier of each hint."""
    texts = [(where, text) for where, text in kit_texts(kit)]
    cases = json.loads((kit / "grader" / "cases.json").read_text())
    texts += [(f"grader/cases.json: {c['id']}", c["hints"][0]) for c in cases if c.get("hints")]
    return texts


@pytest.mark.parametrize("name", sorted(ASSIGNMENTS))
def test_no_kit_ships_a_graded_functions_code(name, kits):
    """No text a kit ships (handout, notebook, README, answers, grader, the package, tier-1 hints) holds a
    run of 12 tokens of a function the kit grades (see docs/assignments.md, "the leak measure")."""
    found = leaks(shipped_texts(kits(name)), graded_runs(ASSIGNMENTS[name]))
    assert not found, sorted(found)
