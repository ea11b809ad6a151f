"""The annotations hold for a user: mypy, run on small scripts, sees what Tensor methods, operators and
``F.*`` return, and reports a type error in a script that has one (so a clean ``make lint`` means something)."""
import re
import subprocess
import sys

import pytest
from paths import ROOT

REVEALS = """\
import minidense as md
import minidense.functional as F
from minidense.train import fit

t = md.randn(2, 3, 8, 8, requires_grad=True)
w = md.randn(4, 3, 3, 3)
reveal_type(t.sum())
reveal_type(t.mean(dim=1, keepdims=True))
reveal_type(t.T)
reveal_type(t + 1)
reveal_type(2.0 * t)
reveal_type(t @ t)
reveal_type(t[0])
reveal_type(t.reshape(2, -1).relu())
reveal_type(t > 0)
reveal_type(F.conv2d(t, w, padding=1))
reveal_type(F.max_pool2d(t, 2))
reveal_type(F.max_pool2d(t, 2, return_indices=True))
reveal_type(F.cross_entropy(t, md.zeros(2, 8, 8, dtype="int64")))
reveal_type(t.item())
reveal_type(t.shape)
reveal_type(t.grad)
model = md.nn.Sequential(md.nn.Conv2d(3, 4, 3, padding=1), md.nn.ReLU())
reveal_type(model.eval())
reveal_type(model[0])
reveal_type(next(model.parameters()))
reveal_type(md.optim.Adam(model.parameters(), lr=1e-3).state_dict())
reveal_type(fit)
"""
EXPECTED = ["Tensor"] * 11 + ["tuple[Tensor, Tensor]", "Tensor", "Any", "tuple[int, ...]", "ndarray[Any, Any] | None",
            "nn.module.Sequential", "nn.module.Module", "nn.module.Parameter", "dict[str, Any]"]

MISTAKES = """\
import minidense as md
import minidense.functional as F
from minidense.train import fit

t = md.randn(2, 3)
n: int = t.sum()
t.sum(axis="rows")
F.conv2d(t, t, padding="same-ish")
t.no_such_method()
t + "one"
md.optim.SGD(md.nn.Linear(2, 2).parameters(), lr="fast")
fit(md.nn.Linear(2, 2), "segmentation", train_data=[1, 2, 3])
md.nnn.Linear(2, 2)
"""


def _mypy(*files):
    """mypy with the project's configuration (and make lint's cache) on ``files``: (exit status, output)."""
    proc = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "setup.cfg"), "--no-error-summary",
                           "--hide-error-context", *map(str, files)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def mypy_output(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("types")
    (tmp / "reveals.py").write_text(REVEALS)
    (tmp / "mistakes.py").write_text(MISTAKES)
    return _mypy(tmp / "reveals.py", tmp / "mistakes.py")


def test_mypy_sees_tensor_methods_operators_and_functional_results(mypy_output):
    """Each reveal_type of the script is what the code returns at run time (Tensor for the methods that are
    attached at run time, T and the operators included), with no error; fit's signature is typed throughout."""
    _, out = mypy_output
    assert not [line for line in out.splitlines() if "reveals.py" in line and "error" in line], out
    revealed = re.findall(r'reveals\.py:(\d+): note: Revealed type is "(.*)"', out)
    assert len(revealed) == REVEALS.count("reveal_type(") == len(EXPECTED) + 1, out
    shortened = [re.sub(r"\b(minidense\.tensor\.|numpy\.|minidense\.)", "", t) for _, t in revealed]
    assert shortened[:-1] == EXPECTED
    fit = shortened[-1]   # fit's whole signature: its arguments and result are typed, not Any
    assert fit.startswith("def (model: nn.module.Module, task: tasks.Task | str, train_data: data.loader.Dataset,") \
        and fit.endswith("-> list[dict[str, Any]]"), fit


def test_mypy_reports_each_type_error_in_a_user_script(mypy_output):
    """Every line of the mistakes script is reported (wrong argument types, a missing method, a misspelt
    sub-package), and mypy exits with 1."""
    status, out = mypy_output
    assert status == 1, out
    flagged = sorted({int(n) for n in re.findall(r"mistakes\.py:(\d+): error", out)})
    assert flagged == list(range(6, 14)), out


def test_the_type_checked_example_runs():
    """examples/typed_training.py, which make lint type-checks, also trains (a few steps) and reports its accuracy."""
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "typed_training.py"), "--steps", "3", "--size", "8"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    accuracy = float(re.search(r"held-out pixel accuracy: ([0-9.]+)", proc.stdout).group(1))
    assert 0.0 <= accuracy <= 1.0
