"""Tiered hints in a kit: a failing case shows its first hint; the next one once its part has failed on a
later run as well, or at once with ``python grader/run.py --hint N``.

The failing runs of each part are counted in ``hint_state.json`` beside this file (delete it to start
over). A run counts only where the part was tried: a part whose failures are all a stub's
``NotImplementedError`` (not written yet) keeps its tier. The feedback of the course's own grading shows
the first hint only.
"""
import json
import os
from pathlib import Path

STATE = Path(__file__).resolve().parent / "hint_state.json"
#: set by ``grader/run.py --hint N``: show hints up to tier N whatever the state
ASKED = "MINIDENSE_HINT"


def _failures():
    try:
        return {k: int(v) for k, v in json.loads(STATE.read_text(encoding="utf-8")).items()}
    except (OSError, ValueError, AttributeError):
        return {}


def tier(part):
    """The hint tier to show for a failing case of ``part``: 1 + its earlier failing runs, or the one asked for."""
    asked = os.environ.get(ASKED, "")
    return max(int(asked) if asked.isdigit() else 1, 1 + _failures().get(part, 0))


#: the parts of this run with a failure other than a stub's NotImplementedError (see ``tried``)
_TRIED = set()


def tried(part):
    """Note that ``part`` failed this run on code that was written (not a stub)."""
    _TRIED.add(part)


def record(failed_parts):
    """Count one more failing run for each of ``failed_parts`` that was tried (see ``tried``)."""
    failures = _failures()
    for part in set(failed_parts) & _TRIED:
        failures[part] = failures.get(part, 0) + 1
    try:
        STATE.write_text(json.dumps(failures, indent=1), encoding="utf-8")
    except OSError:
        pass   # a read-only kit still grades; its hints stay at their tier
