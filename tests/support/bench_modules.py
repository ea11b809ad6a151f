"""Import a module of bench/ (not a package) in a test, without leaving bench/ on sys.path."""
import contextlib
import importlib
import sys

from paths import ROOT

BENCH = str(ROOT / "bench")


@contextlib.contextmanager
def bench_module(name):
    sys.path.insert(0, BENCH)
    try:
        yield importlib.import_module(name)
    finally:
        sys.path.remove(BENCH)
