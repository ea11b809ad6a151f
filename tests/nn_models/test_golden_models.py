"""The built-in models' weights are PyTorch's (issue 16, item 6), via the golden file tests/support/golden/models.npz.

tests/support/golden/make_golden_models.py (run by hand where PyTorch is installed) built each model as
examples/to_pytorch.py writes it in PyTorch, drew its weights and stored them by their state_dict keys
with PyTorch's output. Here the minidense model of the same constructor arguments takes those weights,
by the same keys and with no reshaping, and must give the same output: the keys and layouts of
docs/pytorch.md hold, without PyTorch.
"""
import json

import numpy as np
import pytest
from golden_files import TOL, load_cases
from paths import ROOT

import minidense as md
from minidense import models

CASES = load_cases("models.npz")


def test_every_built_in_model_has_a_golden_case():
    kinds = {json.loads(str(fields["config"]))["model"] for fields in CASES.values()}
    assert kinds == {"FCN", "EncoderDecoder", "UNet", "AutoEncoder"}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_output_channel_of_the_golden_file_varies(case):
    """A channel constant over the image would mean dead ReLUs: a path whose weights the comparison misses."""
    y = CASES[case]["output"]
    assert (y.std(axis=(2, 3)) > 0.1 * y.std()).all()


@pytest.mark.parametrize("case", sorted(CASES))
def test_pytorch_weights_load_by_key_and_give_pytorchs_output(case):
    fields = CASES[case]
    config = json.loads(str(fields["config"]))
    model = getattr(models, config["model"])(**config["kwargs"]).to(dtype="float64").eval()
    weights = {name[2:]: value for name, value in fields.items() if name.startswith("w.")}
    ours = model.state_dict()
    assert not set(weights) - set(ours), f"PyTorch has keys minidense lacks: {sorted(set(weights) - set(ours))}"
    # the one thing PyTorch's module may lack: a model's own output bias (a parameter of the model itself,
    # not of a layer), added after the last layer; it is zero for this comparison
    extra = set(ours) - set(weights)
    assert all("." not in k for k in extra), f"minidense has layer keys PyTorch lacks: {sorted(extra)}"
    weights.update({k: np.zeros_like(ours[k]) for k in extra})
    for k, v in weights.items():
        assert v.shape == ours[k].shape, f"{k}: PyTorch stores {v.shape}, minidense {ours[k].shape}"
    model.load_state_dict(weights)
    with md.no_grad():
        out = model(md.tensor(fields["input"])).numpy()
    np.testing.assert_allclose(out, fields["output"], **TOL)


def test_the_pytorch_modules_take_minidenses_constructor_arguments():
    """examples/to_pytorch.py (not importable here: it needs PyTorch) mirrors each model's constructor."""
    import ast
    import inspect

    source = (ROOT / "examples" / "to_pytorch.py").read_text()
    classes = {node.name: node for node in ast.parse(source).body if isinstance(node, ast.ClassDef)}
    for name in ("FCN", "EncoderDecoder", "UNet", "AutoEncoder"):
        init = next(f for f in classes[name].body if isinstance(f, ast.FunctionDef) and f.name == "__init__")
        args = [a.arg for a in init.args.args[1:]]
        defaults = dict(zip(args[len(args) - len(init.args.defaults):], map(ast.literal_eval, init.args.defaults)))
        ours = inspect.signature(getattr(models, name)).parameters
        assert set(args) <= set(ours), f"{name}: examples/to_pytorch.py takes {sorted(set(args) - set(ours))}"
        for arg, default in defaults.items():
            assert ours[arg].default == default, f"{name}({arg}=...): PyTorch module {default!r}, " \
                                                 f"minidense {ours[arg].default!r}"
