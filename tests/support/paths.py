"""Where things are, for every test: the repository, the tests, the golden files."""
import pathlib

TESTS = pathlib.Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
GOLDEN = TESTS / "support" / "golden"
