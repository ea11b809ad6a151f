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
jupytext, and (where the ``lab`` extra is installed) a JupyterLab server
that serves a .py file as a notebook and writes an edit back to it.
"""
import ast
import configparser
import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import jupytext
import nbclient
import nbformat
import pytest
from paths import ROOT

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
    assert any(r.startswith("jupyterlab") for r in extras["lab"])
    assert any(r.startswith("jupytext") for r in extras["lab"])
    assert not any(r.startswith("jupyterlab") for r in extras["dev"] + extras["data"] + extras["docs"]
                   + extras["notebooks"])
    make = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "pip install -q -e '.[dev,data,docs]'" in make and "'.[dev,data,lab]'" in make


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
    pytest.importorskip("jupyterlab", reason="JupyterLab is the `lab` extra: `make lab` or `make lab-check`")
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


# ---- the notebooks outside the repository: the committed .ipynb, the install cell, nothing read from outside

sys.path.insert(0, str(NOTEBOOK_DIR))
import make_notebooks  # noqa: E402  (notebooks/make_notebooks.py: the install cell and the three forms)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_committed_ipynb_has_the_py_files_cells_and_no_outputs(path):
    """notebooks/NN_x.ipynb (what a code host shows and Colab opens by URL) holds the .py file's cells, unexecuted."""
    ipynb = path.with_suffix(".ipynb")
    assert ipynb.is_file(), f"{ipynb.name} is missing: run make notebooks and commit it"
    committed = nbformat.read(ipynb, as_version=4)
    nbformat.validate(committed)
    expected = jupytext.read(path)
    stale = "is out of date with its .py file: run make notebooks"
    assert [c.cell_type for c in committed.cells] == [c.cell_type for c in expected.cells], f"{ipynb.name} {stale}"
    for got, want in zip(committed.cells, expected.cells):
        assert got.source == want.source, f"{ipynb.name} {stale}: cell {want.source[:60]!r}"
    code = [c for c in committed.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), f"{ipynb.name} carries outputs"
    assert committed.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_notebook_starts_with_the_install_cell(path):
    """The first code cell is the install cell with the course's MINIDENSE_SOURCE (written by make notebooks)."""
    first = next(c for c in jupytext.read(path).cells if c.cell_type == "code")
    assert first.source == make_notebooks.install_cell().removeprefix("# %%\n").rstrip("\n"), \
        f"{path.name}: the install cell is missing or stale; run make notebooks"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebooks_read_nothing_outside_themselves(path):
    """No link or picture by relative path (a notebook opened alone, as in Colab, has no ../docs), no file opened."""
    text = path.read_text(encoding="utf-8")
    markdown = "\n".join(c.source for c in jupytext.read(path).cells if c.cell_type == "markdown")
    targets = re.findall(r"\]\(([^)\s]+)", markdown)
    relative = [t for t in targets if not re.match(r"(https?:|data:|#)", t)]
    assert not relative, f"{path.name} links files by relative path: {relative}"
    assert "../" not in text and "docs/images" not in text, f"{path.name} refers to a file outside itself"


def _run_install_cell(monkeypatch, workdir, installed, source=""):
    """Run the install cell in `workdir` with minidense importable or not; the pip commands it would run."""
    calls = []
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: (real_find_spec(name, *a) if installed or name != "minidense" else None))
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append(cmd))
    monkeypatch.chdir(workdir)
    code = make_notebooks.INSTALL_CELL.format(source=json.dumps(source))
    exec(compile(code, "install cell", "exec"), {})
    return calls


def test_install_cell_does_nothing_where_minidense_is_installed(monkeypatch, tmp_path):
    (tmp_path / "minidense-0.1.0-py3-none-any.whl").write_bytes(b"")
    assert _run_install_cell(monkeypatch, tmp_path, installed=True, source="https://example.org/m.whl") == []


def test_install_cell_installs_from_the_course_source_or_an_uploaded_wheel(monkeypatch, tmp_path):
    """Where minidense is missing: MINIDENSE_SOURCE first, else the newest minidense-*.whl beside the notebook,
    each with the `notebooks` extra; with neither, one error that says what to do."""
    url = "https://course.example.org/minidense-0.1.0-py3-none-any.whl"
    (call,) = _run_install_cell(monkeypatch, tmp_path, installed=False, source=url)
    assert call[1:] == ["-m", "pip", "install", "-q", f"minidense[notebooks] @ {url}"]
    with pytest.raises(ModuleNotFoundError, match="upload the course's minidense-.*whl"):
        _run_install_cell(monkeypatch, tmp_path, installed=False)
    for version in ("0.1.0", "0.2.0"):
        (tmp_path / f"minidense-{version}-py3-none-any.whl").write_bytes(b"")
    (call,) = _run_install_cell(monkeypatch, tmp_path, installed=False)
    assert call[-1] == f"minidense[notebooks] @ {(tmp_path / 'minidense-0.2.0-py3-none-any.whl').as_uri()}"


def test_notebooks_extra_installs_what_the_notebooks_import():
    """Every third-party module a notebook imports is a runtime dependency, IPython (Jupyter's own) or in the
    `notebooks` extra that the install cell asks for (hypothesis, for notebook 02)."""
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg", encoding="utf-8")
    declared = {re.split(r"[<>=\[ ]", r)[0].lower() for r in cfg["options"]["install_requires"].split()
                + cfg["options.extras_require"]["notebooks"].split()}
    imported = set()
    for path in NOTEBOOKS:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            imported |= {n.split(".")[0] for n in names}
    # CuPy (notebook 12) is the `gpu` extra, imported there only where it is installed
    third_party = imported - set(sys.stdlib_module_names) - {"minidense", "IPython", "cupy"}
    assert "hypothesis" in third_party
    assert third_party <= declared, f"imported by a notebook, in no extra it names: {third_party - declared}"
