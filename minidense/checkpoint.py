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
