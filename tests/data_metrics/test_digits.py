import builtins

import numpy as np
import pytest

from minidense.data import DataLoader, digits


def test_mosaics_shapes_labels_and_determinism():
    d = digits.generate(20, size=48, split="train", seed=1)
    assert d["image"].shape == (20, 1, 48, 48) and d["image"].dtype == np.float32
    assert d["labels"].shape == (20, 48, 48) and d["labels"].dtype == np.int64
    assert 0 <= d["image"].min() and d["image"].max() <= 1
    assert set(np.unique(d["labels"])) <= set(range(digits.NUM_CLASSES))
    assert len(np.unique(d["labels"])) > 5
    # each digit's pixels carry the class of its source digit; bright pixels are labelled, dark are not
    assert np.all(d["image"][:, 0][d["labels"] > 0] >= digits.STROKE_THRESHOLD)
    assert np.all(d["labels"][d["image"][:, 0] < digits.STROKE_THRESHOLD] == 0)
    images, targets = digits.load_source_digits()
    for i in range(20):
        placed = d["sources"][i][d["sources"][i] >= 0]
        assert 2 <= len(placed) <= 4
        assert set(np.unique(d["labels"][i])) - {0} <= set(1 + targets[placed])
    again = digits.generate(20, size=48, split="train", seed=1)
    np.testing.assert_array_equal(again["image"], d["image"])


def test_train_and_test_never_share_a_source_digit():
    train = digits.split_indices("train", 1797)
    test = digits.split_indices("test", 1797)
    assert len(train) + len(test) == 1797 and not set(train) & set(test)
    a = digits.generate(200, 48, split="train", seed=0)["sources"]
    b = digits.generate(200, 48, split="test", seed=0)["sources"]
    assert set(a[a >= 0]) <= set(train) and set(b[b >= 0]) <= set(test)


def test_dataset_and_loader():
    ds = digits.DigitsDataset(5, size=48, split="test", seed=2)
    images, labels = next(iter(DataLoader(ds, batch_size=5)))
    assert images.shape == (5, 1, 48, 48) and labels.shape == (5, 48, 48) and ds.num_classes == 11


def test_bad_arguments():
    with pytest.raises(ValueError, match="digits: split must be one of"):
        digits.generate(2, split="val")
    with pytest.raises(ValueError, match="digits.generate: size must be an int of at least 24"):
        digits.generate(2, size=16)


def test_missing_sklearn_gives_install_hint(monkeypatch):
    real_import = builtins.__import__

    def no_sklearn(name, *args, **kwargs):
        if name.startswith("sklearn"):
            raise ImportError("No module named 'sklearn'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_sklearn)
    with pytest.raises(ImportError, match=r"pip install 'minidense\[data\]'"):
        digits.load_source_digits()
