"""Checks that a course kit does not ship a fast path: the kit's package built into a folder and searched."""
import inspect
from pathlib import Path

from minidense.assignments.generator import build_package


def files_holding(spec, folder, line):
    """Build ``spec``'s kit package under ``folder``/minidense; the kit's .py files that hold ``line``."""
    build_package(spec, str(folder / "minidense"))
    return [str(p.relative_to(folder)) for p in folder.rglob("*.py") if line in p.read_text()]


def assert_no_kit_ships(spec, folder, module, line):
    """``line``, a line of ``module`` (a fast path), is in none of ``spec``'s kit files, and the kit's copy of
    ``module`` is the stub that says so."""
    assert line in inspect.getsource(module), f"{module.__name__} has no line {line!r}: the check finds nothing"
    holders = files_holding(spec, folder, line)
    assert not holders, f"the {spec.name} kit ships {module.__name__}'s fast path in {holders}"
    stub = folder.joinpath("minidense", *module.__name__.split(".")[1:]).with_suffix(".py")
    assert "not part of this kit" in Path(stub).read_text()
