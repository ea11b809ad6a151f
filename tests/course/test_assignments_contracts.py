"""Every part checks what it names: the contracts each case checks, and the training parts' prerequisites.

Mistakes are planted into the library's reference code on the syntax tree (``assignments.plant``) and
run in this process as the grader runs a student's code (``harness.call``, then ``compare.verdict``),
on the public cases and on one student's hidden cases: each loses points in the part that names the
work, with feedback that says which contract it broke, and keeps every other part's points.
"""
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import minidense as md
import minidense.models as models
import minidense.models.unet as unet_module
import minidense.ops.conv as conv_module
import minidense.ops.im2col as im2col_module
from minidense.assignments import ASSIGNMENTS, COURSE, plant
from minidense.assignments.cases import case_rng, make_cases, public_rng
from minidense.assignments.grading import compare, harness

CONV, UNET = ASSIGNMENTS["conv"], ASSIGNMENTS["unet"]


def reference_cases(spec, part, public, seed=7, student="ann"):
    """A part's public or hidden cases, each (and each prerequisite) with the reference's outputs as ``expected``."""
    index = [p.name for p in spec.parts].index(part)
    cases = make_cases(spec, part, public_rng(index) if public else case_rng(seed, student, index), public)
    with md.fast_paths(False):
        for case in cases:
            for c in (*case.get("requires", ()), case):
                if "expected" not in c:
                    c["expected"] = harness.FUNCTIONS[c["fn"]](c["inputs"], c["params"])
    return cases


def run(case):
    try:
        return harness.call(case["fn"], case["inputs"], case["params"]), None
    except Exception as exc:
        return None, harness.describe_error(exc)


def grade(spec, part, cases, runner=run):
    """(score, the failed cases' messages) of the code imported now, as the grader scores the part."""
    with md.fast_paths(False):
        problems = [compare.verdict(c, lambda x: x["expected"], runner) for c in cases]
    points = next(p.points for p in spec.parts if p.name == part)
    return round(points * sum(p is None for p in problems) / len(problems), 2), [p for p in problems if p]


def all_cases(spec, public):
    return {p.name: reference_cases(spec, p.name, public) for p in spec.parts}


def planted(monkeypatch, module, qualname, new_body, where=None):
    """Plant ``new_body(old body)`` as the body of ``qualname`` in a copy of ``module``, and put the planted
    function (or class) in place of the library's, in ``module`` and in ``where``."""
    source = Path(module.__file__).read_text()
    name = qualname.split(".")[0]
    namespace = {"__name__": module.__name__, "__package__": module.__package__, "__file__": module.__file__}
    text = plant.replace_body(source, qualname, new_body(plant.body(source, qualname)))
    exec(compile(text, module.__file__, "exec"), namespace)
    old = getattr(module, name)
    for table in [v for v in vars(module).values() if isinstance(v, SimpleNamespace)]:   # conv's REFERENCE
        for attr, value in vars(table).items():
            if value is old:
                monkeypatch.setattr(table, attr, namespace[name])
    for target in (module, *([where] if where else [])):
        monkeypatch.setattr(target, name, namespace[name])


def once(*edits):
    """A body edit: each (old, new) replaced, each old found exactly once (else the plant no longer applies)."""
    def edit(body):
        for old, new in zip(edits[::2], edits[1::2]):
            assert body.count(old) == 1, f"{old!r} is not in the body once"
            body = body.replace(old, new)
        return body
    return edit


def scores_and_messages(spec, cases):
    return {part: grade(spec, part, part_cases) for part, part_cases in cases.items()}


def check_loses_only(spec, results, loses, says):
    full = {p.name: p.points for p in spec.parts}
    for part, (score, messages) in results.items():
        if part in loses:
            assert score < full[part], f"{part} kept its points"
            assert any(says in m for m in messages), messages
        else:
            assert score == full[part], (part, messages)


# ------------------------------------------------------------------ the contracts, on every case
def test_the_reference_breaks_no_contract_on_any_case():
    """Every public and hidden case of every kit (prerequisites included; training runs left out): the
    reference's outputs pass, with no contract flag, so a flag is never the grader's own doing."""
    for spec in COURSE:
        for index, part in enumerate(spec.parts):
            for public in (True, False):
                rng = public_rng(index) if public else case_rng(3, "bob", index)
                for case in make_cases(spec, part.name, rng, public):
                    for c in (*case.get("requires", ()), *(() if "check" in case else (case,))):
                        got = harness.call(c["fn"], c["inputs"], c["params"])
                        assert compare.contract_problems(got) is None, (spec.name, c["id"])
                        assert compare.check_case(c, harness.FUNCTIONS[c["fn"]](c["inputs"], c["params"]), got) \
                            is None, (spec.name, c["id"])


def test_every_part_compared_by_value_has_a_float32_case():
    """float32 in, float32 out is checked on every part with floating-point inputs, public and hidden."""
    for spec in COURSE:
        for index, part in enumerate(spec.parts):
            for public in (True, False):
                cases = make_cases(spec, part.name, public_rng(index) if public else case_rng(1, "a", index), public)
                compared = [c for c in cases if "check" not in c and c["fn"] not in harness.FLOAT64_ONLY
                            and any(v.dtype.kind == "f" for v in c["inputs"].values())]
                if compared:
                    assert any(v.dtype == np.float32 for c in compared for v in c["inputs"].values()), \
                        (spec.name, part.name, public)


def test_the_call_flags_a_changed_input_and_a_view_and_the_verdict_names_them(monkeypatch):
    monkeypatch.setitem(harness.FUNCTIONS, "view", lambda a, p: {"out": a["x"][1:], "grad_input": a["x"]})
    monkeypatch.setitem(harness.FUNCTIONS, "fill", lambda a, p: (a["grad"].fill(0), {"out": np.ones(2)})[1])
    x = np.arange(3.0)
    got = harness.call("view", {"x": x}, {})
    assert sorted(got) == sorted(["out", "grad_input", harness.VIEW + "out"])   # a gradient may pass on as it is
    assert "`out` is a view of an input (the contract: a new array" in compare.contract_problems(got)
    got = harness.call("fill", {"grad": np.ones(2)}, {})
    assert compare.contract_problems(got).startswith("the call changed the upstream gradient `grad` in place")
    case = {"id": "c", "rtol": 0, "atol": 0, "hints": ["H"]}
    problem = compare.check_case(case, {"out": np.ones(2)}, got)
    assert problem.startswith("the call changed the upstream gradient") and problem.endswith(". Hint: H")
    assert compare.check_case(case, {"out": np.ones(2, np.float32)}, {"out": np.ones(2)}) == \
        "`out`: dtype float64, expected float32 (the contract: float32 in, float32 out). Hint: H"


@pytest.mark.parametrize("name,part", [("conv", "col2im"), ("conv", "conv_backward"), ("pool", "switches"),
                                       ("pool", "maxpool_backward"), ("pool", "transposed_forward")])
def test_entries_overlap_in_a_public_and_a_hidden_case(name, part):
    """Windows that overlap (stride below the kernel on an axis) in the public cases as well as the hidden ones,
    so that `=` where entries must add fails before the student submits."""
    spec = ASSIGNMENTS[name]
    index = [p.name for p in spec.parts].index(part)
    for public in (True, False):
        cases = make_cases(spec, part, public_rng(index) if public else case_rng(5, "cy", index), public)
        assert any(np.any(np.atleast_1d(c["params"]["stride"]) < np.atleast_1d(c["params"]["kernel_size"]))
                   for c in cases), (name, part, public)


def test_the_uint8_confusion_case_always_has_codes_past_255():
    """The losses kit's uint8 labels of 17 classes: some code 17·target + pred (valid pixels) passes 255 in the
    public case and in every student's hidden one, so codes computed in uint8 wrap and lose the part."""
    spec = ASSIGNMENTS["losses"]
    index = [p.name for p in spec.parts].index("confusion_iou")
    rngs = [public_rng(index)] + [case_rng(2718, f"student-{k}", index) for k in range(40)]
    for n, rng in enumerate(rngs):
        cases = make_cases(spec, "confusion_iou", rng, public=n == 0)
        (case,) = [c for c in cases if c["id"].startswith("uint8-labels")]
        pred, target = (case["inputs"][k].astype(np.int64) for k in ("pred", "target"))
        assert case["inputs"]["target"].dtype == np.uint8
        assert (17 * target + pred)[target != 255].max() > 255, f"draw {n} ({'public' if n == 0 else 'hidden'})"


@pytest.fixture(scope="module")
def conv_cases():
    return {public: all_cases(CONV, public) for public in (True, False)}


def test_float64_out_of_float32_in_loses_conv_forward_only(conv_cases, monkeypatch):
    planted(monkeypatch, conv_module, "_conv_forward", once(
        ".transpose(1, 0, 2, 3)", ".transpose(1, 0, 2, 3).astype('float64')"))
    for public in (True, False):
        check_loses_only(CONV, scores_and_messages(CONV, conv_cases[public]), {"conv_forward"},
                         "dtype float64, expected float32 (the contract: float32 in, float32 out)")


def test_an_input_changed_in_place_loses_its_part(conv_cases, monkeypatch):
    """im2col that zeroes its input once it has the columns: right values, a broken contract."""
    planted(monkeypatch, im2col_module, "im2col", once(
        "xp = get_array_module(x)", "xp, given = get_array_module(x), x", "return cols", "given[...] = 0\nreturn cols"))
    for public in (True, False):
        results = scores_and_messages(CONV, conv_cases[public])
        score, messages = results["im2col"]
        assert score < 20 and all("the call changed the input `x` in place (the contract: inputs" in m
                                  for m in messages) and len(messages) == len(conv_cases[public]["im2col"])
        assert results["col2im"][0] == 20


def test_the_upstream_gradient_changed_in_place_loses_conv_backward_only(conv_cases, monkeypatch):
    """The weight gradient that clears the upstream gradient after using it (the input gradient came first)."""
    planted(monkeypatch, conv_module, "_conv_weight_grad", lambda body: once(
        "return (g_mat", "result = (g_mat")(body) + "g[...] = 0\nreturn result\n")
    for public in (True, False):
        check_loses_only(CONV, scores_and_messages(CONV, conv_cases[public]), {"conv_backward"},
                         "the call changed the upstream gradient `grad` in place")


def test_assignment_for_addition_in_col2im_fails_a_public_case_with_overlapping_windows(conv_cases, monkeypatch):
    planted(monkeypatch, im2col_module, "col2im", once("] += cols", "] = cols"))
    for public in (True, False):
        score, messages = grade(CONV, "col2im", conv_cases[public]["col2im"])
        assert score < 20
        overlapping = [c for c in conv_cases[public]["col2im"]
                       if any(s < k for s, k in zip(c["params"]["stride"], c["params"]["kernel_size"]))]
        assert overlapping and all(compare.verdict(c, lambda x: x["expected"], run) for c in overlapping)


# ------------------------------------------------------------------ the unet kit's training parts
def _unet_plant(monkeypatch, qualname, new_body):
    planted(monkeypatch, unet_module, qualname, new_body, where=models)


TRIVIAL_INIT = '''super().__init__()
self.in_channels, self.out_channels, self.base_channels = in_channels, out_channels, base_channels
self.depth, self.up, self.batch_norm, self.skips = depth, up, batch_norm, skips
self.downs = ModuleList([double_conv(in_channels, base_channels, batch_norm)])
self.head = Conv2d(base_channels, out_channels, 1)
self.register_buffer("output_bias", output_bias(out_channels))
'''
TRIVIAL_FORWARD = "return add_output_bias(self.head(self.downs[0](x)), self.output_bias)\n"


@pytest.fixture(scope="module")
def unet_training_cases():
    """The training parts' public and hidden cases (their prerequisites' expected outputs computed; no run)."""
    return {(part, public): reference_cases(UNET, part, public) for part in ("training", "ablation")
            for public in (True, False)}


def _never_trained(case):
    assert "check" not in case, f"{case['id']}: trained, though a prerequisite fails"
    return run(case)


@pytest.mark.parametrize("mistake", ["trivial", "swapped", "cheat"])
def test_a_network_whose_forward_does_not_match_is_not_trained(mistake, unet_training_cases, monkeypatch):
    """A trivial network (two 3×3 convolutions and the head), the concatenation swapped, and the ablation
    cheat (skips=False zeroing the upsampled features instead of the copies): the parts that train lose
    every case, with a message that names the failed prerequisite, before any training run."""
    if mistake == "trivial":
        _unet_plant(monkeypatch, "UNet.__init__", lambda body: TRIVIAL_INIT)
        _unet_plant(monkeypatch, "UNet.forward", lambda body: TRIVIAL_FORWARD)
    elif mistake == "swapped":
        _unet_plant(monkeypatch, "UNet.forward", once("[bridge, x]", "[x, bridge]"))
    else:
        _unet_plant(monkeypatch, "UNet.forward", once(
            "bridge = copy if self.skips else creation.zeros_like(copy)",
            "bridge, x = copy, (x if self.skips else creation.zeros_like(x))"))
    parts = ("ablation",) if mistake == "cheat" else ("training", "ablation")
    for (part, public), cases in unet_training_cases.items():
        if part in parts:
            score, messages = grade(UNET, part, cases, runner=_never_trained)
            assert score == 0 and all(m.startswith("not run: it builds on `forward`, and your code fails its "
                                                   "prerequisite case trained-depth3") for m in messages), messages
    if mistake == "cheat":   # its skips=True network is right: the training part's prerequisite passes
        for public in (True, False):
            (case,) = unet_training_cases[("training", public)]
            assert all(compare.verdict(pre, lambda x: x["expected"], run) is None for pre in case["requires"])


def _tiny(case):
    """The public training case on a budget of seconds (the grader's own set-up otherwise)."""
    return {**case, "params": {**case["params"], "epochs": 1, "n_train": 8}}


def test_training_starts_from_the_courses_weights_whatever_the_construction_order(unet_training_cases, monkeypatch):
    """The same predictions twice from the reference, and from a network that builds its decoders before its
    up-samplings (same state dict, other random draws); a state dict that is not the contract's is refused."""
    (case,) = unet_training_cases[("training", True)]
    case = _tiny(case)
    first = harness.call(case["fn"], case["inputs"], case["params"])["pred"]
    assert np.array_equal(first, harness.call(case["fn"], case["inputs"], case["params"])["pred"])
    reordered = ("self.ups = ModuleList()\nself.decoders = ModuleList()",
                 "self.decoders = ModuleList()\nself.ups = ModuleList()")
    _unet_plant(monkeypatch, "UNet.__init__", once(*reordered, "self.register_buffer",
                                                   "self.spare = Conv2d(1, 1, 1)\nself.register_buffer"))
    with pytest.raises(ValueError, match="the network's state dict is not the contract's, so the course's initial "
                                         "weights do not load into it and it is not trained.*spare"):
        harness.call(case["fn"], case["inputs"], case["params"])
    _unet_plant(monkeypatch, "UNet.__init__", once(*reordered, "self.pool = MaxPool2d(2)",
                                                   "self.pool = MaxPool2d(2)\nConv2d(3, 3, 3)  # more random draws"))
    assert np.array_equal(first, harness.call(case["fn"], case["inputs"], case["params"])["pred"])


DETACHED = ("return add_output_bias(self.head(x), self.output_bias)",
            "x = type(x)(x.data)   # the decoder's output as a new leaf: no gradient reaches what came before\n"
            "return add_output_bias(self.head(x), self.output_bias)")


def test_a_detached_forward_passes_forward_and_the_prerequisites(unet_training_cases, monkeypatch):
    """The mistake a gated training part exists to catch matches the reference wherever outputs are compared."""
    _unet_plant(monkeypatch, "UNet.forward", once(*DETACHED))
    for public in (True, False):
        assert grade(UNET, "forward", reference_cases(UNET, "forward", public))[0] == 30
        for part in ("training", "ablation"):
            (case,) = unet_training_cases[(part, public)]
            assert all(compare.verdict(pre, lambda x: x["expected"], run) is None for pre in case["requires"])


@pytest.mark.slow
def test_a_detached_forward_loses_the_training_parts(unet_training_cases, monkeypatch):
    """Trained on the public seed, the network whose head sees the decoder's output as ``.data`` learns only its
    head: both training parts lose their case (architecture and forward keep theirs, above)."""
    _unet_plant(monkeypatch, "UNet.forward", once(*DETACHED))
    for part, says in (("training", "mean IoU 0.1"), ("ablation", "a gap of ")):
        score, messages = grade(UNET, part, unet_training_cases[(part, True)])
        assert score == 0 and says in messages[0], messages


def test_the_course_weights_are_the_references_own_at_the_training_seed(unet_training_cases):
    """What the reference drew before the weights were loaded by name: the calibrated runs are unchanged."""
    (case,) = unet_training_cases[("training", False)]
    md.manual_seed(case["params"]["seed"])
    t = UNET.training
    reference = models.UNet(t["in_channels"], 5, base_channels=t["base_channels"], depth=t["depth"], up=t["up"],
                            batch_norm=t["batch_norm"]).state_dict()
    loaded = {k[len(harness.INITIAL):]: v for k, v in case["inputs"].items() if k.startswith(harness.INITIAL)}
    assert loaded.keys() == reference.keys()
    assert all(np.array_equal(loaded[k], np.asarray(getattr(v, "data", v))) for k, v in reference.items())
