"""The kit generator: copy the package, stub functions, add handout, notebook, public cases and grader.

Stubbing works on the syntax tree, so the library's source carries no solution markers:

    stub_source(source, {"Conv2d.forward": "your code here (see HANDOUT.md)", "_im2col": ...})

finds each named function (``name`` at module level, ``Class.method`` inside a class) with ``ast``,
keeps its signature and docstring, and replaces the lines of its body (comments included) with

    raise NotImplementedError("ops/conv.py: Conv2d.forward: your code here (see HANDOUT.md)")

Every other line of the file is copied unchanged, so the student reads the library as it is.
A kit stubs its own assignment's functions and every later assignment's (``kit_stubs``); earlier
assignments' functions are released reference code, or the student's own (``carry``).
"""
import ast
import json
import os
import shutil
import warnings

import numpy as np

from .._extras import require
from . import merge, notebook
from .cases import make_cases, public_rng
from .course import COURSE
from .specs import KIT_CONSTANTS, KIT_REPLACED_FILES, LEFT_OUT_OF_KITS, REVEALED_LATER, YOUR_CODE, merge_tables

PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GRADING_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "grading")

#: the grader files a kit ships: its test runner and scoring (pytest), the harness and the comparison
KIT_GRADER_FILES = {"kit_conftest.py": "conftest.py", "run.py": "run.py", "kit_test_public.py": "test_public.py",
                    "harness.py": "harness.py", "compare.py": "compare.py", "kit_hint_tiers.py": "hint_tiers.py"}
#: and in the kits with a training part, the verdicts on training runs (in other kits their metrics would be
#: the answers of the assignment that asks for them)
TRAINING_GRADER_FILES = {"training_checks.py": "training_checks.py"}

_functions = merge.functions
_has_docstring = merge.has_docstring


def stub_source(source, qualnames, where="<source>"):
    """``source`` with the bodies of ``qualnames`` replaced by ``raise NotImplementedError(...)``.

    qualnames: a list (each gets "your code here") or {qualified name: message}. Signatures and
    docstrings stay; the body's statements and comments go. Raises KeyError naming any qualified name
    that is not in the source (a spec out of date with the library).
    """
    messages = qualnames if isinstance(qualnames, dict) else dict.fromkeys(qualnames, YOUR_CODE)
    lines = source.splitlines(keepends=True)
    functions = _functions(ast.parse(source))
    missing = [q for q in messages if q not in functions]
    if missing:
        raise KeyError(f"stub_source: {where} has no function {', '.join(missing)} "
                       f"(has: {', '.join(sorted(functions))})")
    edits = []
    for qualname, why in messages.items():
        node = functions[qualname]
        first = node.body[0]
        if first.lineno == node.lineno:
            raise ValueError(f"stub_source: {where}: {qualname} is written on one line; cannot stub it")
        indent = " " * first.col_offset
        if _has_docstring(node):
            start = first.end_lineno + 1                       # the line after the docstring
        else:
            start = first.lineno                               # 1-based; walk back over comment lines
            while start - 1 > node.lineno and lines[start - 2].strip().startswith("#"):
                start -= 1
        message = f"{where}: {qualname}: {why}"
        edits.append((start, node.end_lineno, f"{indent}raise NotImplementedError({message!r})\n"))
    for start, end, text in sorted(edits, reverse=True):   # bottom up, so earlier line numbers stay valid
        lines[start - 1:max(end, start - 1)] = [text]        # a docstring-only body: insert after the docstring
    out = "".join(lines)
    ast.parse(out)                                           # the stubbed file must still be valid Python
    return out


def set_constants(source, values, where="<source>"):
    """``source`` with the module-level assignments ``NAME = ...`` of ``values`` ({NAME: value}) replaced
    by ``NAME = repr(value)``; KeyError naming a NAME that is not assigned at the top level."""
    lines = source.splitlines(keepends=True)
    found = {}
    for node in ast.parse(source).body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) \
            else []
        for t in targets:
            if isinstance(t, ast.Name) and t.id in values:
                found[t.id] = node
    missing = sorted(set(values) - set(found))
    if missing:
        raise KeyError(f"set_constants: {where} assigns no {', '.join(missing)} at its top level")
    for name, node in sorted(found.items(), key=lambda kv: -kv[1].lineno):
        lines[node.lineno - 1:node.end_lineno] = [f"{name} = {values[name]!r}   # set for the course kits\n"]
    out = "".join(lines)
    ast.parse(out)
    return out


def course_index(spec):
    return [a.name for a in COURSE].index(spec.name)


def later_stubs(spec):
    """{file: [qualified names]} that the assignments after ``spec`` stub or reveal."""
    return merge_tables(*(a.all_stubs() for a in COURSE[course_index(spec) + 1:]))


def kit_stubs(spec):
    """{file: {qualified name: message}}: the kit's own functions ("your code here"), then what would
    reveal them and every later assignment's functions ("revealed in a later assignment")."""
    table = {}
    for path, names in spec.stubs.items():
        table.setdefault(path, {}).update(dict.fromkeys(names, YOUR_CODE))
    for path, names in merge_tables(spec.reveal, later_stubs(spec)).items():
        own = table.setdefault(path, {})
        for name in names:
            own.setdefault(name, REVEALED_LATER)
    return table


def released(spec):
    """{file: [qualified names]}: earlier assignments' own functions that this kit ships as code."""
    stubbed = kit_stubs(spec)
    out = {}
    for earlier in COURSE[:course_index(spec)]:
        for path, names in earlier.stubs.items():
            keep = [n for n in names if n not in stubbed.get(path, {})]
            if keep:
                out.setdefault(path, []).extend(n for n in keep if n not in out.get(path, []))
    return out


def copy_package(dest):
    """Copy the minidense package to ``dest`` (a folder named minidense), without the kit generator."""
    left_out = {os.path.normpath(os.path.join(PACKAGE_DIR, p)) for p in LEFT_OUT_OF_KITS}

    def ignore(folder, names):
        return [n for n in names if n.endswith(".pyc") or n == "__pycache__"
                or os.path.normpath(os.path.join(folder, n)) in left_out]
    shutil.copytree(PACKAGE_DIR, dest, ignore=ignore)
    return dest


def stub_package(package_dir, stubs):
    """Apply ``stubs`` ({path relative to the package: [qualified names] or {name: message}}) in place."""
    for rel, qualnames in stubs.items():
        path = os.path.join(package_dir, rel)
        with open(path, encoding="utf-8") as f:
            source = f.read()
        with open(path, "w", encoding="utf-8") as f:
            f.write(stub_source(source, qualnames, where=rel))


README = """# {title}

A course kit of **minidense**, the from-scratch NumPy deep-learning framework for pixel labeling.
Read `HANDOUT.md` first: it says which functions to write and how they are graded.

## Set-up (a fresh machine)

```
python3 -m venv .venv          # Windows: py -m venv .venv
. .venv/bin/activate           # Windows: .venv\\Scripts\\activate
pip install "numpy>=1.22" "matplotlib>=3.5" "tqdm>=4.60" pytest jupyterlab
```

Do **not** `pip install minidense`: the kit's own copy in `minidense/` (with your code in it) is the one
that is graded, and an installed copy would hide it.

## Work

- `starter.ipynb`: step through your functions on small inputs; below each cell, **Expected** shows what the
  course's reference code printed and drew. Open it with one command from this folder (JupyterLab was
  installed above): `jupyter lab starter.ipynb`.
- `ANSWERS.md`: the written questions of the handout; answer them there (collected with your code).
- `minidense/`: the package; the functions to write raise `NotImplementedError`.

## Grade

From this folder, either of

```
python grader/run.py
PYTHONPATH=. python -m pytest grader
```

prints a score per part and in total on the **public** cases, and writes `results.json`. One part at a
time: `python grader/run.py -m {first_part}`. A failing case shows a hint; when the same part fails again
on a later run it shows the next one too (or at once: `python grader/run.py --hint 2`). It runs offline:
each case calls your code through `grader/harness.py` and compares with the course's reference outputs in
`grader/public.npz`. Your grade comes from hidden cases of the same kinds, generated when the course grades.
"""


def carry(package_dir, spec, kit_dirs):
    """Merge the student's own solutions from earlier kits into a new kit's package; returns warnings.

    From each earlier kit (its ``grader/parts.json`` names its assignment) the functions that
    assignment asked for and this kit releases are merged function by function; a function still a
    stub there keeps the released code, with a warning.
    """
    order = [a.name for a in COURSE]
    release = released(spec)
    notes = []
    for kit_dir in kit_dirs:
        try:
            with open(os.path.join(kit_dir, "grader", "parts.json"), encoding="utf-8") as f:
                name = json.load(f)["assignment"]
        except (OSError, ValueError, KeyError) as exc:
            raise ValueError(f"make --carry: {kit_dir!r} is not a course kit (no grader/parts.json: {exc})") from None
        if name not in order or order.index(name) >= course_index(spec):
            raise ValueError(f"make --carry: {kit_dir!r} is the kit of {name!r}, not of an assignment before "
                             f"{spec.name!r} (course order: {', '.join(order)})")
        theirs = COURSE[order.index(name)].stubs
        for rel, names in theirs.items():
            take = [n for n in names if n in release.get(rel, [])]
            if not take:
                continue
            donor_path = os.path.join(kit_dir, "minidense", rel)
            if not os.path.isfile(donor_path):
                notes.extend(f"{rel}: {q}: {donor_path} is missing; the released code is used" for q in take)
                continue
            path = os.path.join(package_dir, rel)
            with open(path, encoding="utf-8") as f, open(donor_path, encoding="utf-8") as g:
                merged, skipped = merge.merge_functions(f.read(), g.read(), take)
            with open(path, "w", encoding="utf-8") as f:
                f.write(merged)
            notes.extend(f"{rel}: {q}: {why} in {kit_dir}; the released code is used" for q, why in skipped.items())
    for note in notes:
        warnings.warn(f"make --carry: {note}", stacklevel=2)
    return notes


def build_package(spec, dest, carry_from=()):
    """The kit's ``minidense`` package at ``dest``: copied, carried, stubbed; returns carry warnings."""
    copy_package(dest)
    notes = carry(dest, spec, carry_from) if carry_from else []
    stub_package(dest, kit_stubs(spec))
    remove_fast_paths(dest)
    return notes


def remove_fast_paths(package_dir):
    """Switch the fast paths off in a copied package (specs.KIT_CONSTANTS) and put specs.KIT_REPLACED_FILES
    in place of their module."""
    for rel, values in KIT_CONSTANTS.items():
        path = os.path.join(package_dir, rel)
        with open(path, encoding="utf-8") as f:
            source = set_constants(f.read(), values, where=rel)
        with open(path, "w", encoding="utf-8") as f:
            f.write(source)
    for rel, text in KIT_REPLACED_FILES.items():
        if not os.path.isfile(os.path.join(package_dir, rel)):
            raise FileNotFoundError(f"remove_fast_paths: the package has no {rel} to replace")
        with open(os.path.join(package_dir, rel), "w", encoding="utf-8") as f:
            f.write(text)


def public_cases(spec):
    """(cases without arrays, {"i/in/name" or "i/out/name": array}): the kit's published cases, with the
    reference outputs computed here by the library's own code (the held-out labels for training)."""
    from .grading import compare, harness
    meta, arrays = [], {}

    def store(case, where):   # the case's arrays go under ``where``, named in the case
        expected = case.pop("expected") if "expected" in case else \
            harness.FUNCTIONS[case["fn"]](case["inputs"], case["params"])
        arrays.update({f"{where}/in/{k}": v for k, v in case.pop("inputs").items()})
        arrays.update({f"{where}/out/{k}": v for k, v in expected.items()})
        case["where"] = where
        if case.get("hints"):   # the later tiers are for after a failing run: not to be read by accident
            case["hints"] = case["hints"][:1] + [compare.veil(h) for h in case["hints"][1:]]
        for j, pre in enumerate(case.get("requires", ())):
            store(pre, f"{where}-requires{j}")
        return case

    for index, part in enumerate(spec.parts):
        for case in make_cases(spec, part.name, public_rng(index), public=True):
            meta.append(store(case, str(len(meta))))
    return meta, arrays


def make_kit(spec, out_dir, carry_from=()):
    """Write the kit of ``spec`` (an Assignment) into ``out_dir``; returns out_dir.

    All or nothing: a missing ``course`` extra (nbformat) is found before anything is written, and a kit that
    fails half-way (a starter cell that fails with the library's code, an interrupt) is removed again."""
    nbformat = require("nbformat", "course", "writing a kit (its starter notebook)")
    if os.path.exists(out_dir) and os.listdir(out_dir):
        raise FileExistsError(f"make_kit: {out_dir!r} exists and is not empty; choose a new folder")
    existed = os.path.isdir(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    try:
        _write_kit(spec, out_dir, carry_from, nbformat)
    except BaseException:
        for name in os.listdir(out_dir) if existed else ():
            path = os.path.join(out_dir, name)
            shutil.rmtree(path) if os.path.isdir(path) and not os.path.islink(path) else os.remove(path)
        if not existed:
            shutil.rmtree(out_dir)
        raise
    return out_dir


def _write_kit(spec, out_dir, carry_from, nbformat):
    """make_kit's work, into the empty folder ``out_dir``."""
    build_package(spec, os.path.join(out_dir, "minidense"), carry_from)

    grader = os.path.join(out_dir, "grader")
    os.makedirs(grader)
    for source, target in {**KIT_GRADER_FILES, **(TRAINING_GRADER_FILES if spec.training else {})}.items():
        shutil.copyfile(os.path.join(GRADING_DIR, source), os.path.join(grader, target))
    parts = [{"name": p.name, "points": p.points, "title": p.title} for p in spec.parts]
    with open(os.path.join(grader, "parts.json"), "w", encoding="utf-8") as f:
        json.dump({"assignment": spec.name, "title": spec.title, "parts": parts}, f, indent=1)
    meta, arrays = public_cases(spec)
    with open(os.path.join(grader, "cases.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=1)
    np.savez_compressed(os.path.join(grader, "public.npz"), **arrays)

    with open(os.path.join(out_dir, "pytest.ini"), "w", encoding="utf-8") as f:
        f.write("[pytest]\ntestpaths = grader\naddopts = -p no:cacheprovider\n")
    with open(os.path.join(out_dir, "HANDOUT.md"), "w", encoding="utf-8") as f:
        f.write(spec.handout_markdown())
    with open(os.path.join(out_dir, "README.md"), "w", encoding="utf-8") as f:
        f.write(README.format(title=spec.title, first_part=spec.parts[0].name))
    if spec.questions:
        with open(os.path.join(out_dir, "ANSWERS.md"), "w", encoding="utf-8") as f:
            f.write(notebook.answers_template(spec))
    nbformat.write(notebook.starter_notebook(spec, out_dir), os.path.join(out_dir, "starter.ipynb"))
