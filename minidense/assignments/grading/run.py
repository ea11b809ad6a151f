"""Run the autograder from the kit's folder: python grader/run.py [--hint N] [pytest options, e.g. -m im2col].

--hint N shows a failing case's hints up to tier N at once (otherwise the next tier comes after its part
failed again on a later run).
"""
import os
import sys

if __name__ == "__main__":
    args = sys.argv[1:]
    if "--hint" in args:
        at = args.index("--hint")
        if at + 1 >= len(args) or not args[at + 1].isdigit() or int(args[at + 1]) < 1:
            sys.exit("grader/run.py: --hint takes a tier, a whole number >= 1 (e.g. --hint 2)")
        os.environ["MINIDENSE_HINT"] = args[at + 1]
        del args[at:at + 2]
    kit = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, kit)                  # the kit's minidense, not an installed one
    os.environ["PYTHONPATH"] = kit + os.pathsep + os.environ.get("PYTHONPATH", "")
    os.chdir(kit)
    import pytest
    colour = [] if sys.stdout.isatty() else ["--color=no"]   # plain text in a notebook or a log
    sys.exit(pytest.main(["-q", "--tb=short", "-p", "no:cacheprovider", *colour, os.path.join(kit, "grader"),
                          *args]))
