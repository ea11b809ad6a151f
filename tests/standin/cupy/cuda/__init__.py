"""cupy.cuda (stand-in): a device object, the device count, synchronisation; no kernels, no streams."""
from . import runtime

__all__ = ["Device", "get_device_id", "is_available", "runtime"]


class Device:
    """A CUDA device by number (default: the current one); ``with Device(n):`` and ``use()`` select it."""

    def __init__(self, device=None):
        self.id = runtime.getDevice() if device is None else int(device)
        self._previous = []

    def __int__(self):
        return self.id

    def __repr__(self):
        return f"<CUDA Device {self.id}>"

    def __eq__(self, other):
        return isinstance(other, Device) and other.id == self.id

    def __hash__(self):
        return hash(self.id)

    def use(self):
        runtime.setDevice(self.id)

    def synchronize(self):
        runtime.deviceSynchronize()

    def __enter__(self):
        self._previous.append(runtime.getDevice())
        runtime.setDevice(self.id)
        return self

    def __exit__(self, *exc):
        runtime.setDevice(self._previous.pop())

    @property
    def compute_capability(self):
        return "90"


def get_device_id():
    return runtime.getDevice()


def is_available():
    return runtime.getDeviceCount() > 0
