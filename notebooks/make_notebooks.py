"""The lecture notebooks' three forms: the .py files (edited), the .ipynb beside them (committed, no outputs), and
executed copies with their outputs and pictures (for the docs site, not committed). `make notebooks` runs all three:

    python notebooks/make_notebooks.py install-cell       # the install cell below, first in every .py notebook
    python notebooks/make_notebooks.py ipynb              # notebooks/NN_*.ipynb from the .py files, no outputs
    python notebooks/make_notebooks.py execute build/notebooks [NN_x ...]   # executed copies, at the default size

Where minidense is missing (Colab, a bare Jupyter) each notebook's install cell installs it from MINIDENSE_SOURCE,
the one place a course sets where its students get the package (a wheel's URL, or a pip requirement such as
``git+https://...``); left empty, the cell installs a ``minidense-*.whl`` uploaded beside the notebook, or says what
to do. After changing MINIDENSE_SOURCE run ``make notebooks`` and commit the notebooks.
"""
import json
import os
import pathlib
import re
import resource
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
NOTEBOOKS = sorted(HERE.glob("[0-9][0-9]_*.py"))

#: where the install cell gets minidense when it is missing: a wheel URL or any pip requirement (set by the course)
MINIDENSE_SOURCE = ""

INSTALL_MARK = "# Install cell:"
INSTALL_CELL = '''\
# %%
# Install cell: installs minidense (with its `notebooks` extra) where it is missing, as in Colab; does nothing
# where it is installed (this repository's `make lab`, `pip install 'minidense[notebooks]'`). The course sets
# MINIDENSE_SOURCE in notebooks/make_notebooks.py; without it, upload minidense-*.whl beside the notebook.
import glob
import importlib.util
import pathlib
import subprocess
import sys

MINIDENSE_SOURCE = {source}
if importlib.util.find_spec("minidense") is None:
    wheels = sorted(glob.glob("minidense-*.whl"))
    source = MINIDENSE_SOURCE or (pathlib.Path(wheels[-1]).resolve().as_uri() if wheels else None)
    if source is None:
        raise ModuleNotFoundError("minidense is not installed: upload the course's minidense-*.whl next to this "
                                  "notebook (Colab: the Files pane) and run this cell again, or pip install it")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"minidense[notebooks] @ {{source}}"],
                   check=True)
'''


def install_cell():
    """The install cell, as percent-format source, with the course's MINIDENSE_SOURCE."""
    return INSTALL_CELL.format(source=json.dumps(MINIDENSE_SOURCE))


def with_install_cell(text):
    """A .py notebook's text with its install cell (the first code cell) put in, or replaced by the current one."""
    cells = re.split(r"(?m)^(?=# %%)", text)
    first_code = next(i for i, c in enumerate(cells) if c.startswith("# %%") and not c.startswith("# %% [markdown]"))
    if INSTALL_MARK in cells[first_code]:
        cells.pop(first_code)
    cells.insert(first_code, install_cell() + "\n")
    return "".join(cells)


def write_install_cells():
    for path in NOTEBOOKS:
        text = path.read_text(encoding="utf-8")
        new = with_install_cell(text)
        if new != text:
            path.write_text(new, encoding="utf-8")
            print("install cell written:", path.name)


def write_ipynb():
    """notebooks/NN_*.ipynb from the .py files: the same cells, no outputs."""
    import jupytext
    for path in NOTEBOOKS:
        target = path.with_suffix(".ipynb")
        text = jupytext.writes(jupytext.read(path), fmt="ipynb")
        if not target.is_file() or target.read_text(encoding="utf-8") != text:   # unchanged: left as it is
            target.write_text(text, encoding="utf-8")
            print("wrote", target.relative_to(HERE.parent))


def _children_cpu():
    """CPU seconds of this process's finished children (each notebook's kernel, once it has exited)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def execute(out_dir, names=()):
    """Each notebook (or those `names`) run at its default size in a fresh kernel (pictures inline, as Jupyter shows
    them), written to out_dir with its outputs."""
    import nbclient
    import nbformat
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    os.environ.pop("MINIDENSE_NB_SIZE", None)
    os.environ.pop("MINIDENSE_NB_FIGURES", None)
    for path in [p for p in NOTEBOOKS if not names or p.stem in names]:
        nb = nbformat.read(path.with_suffix(".ipynb"), as_version=4)
        start, cpu = time.monotonic(), _children_cpu()
        with tempfile.TemporaryDirectory() as workdir:
            # no time limit on a cell: a slow machine is not a failure (CI's own limit stops a hang)
            nbclient.NotebookClient(nb, kernel_name="python3", timeout=None,
                                    resources={"metadata": {"path": workdir}}).execute()
        nbformat.write(nb, out / f"{path.stem}.ipynb")
        print(f"executed {path.stem}: {time.monotonic() - start:.0f} s (its kernel's CPU time "
              f"{_children_cpu() - cpu:.0f} s)", flush=True)


def main(argv):
    if argv[:1] == ["install-cell"]:
        write_install_cells()
    elif argv[:1] == ["ipynb"]:
        write_ipynb()
    elif argv[:1] == ["execute"] and len(argv) >= 2:
        execute(argv[1], [pathlib.Path(name).stem for name in argv[2:]])
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
