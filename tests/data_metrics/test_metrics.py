import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minidense as md
from minidense import metrics
from minidense.constants import IGNORE_INDEX

# ---------------------------------------------------------------- worked examples


def test_lecture_point_all_background_has_high_accuracy_low_miou():
    target = np.zeros((1, 10, 10), dtype=np.int64)
    target[0, 4:6, 4:6] = 1                       # a 4-pixel object in 100 pixels
    pred = np.zeros_like(target)                  # "everything is background"
    s = metrics.segmentation_scores(pred, target, 2)
    assert s["pixel_accuracy"] == pytest.approx(0.96)
    assert s["mean_accuracy"] == pytest.approx(0.5)           # (1 + 0) / 2
    np.testing.assert_allclose(s["iou"], [0.96, 0.0])
    assert s["miou"] == pytest.approx(0.48)
    assert s["fwiou"] == pytest.approx(0.96 * 0.96)


def test_hand_computed_confusion_and_scores():
    target = np.array([[0, 0, 1, 1], [2, 2, 2, IGNORE_INDEX]])
    pred = np.array([[0, 1, 1, 1], [2, 0, 2, 3]])
    cm = metrics.confusion_matrix(pred, target, 4)
    expected = np.zeros((4, 4), dtype=np.int64)
    expected[0, 0] = expected[0, 1] = 1
    expected[1, 1] = 2
    expected[2, 2], expected[2, 0] = 2, 1
    np.testing.assert_array_equal(cm, expected)
    s = metrics.segmentation_scores(pred, target, 4)
    assert s["pixel_accuracy"] == pytest.approx(5 / 7)
    assert s["mean_accuracy"] == pytest.approx((1 / 2 + 1 + 2 / 3) / 3)
    # class 0: tp 1, union 2 + 2 - 1 = 3; class 1: 2 / 3; class 2: 2 / 3; class 3 absent from both
    np.testing.assert_allclose(s["iou"][:3], [1 / 3, 2 / 3, 2 / 3])
    assert np.isnan(s["iou"][3])
    assert s["miou"] == pytest.approx(5 / 9)
    assert s["fwiou"] == pytest.approx(2 / 7 * 1 / 3 + 2 / 7 * 2 / 3 + 3 / 7 * 2 / 3)


def test_class_only_in_prediction_counts_with_zero_iou():
    target = np.array([[0, 0]])
    pred = np.array([[0, 1]])
    s = metrics.segmentation_scores(pred, target, 3)
    np.testing.assert_allclose(s["iou"][:2], [0.5, 0.0])
    assert np.isnan(s["iou"][2]) and s["miou"] == pytest.approx(0.25)


def test_boundary_accuracy_worked_example():
    target = np.zeros((1, 8, 8), dtype=np.int64)
    target[0, :, 4:] = 1
    pred = np.zeros_like(target)                  # misses the whole right half
    mask = metrics.boundary_mask(target, width=1)
    np.testing.assert_array_equal(np.nonzero(mask[0].any(0))[0], [3, 4])   # the two columns at the edge
    assert metrics.boundary_accuracy(pred, target, width=1) == pytest.approx(0.5)
    assert metrics.boundary_accuracy(pred, target, width=3) == pytest.approx(0.5)
    pred[0, :, 4] = 1
    assert metrics.boundary_accuracy(pred, target, width=1) == pytest.approx(1.0)
    assert metrics.boundary_accuracy(pred, target, width=3) == pytest.approx((24 + 8) / 48)
    assert np.isnan(metrics.boundary_accuracy(pred, np.zeros_like(target)))


def test_depth_worked_example():
    target = np.array([1.0, 2.0, 4.0, 1.0])
    pred = np.array([1.0, 1.0, 5.0, 2.0])
    d = metrics.depth_metrics(pred, target)
    assert d["abs_rel"] == pytest.approx((0 + 0.5 + 0.25 + 1) / 4)
    assert d["sq_rel"] == pytest.approx((0 + 0.5 + 0.25 + 1) / 4)
    assert d["rmse"] == pytest.approx(np.sqrt((0 + 1 + 1 + 1) / 4))
    g = np.log([1, 0.5, 1.25, 2])
    assert d["rmse_log"] == pytest.approx(np.sqrt(np.mean(g ** 2)))
    assert d["silog"] == pytest.approx(100 * np.sqrt(np.mean(g ** 2) - np.mean(g) ** 2))
    assert (d["delta1"], d["delta2"], d["delta3"]) == (0.25, 0.5, 0.5)   # ratios 1, 2, 1.25, 2


def test_silog_ignores_global_scale():
    rng = np.random.default_rng(0)
    t = rng.uniform(1, 5, (2, 1, 6, 6))
    assert metrics.depth_metrics(3 * t, t)["silog"] == pytest.approx(0, abs=1e-5)
    assert metrics.depth_metrics(3 * t, t)["abs_rel"] == pytest.approx(2)


def test_normals_worked_example():
    target = np.zeros((1, 3, 1, 4))
    target[0, 2] = 1                               # all facing the camera
    angles = np.radians([0.0, 10.0, 25.0, 90.0])
    pred = np.stack([np.sin(angles), np.zeros(4), np.cos(angles)])[None, :, None, :] * 3   # not unit
    m = metrics.normal_metrics(pred, target)
    assert m["mean"] == pytest.approx(31.25)
    assert m["median"] == pytest.approx(17.5)
    assert (m["within_11_25"], m["within_22_5"], m["within_30"]) == (0.5, 0.5, 0.75)


def test_pck_worked_example():
    true = np.array([[0.0, 0.0], [10.0, 10.0], [5.0, 5.0]])
    pred = np.array([[1.0, 1.0], [14.0, 13.0], [50.0, 5.0]])        # distances 1.41, 5, 45
    assert metrics.pck(pred, true, 2) == pytest.approx(1 / 3)
    assert metrics.pck(pred, true, 5) == pytest.approx(2 / 3)
    assert metrics.pck(pred, true, 5, visible=np.array([True, True, False])) == 1.0


# ---------------------------------------------------------------- against independent computations
def _naive_scores(pred, target, c):
    v = target != IGNORE_INDEX
    ious, accs = [], []
    for k in range(c):
        inter = np.sum((pred == k) & (target == k) & v)
        union = np.sum(((pred == k) | (target == k)) & v)
        if union:
            ious.append(inter / union)
        if np.sum((target == k) & v):
            accs.append(inter / np.sum((target == k) & v))
    return np.mean(pred[v] == target[v]), np.mean(accs), np.mean(ious)


def test_segmentation_matches_a_naive_loop_on_random_maps():
    rng = np.random.default_rng(1)
    for c in (2, 5, 7):
        target = rng.integers(0, c, (3, 9, 11))
        target[rng.uniform(size=target.shape) < 0.1] = IGNORE_INDEX
        pred = rng.integers(0, c, target.shape)
        s = metrics.segmentation_scores(pred, target, c)
        acc, macc, miou = _naive_scores(pred, target, c)
        assert (s["pixel_accuracy"], s["mean_accuracy"], s["miou"]) == pytest.approx((acc, macc, miou))


def test_depth_and_normals_match_direct_formulas_on_random_data():
    rng = np.random.default_rng(2)
    t, p = rng.uniform(0.5, 10, (2, 1, 5, 7)), rng.uniform(0.5, 10, (2, 1, 5, 7))
    d = metrics.depth_metrics(p, t)
    assert d["rmse"] == pytest.approx(np.sqrt(np.mean((p - t) ** 2)))
    assert d["delta1"] == pytest.approx(np.mean(np.maximum(p / t, t / p) < 1.25))
    pn, tn = rng.normal(size=(2, 3, 4, 5)), rng.normal(size=(2, 3, 4, 5))
    ang = [np.degrees(np.arccos(np.dot(pn[i, :, y, x], tn[i, :, y, x])
                                / np.linalg.norm(pn[i, :, y, x]) / np.linalg.norm(tn[i, :, y, x])))
           for i in range(2) for y in range(4) for x in range(5)]
    m = metrics.normal_metrics(pn, tn)
    assert (m["mean"], m["median"], m["within_30"]) == pytest.approx((np.mean(ang), np.median(ang),
                                                                       np.mean(np.array(ang) < 30)))


# ---------------------------------------------------------------- properties
label_maps = st.tuples(st.integers(2, 6), st.integers(0, 2**31 - 1))


@given(label_maps)
def test_perfect_prediction_scores_one(params):
    c, seed = params
    target = np.random.default_rng(seed).integers(0, c, (2, 6, 6))
    s = metrics.segmentation_scores(target, target, c)
    assert s["pixel_accuracy"] == s["mean_accuracy"] == s["miou"] == pytest.approx(1.0)
    assert s["fwiou"] == pytest.approx(1.0)
    depth = np.random.default_rng(seed).uniform(1, 3, (1, 1, 4, 4))
    d = metrics.depth_metrics(depth, depth)
    assert d["rmse"] == d["abs_rel"] == d["silog"] == 0 and d["delta1"] == 1
    normals = np.random.default_rng(seed).normal(size=(1, 3, 4, 4))
    assert metrics.normal_metrics(normals, normals)["mean"] == pytest.approx(0, abs=1e-5)


@given(label_maps)
def test_iou_in_unit_interval_and_renaming_changes_nothing(params):
    c, seed = params
    rng = np.random.default_rng(seed)
    target, pred = rng.integers(0, c, (2, 5, 7)), rng.integers(0, c, (2, 5, 7))
    s = metrics.segmentation_scores(pred, target, c)
    iou = s["iou"][~np.isnan(s["iou"])]
    assert np.all((iou >= 0) & (iou <= 1)) and 0 <= s["miou"] <= 1
    perm = rng.permutation(c)
    r = metrics.segmentation_scores(perm[pred], perm[target], c)
    for key in ("pixel_accuracy", "mean_accuracy", "miou", "fwiou"):
        assert r[key] == pytest.approx(s[key])
    np.testing.assert_allclose(r["iou"][perm], s["iou"])


@given(st.integers(0, 2**31 - 1))
def test_meters_accumulated_equal_one_shot(seed):
    rng = np.random.default_rng(seed)
    c = 4
    target = rng.integers(0, c, (6, 8, 8))
    target[:, 3] = IGNORE_INDEX
    pred = np.where(rng.uniform(size=target.shape) < 0.7, np.where(target == IGNORE_INDEX, 0, target),
                    rng.integers(0, c, target.shape))
    seg = metrics.SegmentationMeter(c)
    dt, dp = rng.uniform(1, 5, (6, 1, 8, 8)), rng.uniform(1, 5, (6, 1, 8, 8))
    mask = rng.uniform(size=dt.shape) < 0.8
    dm, nm = metrics.DepthMeter(), metrics.NormalMeter()
    nt, np_ = rng.normal(size=(6, 3, 8, 8)), rng.normal(size=(6, 3, 8, 8))
    km = metrics.KeypointMeter(1.0)
    kt, kp = rng.uniform(0, 8, (6, 5, 2)), rng.uniform(0, 8, (6, 5, 2))
    for b in (slice(0, 2), slice(2, 5), slice(5, 6)):
        seg.update(pred[b], target[b])
        dm.update(dp[b], dt[b], mask[b])
        nm.update(np_[b], nt[b])
        km.update(kp[b], kt[b])
    one = metrics.segmentation_scores(pred, target, c)
    got = seg.compute()
    for key in ("pixel_accuracy", "mean_accuracy", "miou", "fwiou"):
        assert got[key] == pytest.approx(one[key])
    assert got["boundary_accuracy"] == pytest.approx(metrics.boundary_accuracy(pred, target))
    assert dm.compute() == pytest.approx(metrics.depth_metrics(dp, dt, mask))
    n_one, n_acc = metrics.normal_metrics(np_, nt), nm.compute()
    assert n_acc["median"] == pytest.approx(n_one["median"], abs=metrics.ANGLE_BIN_DEGREES)
    assert {k: v for k, v in n_acc.items() if k != "median"} == pytest.approx(
        {k: v for k, v in n_one.items() if k != "median"})
    assert km.compute()["pck"] == pytest.approx(metrics.pck(kp, kt, 1.0))


def test_accepts_tensors():
    target = np.array([[0, 1], [1, 1]])
    s = metrics.segmentation_scores(md.tensor(target), md.tensor(target), 2)
    assert s["miou"] == 1.0
    d = metrics.depth_metrics(md.tensor(np.ones((1, 1, 2, 2), np.float32)), np.ones((1, 1, 2, 2)))
    assert d["rmse"] == 0


@pytest.mark.gpu
def test_accepts_cupy_arrays():
    import cupy
    target = cupy.asarray(np.array([[0, 1], [1, 1]]))
    assert metrics.segmentation_scores(target, target, 2)["miou"] == 1.0
    assert metrics.normal_metrics(cupy.ones((3, 2, 2)), cupy.ones((3, 2, 2)))["mean"] == pytest.approx(0, abs=1e-5)


# ---------------------------------------------------------------- bad input
def test_bad_input_is_a_clear_error():
    a = np.zeros((2, 4, 4), dtype=np.int64)
    with pytest.raises(ValueError, match=r"segmentation_scores: pred and target must have the same shape"):
        metrics.segmentation_scores(a, a[:, :3], 3)
    with pytest.raises(ValueError, match=r"confusion_matrix: target holds class 5, outside \[0, 3\)"):
        metrics.confusion_matrix(a, a + 5, 3)
    with pytest.raises(ValueError, match=r"pred holds class 3"):
        metrics.SegmentationMeter(3).update(a + 3, a)
    with pytest.raises(TypeError, match=r"integer label map"):
        metrics.segmentation_scores(a.astype(np.float32), a, 3)
    with pytest.raises(ValueError, match=r"depth_metrics: target has no valid pixel"):
        metrics.depth_metrics(np.ones((1, 1, 2, 2)), np.zeros((1, 1, 2, 2)))
    with pytest.raises(ValueError, match=r"depth_metrics: pred must be finite and > 0"):
        metrics.depth_metrics(-np.ones((1, 1, 2, 2)), np.ones((1, 1, 2, 2)))
    with pytest.raises(ValueError, match=r"normal_metrics: normals must have 3 channels"):
        metrics.normal_metrics(np.ones((1, 2, 4, 4)), np.ones((1, 2, 4, 4)))
    with pytest.raises(ValueError, match=r"no valid pixel"):
        metrics.NormalMeter().update(np.ones((1, 3, 2, 2)), np.zeros((1, 3, 2, 2)))
    with pytest.raises(ValueError, match=r"pck: no visible keypoint"):
        metrics.pck(np.zeros((2, 2)), np.zeros((2, 2)), 1.0, visible=np.zeros(2, dtype=bool))
    with pytest.raises(ValueError, match=r"KeypointMeter: threshold must be a positive number"):
        metrics.KeypointMeter(0)
    with pytest.raises(ValueError, match=r"no labelled pixel"):
        metrics.segmentation_scores(a, a + IGNORE_INDEX, 3)
    with pytest.raises(TypeError, match=r"must be a NumPy/CuPy array or a Tensor, got list"):
        metrics.depth_metrics([1.0], [1.0])
