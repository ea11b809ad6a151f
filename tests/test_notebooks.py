"""Every notebook runs top to bottom, headless; a failing cell fails its test.

The notebooks are kept as jupytext "percent" .py files; each is converted to a
notebook in memory and executed by nbclient in a fresh ``python3`` kernel, with
``MPLBACKEND=Agg``, in a temporary working directory.

``make test`` runs them at the small size (``MINIDENSE_NB_SIZE=small``: few
training steps, 16x16 or 32x32 images). The ``slow`` copy runs each at its
default size, as a reader who opens it gets it (``MINIDENSE_NB_SIZE`` unset):
``make notebooks-full`` runs only those, one at a time, and lists each
notebook's time (pytest's ``--durations=0``); ``make test-slow`` includes them.

The ``lab`` tests check what ``make lab`` sets up, without a browser: the
settings override that opens .py files as notebooks, the round trip through
jupytext, and (where the ``notebooks`` extra is installed) a JupyterLab server
that serves a .py file as a notebook and writes an edit back to it.
"""
import configparser
import json
import os
import pathlib
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
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


# ---- `make lab`: JupyterLab with jupytext opens the .py notebooks as notebooks and saves edits back to them

LAB_OVERRIDES = NOTEBOOK_DIR / "jupyterlab_overrides.json"


def test_lab_settings_make_python_files_open_as_jupytext_notebooks():
    settings = json.loads(LAB_OVERRIDES.read_text(encoding="utf-8"))
    viewers = settings["@jupyterlab/docmanager-extension:plugin"]["defaultViewers"]
    assert viewers == {"python": "Jupytext Notebook"}


def test_lab_extra_is_its_own_and_not_in_make_test_setup():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg", encoding="utf-8")
    extras = {name: value.split() for name, value in cfg["options.extras_require"].items()}
    assert any(r.startswith("jupyterlab") for r in extras["notebooks"])
    assert any(r.startswith("jupytext") for r in extras["notebooks"])
    assert not any(r.startswith("jupyterlab") for r in extras["dev"] + extras["data"])
    make = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "pip install -q -e '.[dev,data]'" in make and "'.[dev,data,notebooks]'" in make


def without_version_lines(text):
    """The text less the two header lines in which jupytext records the versions that saved it."""
    return "".join(line for line in text.splitlines(keepends=True)
                   if not re.match(r"#\s+(format_version|jupytext_version):", line))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_lab_saving_a_notebook_gives_back_its_py_file(path):
    """What jupytext writes when a .py notebook opened in JupyterLab is saved unchanged: the same file, but for
    the format and jupytext versions it adds to the header."""
    text = path.read_text(encoding="utf-8")
    saved = jupytext.writes(jupytext.reads(text, fmt="py:percent"), fmt="py:percent")
    assert without_version_lines(saved) == text


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_lab_serves_py_files_as_notebooks_and_writes_edits_back(tmp_path):
    """A real JupyterLab server (no browser) on a copy of a notebook, with this repository's settings override."""
    pytest.importorskip("jupyterlab", reason="JupyterLab is the `notebooks` extra: `make lab` or `make lab-check`")
    root, settings = tmp_path / "root", tmp_path / "app-settings"
    root.mkdir()
    settings.mkdir()
    shutil.copy(NOTEBOOKS[0], root)
    shutil.copy(LAB_OVERRIDES, settings / "overrides.json")
    port, token = _free_port(), "test-token"
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / "config"), JUPYTER_RUNTIME_DIR=str(tmp_path / "run"))
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         f"--LabApp.app_settings_dir={settings}", f"--LabApp.user_settings_dir={tmp_path / 'user'}",
         f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def call(url, method="GET", body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}{url}", data=data, method=method,
                                         headers={"Authorization": f"token {token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    try:
        for _ in range(240):
            try:
                call("/api/status")
                break
            except OSError:
                assert server.poll() is None, f"jupyter lab exited:\n{server.communicate()[0][-3000:]}"
                time.sleep(0.5)
        else:
            pytest.fail("jupyter lab did not answer within 120 s")
        plugin = call("/lab/api/settings/@jupyterlab/docmanager-extension:plugin")
        assert plugin["schema"]["properties"]["defaultViewers"]["default"]["python"] == "Jupytext Notebook"

        name = NOTEBOOKS[0].name
        model = call(f"/api/contents/{name}?type=notebook")
        assert model["type"] == "notebook"
        cells = model["content"]["cells"]
        assert [c["cell_type"] for c in cells] == [c.cell_type for c in jupytext.read(NOTEBOOKS[0]).cells]
        first_markdown = next(c for c in cells if c["cell_type"] == "markdown")
        first_line = first_markdown["source"].splitlines()[0]
        edited = first_line + " (edited in JupyterLab)"
        first_markdown["source"] = first_markdown["source"].replace(first_line, edited, 1)
        call(f"/api/contents/{name}", "PUT", {"type": "notebook", "format": "json", "content": model["content"]})
        saved = without_version_lines((root / name).read_text(encoding="utf-8"))
        original = NOTEBOOKS[0].read_text(encoding="utf-8")
        assert saved == original.replace(f"# {first_line}\n", f"# {edited}\n", 1)
        assert saved != original
    finally:
        server.terminate()
        try:
            server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
