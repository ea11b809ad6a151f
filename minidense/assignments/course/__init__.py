"""The course: one module per assignment, in course order (``COURSE``).

Each module holds its assignment's handout, its case generators and its spec (``SPEC``). Adding an
assignment is a module here and its place in ``COURSE``; a kit stubs its own assignment's functions
and every later one's.
"""
from . import conv, dense, engine, losses, pool, unet

#: the course order: a kit stubs its own assignment's functions and every later one's
COURSE = tuple(m.SPEC for m in (engine, conv, pool, losses, unet, dense))
ASSIGNMENTS = {a.name: a for a in COURSE}
