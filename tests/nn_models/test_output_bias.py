"""The model is the predictor: every built-in model ends in an output bias that fit starts at the targets."""
import numpy as np
import pytest

import minidense as md
from minidense import checkpoint, metrics
from minidense.models import FCN, AutoEncoder, EncoderDecoder, UNet
from minidense.tasks import get_task
from minidense.train import fit

SIZE = 16
DEPTH_MODELS = {"unet": lambda: UNet(3, 1, base_channels=4, depth=3),
                "fcn": lambda: FCN(3, 1, base_channels=4),
                "encdec": lambda: EncoderDecoder(3, 1, base_channels=4, depth=3)}


def _images_and_depth(data):
    return (np.stack([data[i][0] for i in range(len(data))]).astype(np.float32),
            np.stack([data[i][1] for i in range(len(data))]))


@pytest.mark.parametrize("name", sorted(DEPTH_MODELS))
def test_model_output_is_depth_without_the_task(tmp_path, name):
    """Trained by fit on depth, saved, rebuilt from the weights alone: model(x) is the depth (no task object)."""
    task = get_task("depth")
    md.manual_seed(0)
    model = DEPTH_MODELS[name]()
    fit(model, task, task.dataset(48, size=SIZE, seed=0), epochs=3, batch_size=8, lr=3e-3, out=str(tmp_path),
        progress=False)
    rebuilt = DEPTH_MODELS[name]()
    rebuilt.load_state_dict(checkpoint.load(str(tmp_path / "last.npz"))["model"])   # weights only, strict
    images, truth = _images_and_depth(task.dataset(16, size=SIZE, seed=99))
    rebuilt.eval()
    with md.no_grad():
        raw = rebuilt(md.tensor(images)).numpy()
    scores = metrics.depth_metrics(np.maximum(raw, task.MIN_DEPTH), truth)
    mean = metrics.depth_metrics(np.full_like(truth, truth[truth > 0].mean()), truth)
    print(f"\n{name}: abs_rel of model(x) {scores['abs_rel']:.4f}; the held-out mean depth {mean['abs_rel']:.4f}")
    # better than the held-out mean depth (~0.12); a model whose offset lived in the task outputs ~0 (abs_rel ~1)
    assert scores["abs_rel"] < mean["abs_rel"], (scores["abs_rel"], mean["abs_rel"])
    assert np.array_equal(task.predict(raw), np.maximum(raw, task.MIN_DEPTH))   # predict only clamps


def test_fresh_run_starts_the_bias_at_the_targets_and_loaded_weights_keep_theirs():
    task = get_task("depth")
    data = task.dataset(8, size=SIZE, seed=0)
    mean_depth = np.mean([d[d > 0].mean() for d in [data[i][1] for i in range(len(data))]])
    model = UNet(3, 1, base_channels=2, depth=2)
    assert np.array_equal(model.output_bias.numpy(), [0.0])      # built as zeros
    assert "output_bias" in model.state_dict()                   # saved with the weights
    assert all(p is not model.output_bias for p in model.parameters())   # not trained
    fit(model, task, data, epochs=1, batch_size=8, lr=1e-12, progress=False, augment=False)
    np.testing.assert_allclose(model.output_bias.numpy(), [mean_depth], rtol=1e-5)
    loaded = UNet(3, 1, base_channels=2, depth=2)
    loaded.load_state_dict({**model.state_dict(), "output_bias": np.array([2.0], np.float32)})
    fit(loaded, task, data, epochs=1, batch_size=8, lr=1e-12, progress=False, augment=False)
    np.testing.assert_allclose(loaded.output_bias.numpy(), [2.0], rtol=1e-6)   # not re-initialised


def test_segmentation_and_autoencode_leave_the_bias_at_zero():
    for task, model in ((get_task("segmentation"), UNet(3, 5, base_channels=2, depth=2)),
                        (get_task("autoencode"), AutoEncoder(3, size=8, latent_dim=4, base_channels=2))):
        fit(model, task, task.dataset(4, size=8, seed=0), epochs=1, batch_size=4, lr=1e-12, progress=False)
        assert np.abs(model.output_bias.numpy()).max() < 1e-9


def test_an_old_checkpoint_gets_its_task_offset_folded_into_the_bias(tmp_path):
    """Before the output bias, the task added config["task_state"]["offset"]: it becomes output_bias."""
    md.manual_seed(0)
    old = UNet(3, 1, base_channels=2, depth=2, batch_norm=False).eval()   # as runs were before
    weights = old.state_dict()
    del weights["output_bias"]
    config = {"task": "depth", "model": "unet", "size": SIZE, "base_channels": 2, "depth": 2,
              "task_state": {"offset": [4.25]}}
    path = str(tmp_path / "old.npz")
    checkpoint.save(path, model=weights, epoch=1, config=config)
    model, task, _ = checkpoint.load_model(path, "cpu")
    assert model.output_bias.numpy().tolist() == [4.25]
    x = md.tensor(np.random.default_rng(0).uniform(size=(1, 3, SIZE, SIZE)).astype(np.float32))
    with md.no_grad():
        np.testing.assert_allclose(model(x).numpy(), old(x).numpy() + 4.25, rtol=1e-6)   # old raw + offset
    del config["task_state"]            # a run without an offset (segmentation): zero bias
    checkpoint.save(path, model=weights, epoch=1, config=config)
    assert checkpoint.load_model(path, "cpu")[0].output_bias.numpy().tolist() == [0.0]


def test_an_old_encoder_decoder_checkpoint_is_refused_not_misread(tmp_path):
    """Before, EncoderDecoder's depth counted poolings: the same keys and shapes now mean another network."""
    weights = EncoderDecoder(3, 1, base_channels=2, depth=2, batch_norm=False).state_dict()
    del weights["output_bias"]
    path = str(tmp_path / "old.npz")
    checkpoint.save(path, model=weights, epoch=1, config={"task": "depth", "model": "encdec", "size": SIZE,
                                                          "base_channels": 2, "depth": 2})
    with pytest.raises(checkpoint.CheckpointError, match="depth counted poolings"):
        checkpoint.load_model(path, "cpu")
