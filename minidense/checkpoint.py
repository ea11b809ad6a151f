"""Checkpoints: weights, optimizer state, epoch, random state and the run's config in one .npz file.

No pickle anywhere: arrays are stored as arrays, everything else as one JSON
string; files are loaded with ``allow_pickle=False``. A checkpoint is written
to a temporary file in the same folder, flushed to disk and renamed over the
old one, so a process killed while writing leaves the previous checkpoint intact.
"""
import json
import os
import tempfile

import numpy as np

from . import backend

FORMAT = "minidense-checkpoint"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A file that is not a (readable, compatible) minidense checkpoint."""


def _split(obj, arrays, prefix):
    """Replace every array inside a nested dict/list by a reference, collecting the arrays."""
    if backend.is_array(obj):
        key = f"{prefix}"
        arrays[key] = backend.to_numpy(obj)
        return {"__array__": key}
    if isinstance(obj, dict):
        return {str(k): _split(v, arrays, f"{prefix}/{k}") for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_split(v, arrays, f"{prefix}/{i}") for i, v in enumerate(obj)]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _join(obj, arrays):
    if isinstance(obj, dict):
        if set(obj) == {"__array__"}:
            return arrays[obj["__array__"]]
        return {k: _join(v, arrays) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_join(v, arrays) for v in obj]
    return obj


def save(path, **state):
    """Write ``state`` (nested dicts / lists of arrays, numbers, strings) atomically to ``path``."""
    arrays = {}
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "state": _split(state, arrays, "s")}
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, __meta__=np.array(json.dumps(meta)), **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def remove_partial_writes(folder):
    """Delete temporary files left by writes that were killed half-way (the checkpoints are untouched)."""
    for name in os.listdir(folder):
        if name.startswith(".tmp-") and name.endswith(".npz"):
            os.remove(os.path.join(folder, name))


def load(path):
    """Read a checkpoint written by :func:`save`; a clear CheckpointError for anything else."""
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint {path!r} does not exist")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except Exception as exc:  # truncated zip, not a zip, pickled objects...
        raise CheckpointError(f"{path!r} is not a readable minidense checkpoint ({type(exc).__name__}: {exc})") \
            from None
    if "__meta__" not in arrays:
        raise CheckpointError(f"{path!r} is an .npz file but not a minidense checkpoint (no metadata)")
    try:
        meta = json.loads(str(arrays.pop("__meta__")))
    except ValueError:
        raise CheckpointError(f"{path!r} has unreadable metadata") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path!r} is not a minidense checkpoint (format {meta.get('format')!r})")
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(f"{path!r} has checkpoint format version {version}, newer than this minidense "
                              f"reads ({FORMAT_VERSION}); upgrade minidense")
    return _join(meta["state"], arrays)


# ---------------------------------------------------------------- rebuilding what a run trained
# A run's config (in every checkpoint) records how to make its model, task and input again:
#   model, model_args    the built-in model's name and every constructor argument
#   task, task_options   get_task(task, **task_options)
#   classes              segmentation: [{"name", "colour": [r, g, b]}] per class index
#   input                {"channels", "mean", "std"}: the model takes (image in [0, 1] - mean) / std
# Keys missing from an older checkpoint mean what the command line built before they were recorded.
LEGACY_MODEL_ARGS = {"unet": {"up": "transpose", "batch_norm": False, "skips": True},
                     "encdec": {"skips": True, "batch_norm": False},
                     "fcn": {}, "autoencoder": {"latent_dim": 32, "sigmoid": True}}


def _model_classes():
    from . import models
    return {"unet": models.UNet, "encdec": models.EncoderDecoder, "fcn": models.FCN,
            "autoencoder": models.AutoEncoder}


def describe_model(model):
    """``{"model": name, "model_args": {...}}`` for a built-in model (every constructor argument, read
    back from the attribute of the same name); ``{}`` for any other model."""
    import inspect
    name = next((n for n, cls in _model_classes().items() if type(model) is cls), None)
    if name is None:
        return {}
    params = [p for p in inspect.signature(type(model).__init__).parameters if p != "self"]
    missing = [p for p in params if not hasattr(model, p)]
    if missing:
        raise TypeError(f"describe_model: {type(model).__name__} keeps no attribute for constructor arguments "
                        f"{missing}, so a checkpoint could not rebuild it")
    return {"model": name, "model_args": {p: getattr(model, p) for p in params}}


def describe_task(task, train_data=None):
    """``task_options``, ``classes`` (segmentation) and ``input`` for a run's config."""
    options = {"segmentation": lambda t: {"num_classes": t.num_classes}, "depth": lambda t: {"loss": t.kind},
               "keypoints": lambda t: {"threshold": t.threshold, "size": t.size}}.get(task.name, lambda t: {})(task)
    config = {"task_options": options, "input": {"channels": task.in_channels, "mean": [0.0] * task.in_channels,
                                                 "std": [1.0] * task.in_channels}}
    if task.name == "segmentation":
        names = getattr(train_data, "classes", None)
        colours = getattr(train_data, "colours", None)
        config["classes"] = class_table(task.num_classes, names, colours)
    return config


def class_table(num_classes, names=None, colours=None):
    """[{"name", "colour"}] for class indices 0..num_classes-1; default names "class i", VOC's colours."""
    from .data.io import voc_palette
    names = list(names) if names is not None and len(names) == num_classes else [f"class {i}" for i in
                                                                                  range(num_classes)]
    colours = np.asarray(colours if colours is not None and len(colours) == num_classes else
                         voc_palette()[:num_classes]).astype(int).tolist()
    return [{"name": str(n), "colour": c} for n, c in zip(names, colours)]


def rebuild(config):
    """(model, task) made again from a run's config alone (weights not loaded); see the keys above."""
    from .tasks import get_task
    if "model" not in config or "task" not in config:
        raise CheckpointError("this checkpoint holds no run configuration (was it written by `minidense train` "
                              "or fit?)")
    task = get_task(config["task"], **config.get("task_options", {}))
    classes = _model_classes()
    if config["model"] not in classes:
        raise CheckpointError(f"the checkpoint's model {config['model']!r} is not a built-in model "
                              f"({', '.join(classes)})")
    args = config.get("model_args")
    if args is None:     # written before model_args: what the command line built then
        args = {"in_channels": task.in_channels, "base_channels": config["base_channels"],
                **LEGACY_MODEL_ARGS[config["model"]]}
        if config["model"] != "autoencoder":
            args["out_channels"] = task.out_channels
        if config["model"] in ("unet", "encdec"):
            args["depth"] = config["depth"]
        if config["model"] == "autoencoder":
            args["size"] = config["size"]
    return classes[config["model"]](**args), task


def complete(config, task):
    """The config with today's values for what an older checkpoint did not record (classes, input)."""
    from .data import scenes
    config = dict(config)
    if task.name == "segmentation" and "classes" not in config:
        config["classes"] = class_table(task.num_classes, scenes.CLASSES if task.num_classes == scenes.NUM_CLASSES
                                        else None)
    config.setdefault("input", describe_task(task)["input"])
    return config


def load_model(path, device="cpu"):
    """(model in eval mode on ``device``, task, config) from a checkpoint file alone; the config has every
    key of a current checkpoint (today's values where an older one recorded none)."""
    state = load(path)
    config = state.get("config") or {}
    model, task = rebuild(config)
    config = complete(config, task)
    model.load_state_dict(model_state(state, model))
    model.to(device)
    model.eval()
    return model, task, config


def model_state(state, model):
    """The weights of a run checkpoint ``state`` (from :func:`load`) as ``model.load_state_dict`` takes them.

    Checkpoints written before the models carried their output bias have no ``output_bias`` key; their
    task added a learned offset instead, kept in ``config["task_state"]["offset"]``. That offset is folded
    into ``output_bias`` (zeros where there was none), so an old run's model predicts exactly as it did.
    An old encoder-decoder checkpoint is refused with a CheckpointError: its ``depth`` counted poolings, so
    the same keys and shapes would silently compute something else today.
    """
    weights = dict(state["model"])
    expected = model.state_dict()
    if "output_bias" in expected and "output_bias" not in weights:
        if (state.get("config") or {}).get("model") == "encdec":
            # its depth counted poolings then: the same keys and shapes now mean one pooling less
            raise CheckpointError("this encoder-decoder checkpoint predates the output bias, when its depth "
                                  "counted poolings rather than levels; it cannot be loaded into today's model "
                                  "(retrain it)")
        offset = (((state.get("config") or {}).get("task_state")) or {}).get("offset")
        bias = np.zeros_like(expected["output_bias"])
        if offset is not None:
            if len(offset) != len(bias):
                raise CheckpointError(f"the checkpoint's task offset has {len(offset)} channels but the model's "
                                      f"output_bias has {len(bias)}")
            bias[:] = offset
        weights["output_bias"] = bias
    return weights
