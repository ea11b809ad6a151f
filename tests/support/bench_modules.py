"""Import a module of bench/ (not a package) in a test, without leaving bench/ on sys.path."""
import contextlib
import importlib
import importlib.util
import sys

from paths import ROOT

BENCH = str(ROOT / "bench")


@contextlib.contextmanager
def bench_module(name):
    """bench/<name>.py as a fresh module: loaded from its file, so a cached module of the same name
    (a kit's grader `run`, say) cannot stand in for it."""
    sys.path.insert(0, BENCH)
    try:
        spec = importlib.util.spec_from_file_location(f"bench_{name}", f"{BENCH}/{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(BENCH)
