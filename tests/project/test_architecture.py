"""The layering rules of docs/design.md, checked on the source."""
import ast
import pathlib
import re

import pytest
from paths import TESTS

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


def _module_name(path):
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph():
    """minidense module -> the minidense modules it imports (lazy imports inside functions included)."""
    names = {_module_name(p): p for p in SOURCES}
    graph = {}
    for name, path in names.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = package.split(".")
                base = base[: len(base) - node.level + 1] if node.level else []
                target = ".".join(base + ([node.module] if node.module else [])) if node.level else node.module
                candidates = [f"{target}.{a.name}" for a in node.names] + [target]
            elif isinstance(node, ast.Import):
                candidates = [a.name for a in node.names]
            else:
                continue
            for c in candidates:
                while c and c not in names:
                    c = c.rsplit(".", 1)[0] if "." in c else ""
                if c and c != name:
                    deps.add(c)
        graph[name] = deps
    return graph


def test_the_import_graph_has_no_cycle():
    """One direction of dependency: no two files import each other, directly or through others.

    A package's __init__ importing its own submodules is the one allowed way back up.
    """
    graph = _import_graph()
    edges = {(a, b) for a, deps in graph.items() for b in deps if not a.startswith(b + ".")}
    done, on_path = set(), []

    def visit(node):
        if node in on_path:
            cycle = on_path[on_path.index(node):] + [node]
            raise AssertionError(f"import cycle: {' -> '.join(cycle)}")
        if node in done:
            return
        on_path.append(node)
        for a, b in sorted(edges):
            if a == node:
                visit(b)
        on_path.pop()
        done.add(node)

    for module in sorted(graph):
        visit(module)


def test_functional_exposes_every_public_op():
    import minidense.functional as F
    from minidense.ops import conv, conv_matrix, loss, norm, pool, resample
    for module in (conv, conv_matrix, pool, resample, loss, norm):
        missing = set(module.__all__) - set(F.__all__)
        assert not missing, f"{module.__name__} exports {sorted(missing)} but minidense.functional does not"
        assert all(getattr(F, name) is getattr(module, name) for name in module.__all__)


# the private helper modules that the package shares on purpose
SHARED_PRIVATE_MODULES = {"minidense._checks", "minidense.models._common"}


def _private_reaches(path, text=None):
    """(line, what) for each private name this file (or ``text`` standing in it) takes from another module."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text() if text is None else text)
    modules = {}   # local name -> the minidense module it is bound to
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")
            base = base[: len(base) - node.level + 1] if node.level else []
            source = ".".join(base + ([node.module] if node.module else [])) if node.level else node.module or ""
            if not source.startswith("minidense"):
                continue
            for alias in node.names:
                full = f"{source}.{alias.name}"
                if any(p.stem == alias.name for p in SOURCES if _module_name(p) == full):
                    modules[alias.asname or alias.name] = full
                elif alias.name.startswith("_") and not alias.name.startswith("__") \
                        and source not in SHARED_PRIVATE_MODULES:
                    found.append((node.lineno, f"from {source} import {alias.name}"))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("minidense") and alias.asname:
                    modules[alias.asname] = alias.name
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules
                and node.attr.startswith("_") and not node.attr.startswith("__")
                and modules[node.value.id] not in SHARED_PRIVATE_MODULES):
            found.append((node.lineno, f"{modules[node.value.id]}.{node.attr}"))
    return found


def test_no_module_reaches_into_another_modules_private_names():
    """A private name (one underscore) is its module's business; _checks and models/_common are shared helpers."""
    offenders = [f"{p.relative_to(ROOT.parent)}:{line}: {what}" for p in SOURCES for line, what in _private_reaches(p)]
    assert not offenders, "private names used across modules:\n" + "\n".join(offenders)


def test_the_private_name_scan_finds_what_it_should():
    probe = "from .conv import _kernels\nfrom . import conv_fast\nfrom .. import _checks\nconv_fast._band\n_checks._x\n"
    found = [what for _, what in _private_reaches(ROOT / "ops" / "pool.py", probe)]
    assert found == ["from minidense.ops.conv import _kernels", "minidense.ops.conv_fast._band"]


AREAS = {"engine", "ops", "nn_models", "training", "data_metrics", "course", "gpu", "cli", "project"}
LONGEST_TEST = 60


def test_tests_live_in_their_areas_with_unique_names_and_short_functions():
    """Every test file sits in an area folder (docs/design.md, "Tests"), no two share a name (pytest imports them
    by name), and no test function runs past LONGEST_TEST lines: a longer one is several tests."""
    files = sorted(TESTS.glob("**/test_*.py"))
    outside = [str(p.relative_to(TESTS)) for p in files
               if p.parent.name not in AREAS and p.parent.name != "standin" and "golden" not in p.parts]
    assert not outside, f"test files outside the area folders {sorted(AREAS)}: {outside}"
    names = [p.name for p in files]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    long = [f"{p.relative_to(TESTS)}::{node.name} ({node.end_lineno - node.lineno + 1} lines)" for p in files
            for node in ast.walk(ast.parse(p.read_text())) if isinstance(node, ast.FunctionDef)
            and node.name.startswith("test") and node.end_lineno - node.lineno + 1 > LONGEST_TEST]
    assert not long, f"test functions longer than {LONGEST_TEST} lines:\n" + "\n".join(long)
