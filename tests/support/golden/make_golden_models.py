"""Write tests/support/golden/models.npz: the built-in models run by PyTorch, through examples/to_pytorch.py's modules.

Run by hand, in a side environment that has PyTorch (never a dependency of minidense):

    python3 -m venv /tmp/torchenv_models && /tmp/torchenv_models/bin/pip install torch numpy
    /tmp/torchenv_models/bin/python tests/support/golden/make_golden_models.py

For each case: the PyTorch module of examples/to_pytorch.py built with the case's constructor
arguments, its weights drawn at random (multiples of 1/64; batch-norm running statistics and affine
parameters too, with positive scales, so that each one counts and the ReLUs stay alive), run in eval
mode in float64 on a random input. Stored as ``<case>__<field>``: ``config`` (JSON: the minidense class
and its keyword arguments), ``input``, ``output`` and every state_dict entry as ``w.<key>``.
tests/nn_models/test_golden_models.py loads those weights into the minidense model of the same config, by the
same keys, and compares its output: the check that the keys and layouts documented in docs/pytorch.md
are PyTorch's.
"""
import importlib.util
import json
import os

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(HERE, "..", "..", "examples", "to_pytorch.py")
gen = np.random.default_rng(2026)

# case -> (class name in minidense.models and in examples/to_pytorch.py, constructor keyword arguments)
CASES = {
    "fcn": ("FCN", dict(in_channels=3, out_channels=4, base_channels=4)),
    "encdec": ("EncoderDecoder", dict(in_channels=3, out_channels=4, base_channels=4, depth=2, batch_norm=False)),
    "encdec_batch_norm": ("EncoderDecoder", dict(in_channels=3, out_channels=4, base_channels=4, depth=2,
                                                 batch_norm=True)),
    "encdec_no_skips": ("EncoderDecoder", dict(in_channels=3, out_channels=2, base_channels=4, depth=2, skips=False,
                                               batch_norm=False)),
    "unet": ("UNet", dict(in_channels=3, out_channels=4, base_channels=4, depth=3, batch_norm=False)),
    "unet_batch_norm": ("UNet", dict(in_channels=3, out_channels=4, base_channels=4, depth=3, batch_norm=True)),
    "unet_bilinear_no_skips": ("UNet", dict(in_channels=3, out_channels=2, base_channels=4, depth=3,
                                            up="bilinear", skips=False, batch_norm=False)),
    "autoencoder": ("AutoEncoder", dict(in_channels=3, size=8, latent_dim=8, base_channels=4)),
}


def load_example():
    spec = importlib.util.spec_from_file_location("to_pytorch", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(example, kind, kwargs):
    model = getattr(example, kind)(**kwargs).double().eval()
    with torch.no_grad():
        bn = {name for name, m in model.named_modules() if isinstance(m, torch.nn.BatchNorm2d)}
        for name, t in model.state_dict().items():
            # multiples of 1/64: exact in float64, and the file compresses
            owner, field = name.rsplit(".", 1)
            if t.dtype != torch.float64:        # num_batches_tracked: any count, it must only come through
                t.fill_(int(gen.integers(1, 100)))
            elif owner in bn and field in ("weight", "running_var"):    # positive: the ReLUs after stay alive
                t.copy_(torch.from_numpy(gen.integers(32, 97, tuple(t.shape)) / 64))
            elif owner in bn:                   # bias, running_mean: small
                t.copy_(torch.from_numpy(gen.integers(-8, 9, tuple(t.shape)) / 64))
            else:                               # in [-1/2, 1/2]
                t.copy_(torch.from_numpy(gen.integers(-32, 33, tuple(t.shape)) / 64))
        x = gen.standard_normal((1, kwargs["in_channels"], 8, 8))
        y = model(torch.from_numpy(x)).numpy()
    spread = y.std(axis=(2, 3)) / y.std()
    assert spread.min() > 0.1, f"{kind}{kwargs}: an output channel is nearly constant {spread}: dead ReLUs"
    record = {"config": np.array(json.dumps(dict(model=kind, kwargs=kwargs))), "input": x, "output": y}
    record.update({f"w.{k}": v.numpy() for k, v in model.state_dict().items()})
    return record


if __name__ == "__main__":
    example = load_example()
    flat = {f"{case}__{field}": np.asarray(v) for case, (kind, kwargs) in CASES.items()
            for field, v in run(example, kind, kwargs).items()}
    np.savez_compressed(os.path.join(HERE, "models.npz"), **flat)
    print(f"wrote tests/support/golden/models.npz with torch {torch.__version__}")
