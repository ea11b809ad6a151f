"""The course: one folder per assignment, in course order (``COURSE``).

Each folder ``course/<name>/`` holds the assignment's handout (``handout.md``, Markdown with the few
``{field}`` templates its spec fills in), its starter notebook (``starter.py``, jupytext's percent format)
and its spec (``spec.py``: the parts with their case generators, hints, planted mistakes, ``SPEC``).
Adding an assignment is a folder here and its place in ``COURSE``; a kit stubs its own assignment's
functions and every later one's.
"""
from .conv import spec as conv
from .dense import spec as dense
from .engine import spec as engine
from .losses import spec as losses
from .pool import spec as pool
from .unet import spec as unet

#: the course order: a kit stubs its own assignment's functions and every later one's
COURSE = tuple(m.SPEC for m in (engine, conv, pool, losses, unet, dense))
ASSIGNMENTS = {a.name: a for a in COURSE}
