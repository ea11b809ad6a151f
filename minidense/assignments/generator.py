"""The kit generator: copy the package, stub the assignment's functions, add handout, notebook and grader.

Stubbing works on the syntax tree, so the library's source carries no solution markers:

    stub_source(source, ["Conv2d.forward", "_im2col"])

finds each named function (``name`` at module level, ``Class.method`` inside a class) with ``ast``,
keeps its signature and docstring, and replaces the lines of its body (comments included) with

    raise NotImplementedError("ops/conv.py: Conv2d.forward: your code here (see HANDOUT.md)")

Every other line of the file is copied unchanged, so the student reads the library as it is.
"""
import ast
import json
import os
import shutil

import numpy as np

PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GRADING_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "grading")

#: what the kit's copy of the package leaves out: the kit generator itself (its specs build reference
#: outputs with the library) and caches.
EXCLUDED = ("assignments", "__pycache__")

STUB_MESSAGE = "{where}: {qualname}: your code here (see HANDOUT.md)"


def _functions(tree):
    """{qualified name: FunctionDef} for module-level functions and methods of module-level classes."""
    found = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found[node.name] = node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    found[f"{node.name}.{item.name}"] = item
    return found


def _has_docstring(node):
    first = node.body[0]
    return isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str)


def stub_source(source, qualnames, where="<source>"):
    """``source`` with the bodies of ``qualnames`` replaced by ``raise NotImplementedError(...)``.

    Signatures and docstrings stay; the body's statements and comments go. Raises KeyError naming
    any qualified name that is not in the source (a spec out of date with the library).
    """
    lines = source.splitlines(keepends=True)
    functions = _functions(ast.parse(source))
    missing = [q for q in qualnames if q not in functions]
    if missing:
        raise KeyError(f"stub_source: {where} has no function {', '.join(missing)} "
                       f"(has: {', '.join(sorted(functions))})")
    edits = []
    for qualname in qualnames:
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
        message = STUB_MESSAGE.format(where=where, qualname=qualname)
        edits.append((start, node.end_lineno, f"{indent}raise NotImplementedError({message!r})\n"))
    for start, end, text in sorted(edits, reverse=True):   # bottom up, so earlier line numbers stay valid
        lines[start - 1:max(end, start - 1)] = [text]        # a docstring-only body: insert after the docstring
    out = "".join(lines)
    ast.parse(out)                                           # the stubbed file must still be valid Python
    return out


def copy_package(dest):
    """Copy the minidense package to ``dest`` (a folder named minidense), without the kit generator."""
    shutil.copytree(PACKAGE_DIR, dest, ignore=shutil.ignore_patterns(*EXCLUDED, "*.pyc"))
    return dest


#: what a kit has in place of ops/conv_fast.py: the fast paths would compute a convolution without the
#: student's kernels, so the kits ship without them and with the switch off (ops/fastpaths.py)
KIT_FAST_PATHS = '''"""The fast paths are not part of the course kits: the kit runs the reference kernels you write."""


class Kernels:
    def __init__(self, keep_columns=False):
        raise NotImplementedError("ops/conv_fast.py: the fast paths are not part of this kit; "
                                  "leave md.fast_paths off")
'''


def remove_fast_paths(package_dir):
    """Switch the fast paths off in a copied package and replace their module with KIT_FAST_PATHS."""
    switch = os.path.join(package_dir, "ops", "fastpaths.py")
    with open(switch, encoding="utf-8") as f:
        source = f.read()
    if "\nON_BY_DEFAULT = True\n" not in source:
        raise ValueError("remove_fast_paths: ops/fastpaths.py has no line 'ON_BY_DEFAULT = True' to switch off")
    with open(switch, "w", encoding="utf-8") as f:
        f.write(source.replace("\nON_BY_DEFAULT = True\n", "\nON_BY_DEFAULT = False\n"))
    with open(os.path.join(package_dir, "ops", "conv_fast.py"), "w", encoding="utf-8") as f:
        f.write(KIT_FAST_PATHS)


def stub_package(package_dir, stubs):
    """Apply ``stubs`` ({path relative to the package: [qualified names]}) to a copied package in place."""
    for rel, qualnames in stubs.items():
        path = os.path.join(package_dir, rel)
        with open(path, encoding="utf-8") as f:
            source = f.read()
        with open(path, "w", encoding="utf-8") as f:
            f.write(stub_source(source, qualnames, where=rel))


def _notebook(spec):
    import nbformat
    from nbformat import v4
    cells = [v4.new_markdown_cell(f"# {spec.title}\n\nThe full task is in `HANDOUT.md`. This notebook runs "
                                  "from the kit's folder and imports the kit's own (stubbed) `minidense`.")]
    cells.append(v4.new_code_cell(
        "import os, sys\n"
        "sys.path.insert(0, os.path.abspath('.'))   # the kit's minidense, not an installed one\n"
        "import numpy as np\n"
        "import minidense as md\n"
        "import minidense.functional as F\n"
        "print(md.__file__)"))
    for title, code in spec.starter_cells:
        cells.append(v4.new_markdown_cell(title))
        cells.append(v4.new_code_cell(code))
    cells.append(v4.new_markdown_cell("## Grade yourself\n\nThe same autograder the course uses: a score per "
                                      "part, written to `results.json`."))
    cells.append(v4.new_code_cell("import subprocess\n"
                                  "print(subprocess.run([sys.executable, 'grader/run.py'], capture_output=True, "
                                  "text=True).stdout[-3000:])"))
    nb = v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                               "language": "python"}})
    nbformat.validate(nb)
    return nb


README = """# {title}

A course kit of **minidense**, the from-scratch NumPy deep-learning framework for pixel labeling.
Read `HANDOUT.md` first: it says which functions to write and how they are graded.

## Set-up (a fresh machine)

```
python -m venv .venv
. .venv/bin/activate           # Windows: .venv\\Scripts\\activate
pip install "numpy>=1.22" "matplotlib>=3.5" "tqdm>=4.60" pytest nbformat notebook
```

Do **not** `pip install minidense`: the kit's own copy in `minidense/` (with your code in it) is the one
that is graded, and an installed copy would hide it.

## Work

- `starter.ipynb`: try your functions on small inputs (start Jupyter from this folder).
- `minidense/`: the package; the functions to write raise `NotImplementedError`.

## Grade

From this folder, either of

```
python grader/run.py
PYTHONPATH=. python -m pytest grader
```

prints a score per part and in total, and writes `results.json`. One part at a time:
`python grader/run.py -m {first_part}`. The grader runs offline: it checks your code by gradient
checks, properties and reference outputs stored in `grader/reference.npz`.
"""


def make_kit(spec, out_dir):
    """Write the kit of ``spec`` (an Assignment) into ``out_dir``; returns out_dir."""
    if os.path.exists(out_dir) and os.listdir(out_dir):
        raise FileExistsError(f"make_kit: {out_dir!r} exists and is not empty; choose a new folder")
    os.makedirs(out_dir, exist_ok=True)
    package = copy_package(os.path.join(out_dir, "minidense"))
    stub_package(package, spec.all_stubs())
    remove_fast_paths(package)

    grader = os.path.join(out_dir, "grader")
    os.makedirs(grader)
    shutil.copyfile(os.path.join(GRADING_DIR, "kit_conftest.py"), os.path.join(grader, "conftest.py"))
    shutil.copyfile(os.path.join(GRADING_DIR, "run.py"), os.path.join(grader, "run.py"))
    shutil.copyfile(os.path.join(GRADING_DIR, spec.grader), os.path.join(grader, f"test_{spec.name}.py"))
    parts = [{"name": p.name, "points": p.points, "title": p.title} for p in spec.parts]
    with open(os.path.join(grader, "parts.json"), "w", encoding="utf-8") as f:
        json.dump({"assignment": spec.name, "title": spec.title, "parts": parts}, f, indent=1)
    references = spec.references()   # computed here, by the library's reference code; the grader only reads them
    np.savez_compressed(os.path.join(grader, "reference.npz"), **references)

    with open(os.path.join(out_dir, "pytest.ini"), "w", encoding="utf-8") as f:
        f.write("[pytest]\ntestpaths = grader\naddopts = -p no:cacheprovider\n")
    with open(os.path.join(out_dir, "HANDOUT.md"), "w", encoding="utf-8") as f:
        f.write(spec.handout_markdown())
    with open(os.path.join(out_dir, "README.md"), "w", encoding="utf-8") as f:
        f.write(README.format(title=spec.title, first_part=spec.parts[0].name))
    import nbformat
    nbformat.write(_notebook(spec), os.path.join(out_dir, "starter.ipynb"))
    return out_dir
