"""A kit's starter notebook in Colab: its first cell says how to get the kit there, and its set-up cell finds the
kit's folder (uploaded under /content, or in the mounted Drive) and imports the kit's own minidense from it, with
no path to edit by hand. Colab's /content is stood in for by a temporary folder."""
import json
import os
import shutil
import subprocess
import sys

import nbformat
import pytest

from minidense.assignments import make_kit


@pytest.fixture(scope="module")
def conv_kit(tmp_path_factory):
    return make_kit("conv", str(tmp_path_factory.mktemp("made") / "kit"))


def run_setup_cell(kit_dir, content, cwd):
    """Run the starter notebook's set-up cell (Colab's /content -> `content`) in a fresh Python started in `cwd`;
    the folder it ends in and the file minidense came from."""
    notebook = nbformat.read(os.path.join(kit_dir, "starter.ipynb"), as_version=4)
    setup = next(c.source for c in notebook.cells if c.cell_type == "code")
    assert "'/content'" in setup
    code = setup.replace("'/content'", repr(str(content))) + "\nprint(json.dumps([os.getcwd(), md.__file__]))"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env["MPLBACKEND"] = "Agg"
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    return proc, (json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else None)


def test_first_cell_says_how_to_run_in_colab(conv_kit):
    first = nbformat.read(os.path.join(conv_kit, "starter.ipynb"), as_version=4).cells[0]
    assert first.cell_type == "markdown"
    for needle in ("In Colab", "Mount Drive", "upload", "unzip", "/content/drive/MyDrive"):
        assert needle in first.source


@pytest.mark.parametrize("where", ["drive/MyDrive/eecs442/conv_kit", "conv_kit"])
def test_setup_cell_finds_the_kit_in_colab_and_imports_its_minidense(conv_kit, tmp_path, where):
    content = tmp_path / "content"
    other = content / "other_kit"          # another course's kit beside it is not taken for this one
    shutil.copytree(conv_kit, other)
    parts = json.loads((other / "grader" / "parts.json").read_text())
    (other / "grader" / "parts.json").write_text(json.dumps({**parts, "assignment": "pool"}))
    kit = content / where
    shutil.copytree(conv_kit, kit)
    proc, found = run_setup_cell(conv_kit, content, cwd=content)
    assert found, proc.stderr[-2000:]
    cwd, md_file = found
    assert os.path.realpath(cwd) == os.path.realpath(kit), proc.stderr
    assert os.path.realpath(md_file).startswith(os.path.realpath(kit / "minidense")), md_file


def test_setup_cell_says_what_to_do_when_the_kit_is_not_there(conv_kit, tmp_path):
    (tmp_path / "content").mkdir()
    proc, _ = run_setup_cell(conv_kit, tmp_path / "content", cwd=tmp_path / "content")
    assert proc.returncode != 0 and "kit's folder was not found" in proc.stderr
