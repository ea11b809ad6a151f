"""The layering rules of docs/design.md, checked on the source."""
import ast
import pathlib
import re

import pytest

import minidense as md

ROOT = pathlib.Path(md.__file__).parent
SOURCES = sorted(p for p in ROOT.rglob("*.py"))


def _imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield ("." * node.level) + (node.module or "")


def test_only_backend_imports_cupy():
    offenders = [str(p.relative_to(ROOT)) for p in SOURCES if p.name != "backend.py"
                 and any(name.split(".")[0] in ("cupy", "cupyx") for name in _imports(p))]
    assert not offenders, f"these files import cupy directly (only backend.py may): {offenders}"


def test_ops_never_call_numpy_directly():
    """Ops take their array module from the backend, so NumPy and CuPy share one code path."""
    offenders = []
    for p in sorted((ROOT / "ops").glob("*.py")):
        src = p.read_text()
        if any(name.split(".")[0] == "numpy" for name in _imports(p)) or re.search(r"\bnp\.", src):
            offenders.append(p.name)
    assert not offenders, f"ops that use numpy instead of get_array_module: {offenders}"


def test_tensor_does_not_import_the_ops():
    assert not [n for n in _imports(ROOT / "tensor.py") if "ops" in n or "functional" in n]


@pytest.mark.gpu
def test_gpu_round_trip():
    x = md.randn(2, 3, device="cuda", requires_grad=True)
    (x * x).sum().backward()
    assert x.device == "cuda" and md.backend.device_of(x.grad) == "cuda"
    assert (x.cpu().numpy() == md.backend.to_numpy(x.data)).all()
