"""Course kits: the generator stubs on the syntax tree, and each kit's grader tells right from wrong.

For every assignment a kit is made and graded in a subprocess (PYTHONPATH = the kit, so the kit's own
minidense is imported): the untouched stubs score 0, the library's code put back scores full marks,
and each planted mistake loses points in its own part while unrelated parts keep theirs.
"""
import ast
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from minidense import cli
from minidense.assignments import ASSIGNMENTS, generator, make_kit

LIBRARY = Path(generator.PACKAGE_DIR)

# every position equal to its window's maximum gets the gradient (kernel == stride)
TIED_MAXIMA_BACKWARD = """        xp = get_array_module(grad)
        kh, kw = self.shape[2] // grad.shape[2], self.shape[3] // grad.shape[3]
        maxima = _gather(self.x, self.flat).repeat(kh, axis=2).repeat(kw, axis=3)
        return xp.where(self.x == maxima, grad.repeat(kh, axis=2).repeat(kw, axis=3), 0)
"""

# what the student got wrong: (file, exact original text, the mistaken text) edits, parts that must lose points
MISTAKES = {
    "conv": [
        ("missing transpose of the upstream gradient in the weight gradient",
         [("ops/conv.py", "    return (g_mat @ columns.im2col(x, geo).T)",
           "    g_mat = g.reshape(c_out, -1)\n    return (g_mat @ columns.im2col(x, geo).T)")],
         {"conv_backward"}),
        ("off-by-one stride in col2im",
         [("ops/im2col.py", "left:left + sw * (wo - 1) + 1:sw] += cols[:, i, j]",
           "left:left + (sw + 1) * (wo - 1) + 1:sw + 1] += cols[:, i, j]")],
         {"col2im", "conv_backward"}),
    ],
    "pool": [
        ("gradient sent to every tied maximum",
         [("ops/pool.py", "        return _gather(x, self.flat)\n",
           "        self.x = x\n        return _gather(x, self.flat)\n"),
          ("ops/pool.py", "        return _scatter(grad, self.flat, self.shape, accumulate=self.overlapping)\n",
           TIED_MAXIMA_BACKWARD)],
         {"maxpool_backward"}),
        ("off-by-one stride in the switches",
         [("ops/pool.py", "corner = (xp.arange(ho).reshape(ho, 1) * sh - ph) * w",
           "corner = (xp.arange(ho).reshape(ho, 1) * (sh + 1) - ph) * w")],
          {"switches", "maxpool_backward"}),
    ],
    "segmentation": [
        ("ignored pixels counted in the mean's denominator",
         [("ops/loss.py", "        self.count = float(self.w.sum())\n",
           "        self.count = float(self.w.sum() + (~valid).sum())\n")],
         {"unknown_label"}),
        ("log-softmax without subtracting the maximum",
         [("ops/loss.py", "        shifted = x - x.max(axis=axis, keepdims=True)\n", "        shifted = x\n")],
         {"log_softmax"}),
    ],
}


def grade(kit, *args):
    """Run the kit's grader as a student would; returns results.json."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "HYPOTHESIS"))}
    env.update(PYTHONPATH=str(kit), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "--tb=no", "-p", "no:cacheprovider", "grader",
                           *args], cwd=kit, env=env, capture_output=True, text=True, timeout=300)
    results = kit / "results.json"
    assert results.exists(), f"no results.json; grader output:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    out = json.loads(results.read_text())
    assert f"{out['total']:6.2f} / {out['max']:3d}" in proc.stdout   # the score table was printed
    return out


def put_back_reference(kit, spec):
    for rel in spec.all_stubs():
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
    shutil.copytree(kit, dest, ignore=shutil.ignore_patterns("__pycache__", "results.json"))
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
                f"grader/test_{name}.py", "grader/parts.json", "grader/reference.npz", "minidense/__init__.py"):
        assert (kit / rel).is_file(), rel
    assert not (kit / "minidense" / "assignments").exists()
    # every stubbed function is a docstring and a raise, nothing else
    for rel, names in spec.all_stubs().items():
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


def test_an_untouched_conv_kit_computes_no_convolution_by_another_road(kits):
    """The kit ships without the fast paths: its convolution is the student's kernels or nothing."""
    kit = kits("conv")
    assert "ON_BY_DEFAULT = False" in (kit / "minidense" / "ops" / "fastpaths.py").read_text()
    assert "def blocks" not in (kit / "minidense" / "ops" / "conv_fast.py").read_text()
    env = {**os.environ, "PYTHONPATH": str(kit)}
    env.pop("MINIDENSE_FAST", None)
    proc = subprocess.run([sys.executable, "-c", KIT_CONVOLUTIONS], cwd=kit, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 4, proc.stdout
    assert lines[0].startswith("stub: ops/im2col.py: im2col: your code here") or \
        lines[0].startswith("stub: ops/conv.py: _conv_forward: your code here"), lines[0]
    assert lines[0] == lines[2]
    assert all("not part of this kit" in line for line in lines[1::2])


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


@pytest.mark.parametrize("name,i", [(n, i) for n in sorted(MISTAKES) for i in range(len(MISTAKES[n]))])
def test_planted_mistake_loses_points_in_its_part(name, i, kits, tmp_path):
    what, edits, loses = MISTAKES[name][i]
    kit = copy_kit(kits(name), tmp_path, "mistake")
    spec = ASSIGNMENTS[name]
    put_back_reference(kit, spec)
    for rel, old, new in edits:
        path = kit / "minidense" / rel
        source = path.read_text()
        assert source.count(old) == 1, f"the mistake '{what}' no longer applies to the library's {rel}"
        path.write_text(source.replace(old, new))
    results = grade(kit, *(["-m", "not training"] if name == "segmentation" else []))
    got = scores(results)
    full = {p.name: p.points for p in spec.parts}
    for part in loses:
        assert got[part] < full[part], f"{what}: part {part} kept all its points"
    for part in set(got) - loses:
        assert got[part] == full[part], f"{what}: unrelated part {part} lost points"
