"""The annotations hold for a user: mypy, run on small scripts, sees what Tensor methods, operators and
``F.*`` return, and reports a type error in a script that has one (so a clean ``make lint`` means something)."""
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

REVEALS = """\
import minidense as md
import minidense.functional as F

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
"""
EXPECTED = ["Tensor"] * 11 + ["tuple[Tensor, Tensor]", "Tensor", "Any", "tuple[int, ...]", "ndarray[Any, Any] | None"]

MISTAKES = """\
import minidense as md
import minidense.functional as F

t = md.randn(2, 3)
n: int = t.sum()
t.sum(axis="rows")
F.conv2d(t, t, padding="same-ish")
t.no_such_method()
t + "one"
"""


def _mypy(*files):
    """mypy with the project's configuration on ``files``: (exit status, output)."""
    proc = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "setup.cfg"), "--no-error-summary",
                           "--hide-error-context", *map(str, files)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def mypy_output(tmp_path_factory):
    pytest.importorskip("mypy")
    tmp = tmp_path_factory.mktemp("types")
    (tmp / "reveals.py").write_text(REVEALS)
    (tmp / "mistakes.py").write_text(MISTAKES)
    return _mypy(tmp / "reveals.py", tmp / "mistakes.py")


def test_mypy_sees_tensor_methods_operators_and_functional_results(mypy_output):
    _, out = mypy_output
    assert not [line for line in out.splitlines() if "reveals.py" in line and "error" in line], out
    revealed = re.findall(r'reveals\.py:(\d+): note: Revealed type is "(.*)"', out)
    assert [line for line, _ in revealed] == [str(n) for n in range(6, 6 + len(EXPECTED))], out
    shortened = [re.sub(r"\b(minidense\.tensor\.|numpy\.)", "", t) for _, t in revealed]
    assert shortened == EXPECTED


def test_mypy_reports_each_type_error_in_a_user_script(mypy_output):
    status, out = mypy_output
    assert status == 1, out
    flagged = sorted({int(n) for n in re.findall(r"mistakes\.py:(\d+): error", out)})
    assert flagged == [5, 6, 7, 8, 9], out
