"""cupy.cuda.runtime (stand-in). The device count is 1, or MINIDENSE_STANDIN_GPUS (tests may change it)."""
import os as _os

_current = 0


def getDeviceCount():
    return int(_os.environ.get("MINIDENSE_STANDIN_GPUS", "1"))


def getDevice():
    return _current


def setDevice(device):
    global _current
    if not 0 <= int(device) < getDeviceCount():
        raise RuntimeError("cudaErrorInvalidDevice: invalid device ordinal")
    _current = int(device)


def deviceSynchronize():
    pass


def memGetInfo():
    return (80 << 30, 80 << 30)
