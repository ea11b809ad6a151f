"""Assignment 'conv': its spec (``spec.py``), handout (``handout.md``) and starter notebook (``starter.py``)."""
