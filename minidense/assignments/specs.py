"""What an assignment is: its spec (``Assignment``, ``Part``), and what every kit leaves out.

A spec names

- ``stubs``: the functions the student writes, {file relative to the package: [qualified names]};
- ``reveal``: functions stubbed as well because their code would give the answer away (transposed
  convolution's forward IS convolution's input gradient, the dense convolution matrix holds every index);
- ``parts``: the graded parts with their points; ``generators`` {part: generator} makes each part's
  cases (public ones shipped in the kit, hidden ones generated at grading time from the term seed and
  the student's id; see ``cases.py``);
- ``training``: the pinned set-up and threshold of a training part, if the assignment has one;
- ``starter_cells``: the starter notebook's step-through cells (``Cell``); the kit shows each cell's
  output from the course's reference code beside it;
- ``questions``: short written questions, answered in the kit's ``ANSWERS.md`` (collected, not graded);
- ``mistakes``: planted mistakes a grader must catch (the tests plant each one in the reference code
  and check that only its part, and the parts that build on it, lose points);
- ``target``: (file, qualified name) of a function the hostile-submission tests attack from.

The course (``course/``) is the ordered list of specs, one module per assignment. The kit of an
assignment stubs its own functions and every function a LATER assignment stubs or reveals, so no kit
ships a later answer; earlier assignments' functions are released reference code, or the student's
own carried forward (``make --carry``).
"""
from dataclasses import dataclass, field

#: paths (relative to the package) that no kit contains: the kit generator and grader (its case
#: generators compute expected outputs with the library), caches.
LEFT_OUT_OF_KITS = ("assignments", "__pycache__")

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


@dataclass(frozen=True)
class Cell:
    """One step of a starter notebook: a Markdown cell, then a code cell. With ``expected`` the kit shows,
    below the code, what it printed (and the figure it drew) when run with the course's reference code."""
    title: str
    code: str
    expected: bool = True


@dataclass(frozen=True)
class Mistake:
    """A planted mistake: ``edits`` [(file, exact text of the library, the mistaken text)]; ``loses``: the
    parts that must lose points (every other part keeps all of its points)."""
    what: str
    edits: tuple
    loses: frozenset


@dataclass(frozen=True)
class Assignment:
    name: str
    title: str
    stubs: dict
    reveal: dict
    parts: tuple
    handout: str
    generators: dict
    target: tuple
    mistakes: tuple = ()
    training: dict = field(default=None)
    starter_cells: tuple = field(default=())
    questions: tuple = field(default=())

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
