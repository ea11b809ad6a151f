"""The dense kit: its training runs are gated on the loss they train with, and every graded function meets the
dtype contract on a case of its own (cheap: no training, no grading)."""
import numpy as np

from minidense.assignments import ASSIGNMENTS
from minidense.assignments.cases import case_rng, make_cases, public_rng
from minidense.assignments.course.dense.spec import RUNS

SPEC = ASSIGNMENTS["dense"]
LOSS = {"l1": ("masked_l1", "l1_loss"), "silog": ("scale_invariant", "scale_invariant_log_loss"),
        "cosine": ("cosine_normal", "cosine_normal_loss")}


def _cases(part, public):
    index = [p.name for p in SPEC.parts].index(part)
    return make_cases(SPEC, part, public_rng(index) if public else case_rng(1, "someone", index), public)


def test_each_training_run_requires_the_float32_cases_of_the_loss_it_trains_with():
    for public in (True, False):
        cases = _cases("training", public)
        assert len(cases) == len(RUNS)
        for case, (task, loss) in zip(cases, RUNS):
            part, fn = LOSS[loss]
            assert case["params"]["loss"] == loss and case["requires"], case["id"]
            for pre in case["requires"]:
                assert (pre["part"], pre["fn"]) == (part, fn), (case["id"], pre["id"])
                assert all(v.dtype == np.float32 for v in pre["inputs"].values() if v.dtype.kind == "f"), pre["id"]
                assert pre["rtol"] == 1e-4


def test_every_loss_and_normalize_has_a_float32_case_public_and_hidden():
    for public in (True, False):
        fns = {c["fn"] for part in ("masked_l1", "scale_invariant", "cosine_normal") for c in _cases(part, public)
               if any(v.dtype == np.float32 for v in c["inputs"].values())}
        assert fns == {"l1_loss", "scale_invariant_log_loss", "normalize", "cosine_normal_loss"}, (public, fns)


def test_every_planted_mistake_has_a_public_case_of_its_kind():
    """The public cases hold what the planted mistakes break: a mask without the channel axis on 3 channels, an
    image without a valid pixel, a zero vector, the floor, NaN/inf under the mask, every element masked."""
    ids = {part: [c["id"] for c in _cases(part, True)] for part in ("masked_l1", "scale_invariant", "cosine_normal")}
    assert any(i.startswith("mask-without-channel-3ch") for i in ids["masked_l1"])
    assert any(i.startswith("all-masked") for i in ids["masked_l1"])
    assert any(i.startswith("inf-under-mask") for i in ids["masked_l1"])
    assert any(i.startswith("image-all-masked") for i in ids["scale_invariant"])
    assert any(i.startswith("nonpositive-pred") for i in ids["scale_invariant"])
    assert any(i.startswith("zero-vector") for i in ids["cosine_normal"])
    assert len(SPEC.mistakes) >= 10
