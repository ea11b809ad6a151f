"""Course assignments: student kits generated from the library, with offline autograders.

    minidense assignment list
    minidense assignment make conv --out kit-conv

    minidense assignment make pool --out kit-pool --carry kit-conv
    minidense assignment grade conv submissions/ --out graded/ --seed 8142

Each assignment is one spec in ``specs.py`` (in course order: the functions to stub, the handout, the
graded parts with their points) and its case generators in ``cases.py``; ``generator.py`` copies the
package, replaces the named function bodies with ``raise NotImplementedError`` on the syntax tree, and
writes the handout, a starter notebook, the public cases and their runner into the kit.
``grade.py`` grades a folder of submissions on hidden cases, running student code only in child
processes (``grading/``); ``gradescope.py`` bundles the same grader for Gradescope.
"""
from . import generator
from .course import ASSIGNMENTS, COURSE

__all__ = ["ASSIGNMENTS", "COURSE", "make_kit", "get"]


def get(name, fname="make_kit"):
    """The spec of assignment ``name``; ValueError naming the choices otherwise."""
    if name not in ASSIGNMENTS:
        raise ValueError(f"{fname}: unknown assignment {name!r}; choose one of {', '.join(ASSIGNMENTS)}")
    return ASSIGNMENTS[name]


def make_kit(name, out_dir, carry=()):
    """Write the kit of assignment ``name`` into ``out_dir`` (new or empty); returns its path.

    carry: earlier kits whose student solutions replace the released code (function by function)."""
    return generator.make_kit(get(name), out_dir, carry_from=tuple(carry))
