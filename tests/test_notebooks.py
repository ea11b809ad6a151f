"""Every notebook runs top to bottom, headless; a failing cell fails its test.

The notebooks are kept as jupytext "percent" .py files; each is converted to a
notebook in memory and executed by nbclient in a fresh ``python3`` kernel, with
``MPLBACKEND=Agg``, in a temporary working directory.

``make test`` runs them at the small size (``MINIDENSE_NB_SIZE=small``: few
training steps, 16x16 or 32x32 images). The ``slow`` copy runs each at its
default size, as a reader who opens it gets it (``MINIDENSE_NB_SIZE`` unset):
``make notebooks-full`` runs only those, one at a time, and lists each
notebook's time (pytest's ``--durations=0``); ``make test-slow`` includes them.
"""
import pathlib

import pytest

jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK_DIR = pathlib.Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.py"))
IDS = [p.stem for p in NOTEBOOKS]
CELL_TIMEOUT = 300
FULL_SIZE_CELL_TIMEOUT = 1800


def test_notebooks_are_numbered_in_order():
    numbers = [int(p.name[:2]) for p in NOTEBOOKS]
    assert numbers == list(range(1, len(numbers) + 1)), f"notebooks are not numbered 01, 02, ...: {numbers}"
    assert len(NOTEBOOKS) >= 2


def run_notebook(path, workdir, cell_timeout):
    """Execute the notebook at `path` in a fresh kernel in `workdir`; the first failing cell fails the test."""
    nb = jupytext.read(path)
    assert any(c.cell_type == "markdown" for c in nb.cells), f"{path.name} has no markdown cells"
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=cell_timeout,
                                     resources={"metadata": {"path": str(workdir)}})
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as err:
        pytest.fail(f"{path.name}: a cell failed:\n{err}", pytrace=False)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code), f"{path.name}: not every code cell ran"


@pytest.fixture
def headless(monkeypatch):
    """The kernel inherits this environment: figures to Agg, none written to files."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.delenv("MINIDENSE_NB_FIGURES", raising=False)
    return monkeypatch


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_runs(path, tmp_path, headless):
    headless.setenv("MINIDENSE_NB_SIZE", "small")
    run_notebook(path, tmp_path, CELL_TIMEOUT)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_runs_at_full_size(path, tmp_path, headless):
    headless.delenv("MINIDENSE_NB_SIZE", raising=False)
    run_notebook(path, tmp_path, FULL_SIZE_CELL_TIMEOUT)
