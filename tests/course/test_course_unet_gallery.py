"""The unet kit's gallery of wrong answers, before any training run (fast): each planted mistake loses the
parts it declares among `architecture` and `forward`, on the public cases and on two students' hidden cases,
and keeps the others; a training part it declares is lost at its prerequisites (no run), except for the
mistakes whose forward is right (the detached forward, whose runs the slow planted-mistake matrix grades),
and a training part it does not declare has its prerequisites passed (the run is then the reference's run,
or for the float64 output one that the slow matrix grades).

Mistakes are planted as the grader would see them (``Mistake.apply`` on the library's ``models/unet.py``),
run in this process as ``harness.call`` runs a student's code and judged by ``compare.verdict``.
"""
from pathlib import Path

import pytest

import minidense as md
import minidense.models as models
import minidense.models.unet as unet_module
from minidense.assignments import ASSIGNMENTS
from minidense.assignments.cases import case_rng, make_cases, public_rng
from minidense.assignments.grading import compare, harness

UNET = ASSIGNMENTS["unet"]
PARTS = [p.name for p in UNET.parts]
TRAINING_PARTS = ("training", "ablation")
#: the mistakes whose forward matches the reference's on the trained architecture: their training parts are
#: decided by the training runs (the slow matrix), not by the prerequisites
DECIDED_BY_TRAINING = ("a detached forward",)


@pytest.fixture(scope="module")
def unet_cases():
    """{label: {part: cases}} for the public cases and two students' hidden ones, each case and prerequisite
    compared by value with the reference's outputs as ``expected`` (training runs are not made)."""
    out = {}
    for label, public, student in (("public", True, None), ("ann", False, "ann"), ("bo", False, "bo")):
        out[label] = {}
        for index, part in enumerate(PARTS):
            cases = make_cases(UNET, part, public_rng(index) if public else case_rng(7, student, index), public)
            with md.fast_paths(False):
                for case in cases:
                    for c in (*case.get("requires", ()), case):
                        if "check" not in c:
                            c["expected"] = harness.FUNCTIONS[c["fn"]](c["inputs"], c["params"])
            out[label][part] = cases
    return out


def _run(case):
    assert "check" not in case, f"{case['id']}: a training run"
    try:
        return harness.call(case["fn"], case["inputs"], case["params"]), None
    except Exception as exc:
        return None, harness.describe_error(exc)


def _plant(monkeypatch, mistake):
    source = Path(unet_module.__file__).read_text()
    text = mistake.apply({"models/unet.py": source})["models/unet.py"]
    namespace = {"__name__": unet_module.__name__, "__package__": unet_module.__package__,
                 "__file__": unet_module.__file__}
    exec(compile(text, unet_module.__file__, "exec"), namespace)
    for target in (unet_module, models):
        monkeypatch.setattr(target, "UNet", namespace["UNet"])


def test_the_gallery_has_the_mistakes_the_course_asks_for():
    whats = [m.what for m in UNET.mistakes]
    assert len(whats) >= 10 and len(set(whats)) == len(whats)
    for start in ("a trivial network", "the copy concatenated after", "the ablation cheat", "a float64 output",
                  "the input changed in place", "a detached forward"):
        assert any(w.startswith(start) for w in whats), start


@pytest.mark.parametrize("i", range(len(UNET.mistakes)), ids=[m.what[:40] for m in UNET.mistakes])
def test_a_planted_mistake_loses_its_parts_before_training(i, unet_cases, monkeypatch):
    mistake = UNET.mistakes[i]
    _plant(monkeypatch, mistake)
    with md.fast_paths(False):
        for label, cases in unet_cases.items():
            for part in PARTS:
                if part in TRAINING_PARTS:
                    (case,) = cases[part]
                    failed = [p for p in (compare.verdict(pre, lambda c: c["expected"], _run)
                                          for pre in case["requires"]) if p]
                    if part in mistake.loses and not mistake.what.startswith(DECIDED_BY_TRAINING):
                        assert failed, f"{mistake.what}: {label} {part}: every prerequisite passes"
                    else:
                        assert not failed, f"{mistake.what}: {label} {part}: {failed}"
                    continue
                problems = [p for p in (compare.verdict(c, lambda c: c["expected"], _run) for c in cases[part]) if p]
                if part in mistake.loses:
                    assert problems, f"{mistake.what}: {label} {part} kept all its points"
                else:
                    assert not problems, f"{mistake.what}: {label} {part} lost points: {problems[:1]}"


def test_the_contracts_broken_are_named(unet_cases, monkeypatch):
    """The float64 output names the dtype contract; the input changed in place names the input."""
    says = {"a float64 output": "dtype float64, expected float32 (the contract: float32 in, float32 out)",
            "the input changed in place": "the call changed the input `x` in place (the contract: inputs"}
    for start, message in says.items():
        (mistake,) = [m for m in UNET.mistakes if m.what.startswith(start)]
        with monkeypatch.context() as patch:
            _plant(patch, mistake)
            with md.fast_paths(False):
                for label, cases in unet_cases.items():
                    problems = [p for p in (compare.verdict(c, lambda c: c["expected"], _run)
                                            for c in cases["forward"]) if p]
                    assert problems and all(message in p for p in problems), (start, label, problems)
