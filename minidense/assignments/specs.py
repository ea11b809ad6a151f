"""What an assignment is: its spec (``Assignment``, ``Part``), and what every kit leaves out.

A spec names

- ``stubs``: the functions the student writes, {file relative to the package: [qualified names]};
- ``reveal``: functions stubbed as well because their code would give the answer away (transposed
  convolution's forward IS convolution's input gradient, the dense convolution matrix holds every index);
- ``parts``: the graded parts with their points, each with its case generator (``Part.cases``: public
  cases shipped in the kit, hidden ones generated at grading time from the term seed and the student's
  id; see ``cases.py``);
- ``training``: the pinned set-up and threshold of a training part, if the assignment has one;
- ``handout``: the handout's Markdown (``handout.md`` beside the spec, read by ``read_handout``);
- ``starter``: the starter notebook (``starter.py`` beside the spec, read by ``read_starter``): its set-up
  cell and its step-through cells (``Cell``); the kit shows each cell's output from the course's
  reference code beside it;
- ``questions``: short written questions, answered in the kit's ``ANSWERS.md`` (collected, not graded);
- ``mistakes``: planted mistakes a grader must catch (the tests plant each one in the reference code
  and check that only its part, and the parts that build on it, lose points);
- ``target``: (file, qualified name) of a function the hostile-submission tests attack from.

The course (``course/``) is the ordered list of specs, one folder per assignment. The kit of an
assignment stubs its own functions and every function a LATER assignment stubs or reveals, so no kit
ships a later answer; earlier assignments' functions are released reference code, or the student's
own carried forward (``make --carry``).
"""
import os
import re
from dataclasses import dataclass, field

from . import merge

#: paths (relative to the package) that no kit contains: the kit generator and grader (its case
#: generators compute expected outputs with the library), the op database (its NumPy references compute
#: what the kits' functions compute), caches.
LEFT_OUT_OF_KITS = ("assignments", "opinfo", "__pycache__")

#: module-level constants every kit sets, {file: {NAME: value}}, replaced on the syntax tree (a name
#: that is not assigned at the file's top level is an error): the kits run the reference kernels only.
KIT_CONSTANTS = {"ops/fastpaths.py": {"ON_BY_DEFAULT": False}}

#: files every kit holds in place of the library's: the fast paths would compute a convolution (or max
#: pooling's switches) without the student's code, so an untouched kit has no other road to one
KIT_REPLACED_FILES = {"ops/conv_fast.py": '''"""The fast paths are not part of the course kits: the kit runs the
reference kernels you write."""


class Kernels:
    def __init__(self, keep_columns=False):
        raise NotImplementedError("ops/conv_fast.py: the fast paths are not part of this kit; "
                                  "leave md.fast_paths off")
''',
                      "ops/pool_fast.py": '''"""The fast paths are not part of the course kits: the kit runs the
reference argmax you write."""


def first_max_tap(cols):
    raise NotImplementedError("ops/pool_fast.py: the fast paths are not part of this kit; "
                              "leave md.fast_paths off")
''',
                      "ops/winograd.py": '''"""The fast paths are not part of the course kits: the kit runs the
reference kernels you write."""


def applies(geo):
    raise NotImplementedError("ops/winograd.py: the fast paths are not part of this kit; "
                              "leave md.fast_paths off")
''',
                      "ops/conv_rows.py": '''"""The fast paths are not part of the course kits: the kit runs the
reference kernels you write."""


def applies(geo, w, wo):
    raise NotImplementedError("ops/conv_rows.py: the fast paths are not part of this kit; "
                              "leave md.fast_paths off")
''',
                      "ops/loss_fast.py": '''"""The fast paths are not part of the course kits: the kit runs the
cross-entropy you write."""


def splits(x):
    raise NotImplementedError("ops/loss_fast.py: the fast paths are not part of this kit; "
                              "leave md.fast_paths off")
''',
                      "ops/dispatch.py": '''"""The fast paths are not part of the course kits: the kit runs the
reference kernels you write."""


def pick(key, candidates, timed=True):
    raise NotImplementedError("ops/dispatch.py: the fast paths are not part of this kit; "
                              "leave md.fast_paths off")
'''}

#: the stub messages: the student's own functions, and those stubbed so as not to give an answer away
YOUR_CODE = "your code here (see HANDOUT.md)"
REVEALED_LATER = "revealed in a later assignment"


@dataclass(frozen=True)
class Part:
    name: str       # the part's name: ``python grader/run.py -m NAME`` runs its public cases alone
    points: int
    title: str
    builds_on: tuple = ()   # parts whose functions this one runs: a mistake there costs points here too
    cases: object = None    # the case generator, ``(rng, public) -> [case, ...]`` (see cases.py)


@dataclass(frozen=True)
class Cell:
    """One step of a starter notebook: a Markdown cell, then a code cell. With ``expected`` the kit shows,
    below the code, what it printed (and the figure it drew) when run with the course's reference code;
    ``recorded``: that text as recorded once, for a cell too slow to run whenever a kit is made (a slow
    test runs it again and compares)."""
    title: str
    code: str
    expected: bool = True
    recorded: str = None


@dataclass(frozen=True)
class Starter:
    """A starter notebook: the set-up cell's code (imports; run first), then the step-through cells."""
    setup: str
    cells: tuple


@dataclass(frozen=True)
class Mistake:
    """A planted mistake, the kind a student makes: ``what`` it is; ``loses``, the parts that must lose points
    (every other part, but those that build on them, keeps all of its points); ``replace``, the functions it
    writes differently, ((file relative to the package, qualified name, the mistaken function's source), ...):
    each replaces the library's function of that name, found on the syntax tree (``merge.replace_function``),
    so the mistake still applies when the library around it changes."""
    what: str
    loses: frozenset
    replace: tuple

    def __post_init__(self):
        object.__setattr__(self, "loses", frozenset(self.loses))

    def apply(self, files):
        """``files`` ({file: source}) with this mistake planted; KeyError naming a function that is gone."""
        out = dict(files)
        for rel, qualname, source in self.replace:
            out[rel] = merge.replace_function(out[rel], qualname, source, where=rel)
        return out


@dataclass(frozen=True)
class Assignment:
    name: str
    title: str
    stubs: dict
    reveal: dict
    parts: tuple
    handout: str
    target: tuple
    mistakes: tuple = ()
    training: dict = field(default=None)
    starter: "Starter" = None
    questions: tuple = field(default=())
    #: automatic mutants (mutants.py) that compute what the reference computes, {key: why}: left out of the rate
    equivalent_mutants: dict = field(default_factory=dict)

    def part(self, name):
        """The Part called ``name``; KeyError naming the parts otherwise."""
        for p in self.parts:
            if p.name == name:
                return p
        raise KeyError(f"{self.name}: no part {name!r} (parts: {', '.join(p.name for p in self.parts)})")

    def all_stubs(self):
        """{file: [qualified names]}: what the student writes, then what would reveal it."""
        return merge_tables(self.stubs, self.reveal)

    def handout_markdown(self):
        lines = [f"# {self.title}", "", self.handout.strip(), "", "## What you write", ""]
        for path, names in self.stubs.items():
            lines.append(f"In `minidense/{path}`:")
            lines.append("")
            lines.extend(f"- `{n}`" for n in names)
            lines.append("")
        lines += ["Only these functions are taken from your files when you are graded (each merged into a fresh "
                  "copy of this kit): write any helper you need *inside* them, and keep their signatures. "
                  f"Submit the files above at their paths in this kit (e.g. `minidense/{next(iter(self.stubs))}`), and "
                  "your written "
                  "answers, if any, in `ANSWERS.md` at the kit's top (collected as it is, not autograded).", ""]
        if self.reveal:
            lines += ["These are stubbed too, because their code would give the answer away ('revealed in a later "
                      "assignment'); nothing graded needs them, but if you write them (in the files above) they are "
                      "taken with your functions:", ""]
            for path, names in self.reveal.items():
                lines.extend(f"- `minidense/{path}`: `{n}`" for n in names)
            lines.append("")
        lines += ["Functions of later assignments are stubbed as well ('revealed in a later assignment'); "
                  "nothing graded here needs them.", ""]
        lines += ["## Grading", "", "| part | points | what is checked |", "|---|---|---|"]
        lines += [f"| `{p.name}` | {p.points} | {p.title}"
                  + (f" (builds on {', '.join(f'`{b}`' for b in p.builds_on)}: a mistake there costs points here "
                     "too)" if p.builds_on else "") + " |" for p in self.parts]
        lines += ["", f"Total: {sum(p.points for p in self.parts)} points. A part's points are shared equally "
                  "by its cases. `python grader/run.py` (or `python grader/run.py -m PART` for one part) runs "
                  "the **public** cases from the kit's folder, prints the table and writes `results.json`. "
                  "Your grade comes from **hidden** cases of the same kinds as the public ones (each case's id "
                  "says what it tests) with other inputs, generated when the course grades, and compared with "
                  "the course's reference outputs: passing the public cases is necessary, not sufficient.", ""]
        if self.questions:
            lines += ["## Written questions (not autograded)", "",
                      "Answer each in a few sentences in `ANSWERS.md` at the kit's top (it holds these questions "
                      "already); it is collected with your files and read by the course staff.", ""]
            lines += [f"{i}. {q}" for i, q in enumerate(self.questions, 1)]
            lines.append("")
        return "\n".join(lines)


def merge_tables(*tables):
    """{file: [qualified names]} of several such tables, each name once, in first-seen order."""
    merged = {}
    for table in tables:
        for path, names in table.items():
            have = merged.setdefault(path, [])
            have.extend(n for n in names if n not in have)
    return merged


def read_handout(spec_file, **fields):
    """The ``handout.md`` beside ``spec_file`` with its ``{field}`` templates filled in (``{{``, ``}}``: braces)."""
    with open(os.path.join(os.path.dirname(spec_file), "handout.md"), encoding="utf-8") as f:
        return f.read().format(**fields)


#: a cell marker of jupytext's percent format: ``# %%``, ``# %% [markdown]``, ``# %% expected=recorded``
_MARKER = re.compile(r"^# %%(?P<markdown> \[markdown\])?(?P<options>.*)$")


#: the line that starts a recorded output in a starter cell marked ``expected=recorded``
RECORDED = "# Expected output, recorded with the course's reference code:"


def _cells(text):
    """[(kind, options, text)] of a percent-format file (what comes before the first marker is left out)."""
    cells = []
    for line in text.splitlines():
        marker = _MARKER.match(line)
        if marker:
            cells.append(("markdown" if marker["markdown"] else "code", marker["options"].split(), []))
        elif cells:
            cells[-1][2].append(line)
    out = []
    for kind, options, body in cells:
        if kind == "markdown":
            body = [line[2:] if line.startswith("# ") else line.lstrip("#") for line in body]
        out.append((kind, options, "\n".join(body).strip("\n")))
    return out


def read_starter(spec_file):
    """The ``starter.py`` beside ``spec_file`` (jupytext's percent format) as a ``Starter``.

    The file is one set-up code cell, then pairs of a Markdown cell (the step's title and text) and a code
    cell. A code cell too slow to run whenever a kit is made is marked ``# %% expected=recorded`` and ends
    with the comment line ``RECORDED`` followed by its output as recorded with the reference code, one
    ``# ``-prefixed comment line per line of output. ValueError naming the file when it is not laid out
    that way."""
    path = os.path.join(os.path.dirname(spec_file), "starter.py")
    with open(path, encoding="utf-8") as f:
        cells = _cells(f.read())
    if not cells or cells[0][0] != "code" or len(cells) % 2 != 1 or \
            any(cells[i][0] != "markdown" or cells[i + 1][0] != "code" for i in range(1, len(cells), 2)):
        raise ValueError(f"read_starter: {path}: expected a set-up code cell, then Markdown and code cells in "
                         f"pairs; got {[kind for kind, _, _ in cells]}")
    steps = []
    for (_, _, title), (_, options, code) in zip(cells[1::2], cells[2::2]):
        unknown = [o for o in options if o != "expected=recorded"]
        if unknown:
            raise ValueError(f"read_starter: {path}: unknown cell option(s) {unknown} (known: expected=recorded)")
        recorded = None
        if options:
            if RECORDED not in code:
                raise ValueError(f"read_starter: {path}: a cell marked expected=recorded needs the line {RECORDED!r}")
            code, output = code.split(RECORDED, 1)
            recorded = "\n".join(line[2:] for line in output.strip("\n").splitlines()) + "\n"
            code = code.rstrip("\n")
        steps.append(Cell(title, code + "\n", expected=not options, recorded=recorded))
    return Starter(cells[0][2] + "\n", tuple(steps))
