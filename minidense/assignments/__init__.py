"""Course assignments: student kits generated from the library, with offline autograders.

    minidense assignment list
    minidense assignment make conv --out kit-conv

Each assignment is one spec in ``specs.py`` (the functions to stub, the handout, the graded parts
with their points, the reference data); ``generator.py`` copies the package, replaces the named
function bodies with ``raise NotImplementedError`` on the syntax tree, and writes the handout, a
starter notebook and the grader (``grading/``) into the kit.
"""
from . import generator
from .specs import ASSIGNMENTS

__all__ = ["ASSIGNMENTS", "make_kit"]


def make_kit(name, out_dir):
    """Write the kit of assignment ``name`` into ``out_dir`` (new or empty); returns its path."""
    if name not in ASSIGNMENTS:
        raise ValueError(f"make_kit: unknown assignment {name!r}; choose one of {', '.join(ASSIGNMENTS)}")
    return generator.make_kit(ASSIGNMENTS[name], out_dir)
