"""Assignment 5 (unet): the grader's pieces, the pinned training set-up, and its calibration.

The kit itself (stubs, public cases, planted mistakes, leaks) is tested for every assignment in
test_assignments.py; here: the boundary accuracy of training_checks.py agrees with the library's, the ablation's
verdict, every hyper-parameter reaches fit explicitly, the starter notebook's training cell runs, and
(slow) the reference clears both training targets at ten term seeds through the grader's own cases.
"""
import re
import time

import matplotlib
import numpy as np
import pytest

import minidense as md
from minidense import metrics
from minidense.assignments import ASSIGNMENTS, notebook
from minidense.assignments.cases import case_rng, make_cases
from minidense.assignments.course import unet
from minidense.assignments.grading import compare, harness, training_checks

SPEC = ASSIGNMENTS["unet"]


@pytest.mark.parametrize("width", [1, 2, 3])
def test_compare_boundary_accuracy_is_the_librarys(width):
    rng = np.random.default_rng(width)
    labels = np.repeat(np.repeat(rng.integers(0, 4, (3, 5, 6)), 3, axis=1), 3, axis=2)
    labels[rng.random(labels.shape) < 0.05] = 255
    pred = np.where(rng.random(labels.shape) < 0.8, labels % 255, rng.integers(0, 4, labels.shape))
    assert training_checks.boundary_accuracy(pred, labels, width) == pytest.approx(
        metrics.boundary_accuracy(pred, labels, width=width), abs=1e-12)


def _ablation_case():
    index = [p.name for p in SPEC.parts].index("ablation")
    (case,) = make_cases(SPEC, "ablation", case_rng(3, "ann", index), public=False)
    return case


def test_the_ablation_verdict_names_both_accuracies_and_the_gap():
    case = _ablation_case()
    labels = case["expected"]["labels"]
    good = np.where(labels == 255, 0, labels)
    edge = metrics.boundary_mask(labels, width=1)
    blurred = np.where(edge, 0, good)          # wrong at every boundary pixel that is not background
    assert compare.check_case(case, case["expected"], {"pred_skips": good, "pred_no_skips": blurred}) is None
    problem = compare.check_case(case, case["expected"], {"pred_skips": good, "pred_no_skips": good})
    assert "1.000 with skips, 1.000 without, a gap of 0.000, below the required" in problem
    assert case["hints"][0] in problem
    assert "`pred_no_skips`: expected integer labels" in compare.check_case(
        case, case["expected"], {"pred_skips": good, "pred_no_skips": good.astype(float)})
    assert "`pred_skips`: shape" in compare.check_case(
        case, case["expected"], {"pred_skips": good[:1], "pred_no_skips": good})


def test_every_hyper_parameter_reaches_fit_explicitly(monkeypatch):
    """Nothing depends on a default of fit, Adam or UNet: each pinned value is passed."""
    seen = {}

    def fake_fit(model, task, train, val, **kw):
        seen.update(model=model, task=task, n=len(train), size=train.size, **kw)
        return []
    import minidense.train
    monkeypatch.setattr(minidense.train, "fit", fake_fit)
    case = _ablation_case()
    case["params"]["n_train"] = 2   # the set-up is what is checked, not the data
    harness.train_unet(case["inputs"], case["params"])
    t = SPEC.training
    model = seen["model"]
    assert {k: getattr(model, k) for k in ("in_channels", "out_channels", "base_channels", "depth", "up",
                                            "batch_norm", "skips")} == {
        "in_channels": t["in_channels"], "out_channels": 5, "base_channels": t["base_channels"], "depth": t["depth"],
        "up": t["up"], "batch_norm": t["batch_norm"], "skips": True}
    assert seen["task"] == "segmentation" and seen["size"] == (t["size"], t["size"])
    assert {k: seen[k] for k in ("epochs", "batch_size", "lr", "schedule", "augment", "seed")} == {
        "epochs": t["epochs"], "batch_size": t["batch_size"], "lr": t["lr"], "schedule": t["schedule"],
        "augment": t["augment"], "seed": case["params"]["seed"]}
    opt = seen["optimizer"]
    assert type(opt).__name__ == t["optimizer"] and opt.param_groups[0]["lr"] == t["lr"]
    assert {id(p) for g in opt.param_groups for p in g["params"]} == {id(p) for p in model.parameters()}


def test_the_handout_states_the_pinned_set_up_and_the_targets():
    text = SPEC.handout_markdown()
    t = SPEC.training
    for needle in (f"at least **{t['target_miou']}**", f"by at least **{t['min_gap']}**",
                   f"{t['n_train']} built-in scenes of\n{t['size']}×{t['size']}", f"{t['epochs']} epochs",
                   f"Adam(model.parameters(), lr={t['lr']})", f'schedule `"{t["schedule"]}"`',
                   f"width={t['boundary_width']}", "F.concat([copy, upsampled], axis=1)", "self.<name>"):
        assert needle in text, needle
    assert t["target_miou"] == round(unet.REFERENCE_WORST_MIOU - unet.MIOU_MARGIN, 2)
    assert t["min_gap"] == round(unet.REFERENCE_WORST_GAP - unet.GAP_MARGIN, 3) == 0.005


def test_the_starter_notebooks_training_cell_runs():
    """The slow cell (shown without expected output) runs with the library, here on a tiny budget."""
    (cell,) = [c for c in SPEC.starter.cells if not c.expected]
    code = cell.code.replace(f"'epochs': {SPEC.training['epochs']}", "'epochs': 1").replace(
        f"'n_train': {SPEC.training['n_train']}", "'n_train': 8")
    assert code != cell.code
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    namespace = {"np": np, "md": md, "plt": plt}
    exec(compile(code, "starter cell", "exec"), namespace)
    assert set(namespace["preds"]) == {True, False}
    plt.close("all")


@pytest.mark.slow
def test_the_reference_clears_both_training_targets_at_ten_term_seeds():
    """Calibration, through the grader's own cases: at term seeds 1-10 the reference's ablation run (skips on and
    off) clears the ablation's gap, and its skips-on run (the training part's run, same code) the mean IoU target."""
    index = [p.name for p in SPEC.parts].index("ablation")
    rows = []
    for seed in range(1, 11):
        (case,) = make_cases(SPEC, "ablation", case_rng(seed, "reference", index), public=False)
        start = time.monotonic()
        got = harness.unet_skip_ablation(case["inputs"], case["params"])
        seconds = time.monotonic() - start
        labels, width = case["expected"]["labels"], case["params"]["boundary_width"]
        miou = training_checks.mean_iou(got["pred_skips"], labels, 5)
        gap = (training_checks.boundary_accuracy(got["pred_skips"], labels, width)
               - training_checks.boundary_accuracy(got["pred_no_skips"], labels, width))
        rows.append((case["params"]["seed"], miou, gap, seconds))
        print(f"\nterm seed {seed} (training seed {rows[-1][0]}): mean IoU {miou:.3f}, boundary gap {gap:.3f}, "
              f"two runs in {seconds:.0f} s", end="")
        assert compare.check_case(case, case["expected"], got) is None, rows[-1]
        assert training_checks.check_training_miou(case["expected"], {"pred": got["pred_skips"]},
                                           {**case["params"], "target_miou": SPEC.training["target_miou"]}) is None
    print(f"\nworst mean IoU {min(r[1] for r in rows):.3f} (target {SPEC.training['target_miou']}), worst gap "
          f"{min(r[2] for r in rows):.3f} (required {SPEC.training['min_gap']})")


@pytest.mark.slow
def test_the_ablation_cells_recorded_output_is_the_references():
    """The starter's ablation cell shows its output as recorded (too slow to run whenever a kit is made): run
    with the reference code and one BLAS thread it prints the same lines, each number within 0.02."""
    (cell,) = [c for c in SPEC.starter.cells if c.recorded]
    result = notebook.run_cells([SPEC.starter.setup, cell.code], timeout=1800)[1]
    assert result["error"] is None, result["error"]
    number = re.compile(r"\d+\.\d+")
    assert number.sub("#", result["text"]) == number.sub("#", cell.recorded), result["text"]
    got = [float(v) for v in number.findall(result["text"])]
    assert np.allclose(got, [float(v) for v in number.findall(cell.recorded)], atol=0.02), result["text"]
