"""Run the autograder from the kit's folder: python grader/run.py [pytest options, e.g. -m im2col]."""
import os
import sys

if __name__ == "__main__":
    kit = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, kit)                  # the kit's minidense, not an installed one
    os.environ["PYTHONPATH"] = kit + os.pathsep + os.environ.get("PYTHONPATH", "")
    os.chdir(kit)
    import pytest
    colour = [] if sys.stdout.isatty() else ["--color=no"]   # plain text in a notebook or a log
    sys.exit(pytest.main(["-q", "--tb=short", "-p", "no:cacheprovider", *colour, os.path.join(kit, "grader"),
                          *sys.argv[1:]]))
