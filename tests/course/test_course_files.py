"""The course as files: each assignment's folder holds its handout, its starter notebook (jupytext percent
format) and its spec; the files reach an installed wheel, and kits build from it."""
import ast
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from minidense.assignments import COURSE, specs
from minidense.assignments.course import unet

COURSE_DIR = Path(specs.__file__).parent / "course"
REPO = Path(specs.__file__).parents[2]


@pytest.mark.parametrize("name", [a.name for a in COURSE])
def test_each_assignment_is_a_folder_with_handout_starter_and_spec(name):
    folder = COURSE_DIR / name
    assert sorted(p.name for p in folder.iterdir() if p.name != "__pycache__") == \
        ["__init__.py", "handout.md", "spec.py", "starter.py"]
    spec = next(a for a in COURSE if a.name == name)
    assert spec.handout.strip()
    assert spec.starter.setup.startswith("import os\nimport sys\n") and "import minidense as md" in spec.starter.setup
    assert spec.starter.cells and all(c.title.startswith("## ") and c.code.strip() for c in spec.starter.cells)
    assert all(p.cases is not None for p in spec.parts)


STARTER = """# a header the notebook leaves out

# %%
import numpy as np

# %% [markdown]
# ## Step one
#
# Some text.

# %% expected=recorded
print(np.pi)
# Expected output, recorded with the course's reference code:
# 3.141592653589793
"""


def test_read_starter_reads_cells_and_refuses_another_layout(tmp_path):
    (tmp_path / "starter.py").write_text(STARTER)
    starter = specs.read_starter(str(tmp_path / "spec.py"))
    assert starter.setup == "import numpy as np\n"
    assert starter.cells == (specs.Cell("## Step one\n\nSome text.", "print(np.pi)\n", expected=False,
                                        recorded="3.141592653589793\n"),)
    (tmp_path / "starter.py").write_text(STARTER.replace("# %% [markdown]", "# %%"))
    with pytest.raises(ValueError, match="in pairs"):
        specs.read_starter(str(tmp_path / "spec.py"))
    (tmp_path / "starter.py").write_text(STARTER.replace("expected=recorded", "slow"))
    with pytest.raises(ValueError, match="unknown cell option"):
        specs.read_starter(str(tmp_path / "spec.py"))
    (tmp_path / "starter.py").write_text(STARTER.replace(specs.RECORDED, "# (nothing)"))
    with pytest.raises(ValueError, match="needs the line"):
        specs.read_starter(str(tmp_path / "spec.py"))


def test_the_unet_ablation_cell_runs_the_pinned_settings():
    """The starter's ablation cell writes the pinned run out (it is a file, not a template): it must agree."""
    (cell,) = [c for c in unet.SPEC.starter.cells if not c.expected]
    assigned = {t.id: node.value for node in ast.parse(cell.code).body if isinstance(node, ast.Assign)
                for t in node.targets if isinstance(t, ast.Name)}
    assert ast.literal_eval(assigned["T"]) == {k: unet.TRAINING[k] for k in unet._PINNED}
    assert ast.literal_eval(assigned["seed"]) == unet.TRAINING["seed"]
    assert f"SceneDataset({unet.TRAINING['n_val']}," in cell.code
    assert cell.code.count(f"width={unet.TRAINING['boundary_width']})") == 2


MAKE_KIT = """
import sys
import minidense
from minidense.assignments import make_kit
assert minidense.__file__.startswith(sys.argv[1]), minidense.__file__
make_kit("conv", sys.argv[2])
"""


def test_a_kit_builds_from_an_installed_wheel(tmp_path):
    """The wheel carries every handout.md and starter.py, and a kit made from the installed package has its
    handout and notebook (the wheel is installed into a folder of its own, its dependencies the venv's)."""
    source = tmp_path / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".*", "build", "dist", "*.egg-info", "__pycache__",
                                                                "runs", "bench", "notebooks", "tests", "examples"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "PYTHONPATH"))}
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(tmp_path / "dist"), str(source)], check=True, env=env, timeout=300)
    (wheel,) = (tmp_path / "dist").glob("minidense-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for a in COURSE:
        for f in ("handout.md", "starter.py", "spec.py"):
            assert f"minidense/assignments/course/{a.name}/{f}" in names
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                   check=True, env=env, timeout=300)
    kit = tmp_path / "kit"
    subprocess.run([sys.executable, "-c", MAKE_KIT, str(site), str(kit)], check=True, cwd=tmp_path,
                   env={**env, "PYTHONPATH": str(site), "OPENBLAS_NUM_THREADS": "1"}, timeout=300)
    assert "## The contracts" in (kit / "HANDOUT.md").read_text()
    assert "im2col on a tiny image" in (kit / "starter.ipynb").read_text()
