"""The grader's wire format between the scoring process and the child that runs student code.

A message is a JSON header and named arrays, each sent as one frame (8-byte little-endian length, then
the bytes); arrays travel as ``.npy`` bytes and are read with ``allow_pickle=False``: no pickle, so a
child can send nothing but plain arrays of numbers. Reads and writes carry a deadline and size limits,
so a child that hangs, floods or sends garbage costs its own cases only.
"""
import io
import json
import os
import select
import struct
import time

import numpy as np

MAX_HEADER = 1 << 20          # bytes in a JSON header
MAX_ARRAY = 256 << 20         # bytes in one array frame
MAX_ARRAYS = 64               # arrays in one message


class ProtocolError(Exception):
    """The other side sent something that is not a message, or too much."""


class Deadline(Exception):
    """The other side did not answer in time."""


class Closed(Exception):
    """The other side closed its end (it exited or died)."""


def _wait(fd, deadline, write):
    left = None if deadline is None else deadline - time.monotonic()
    if left is not None and left <= 0:
        raise Deadline()
    r, w, _ = select.select([] if write else [fd], [fd] if write else [], [], left)
    if not (r or w):
        raise Deadline()


def write_all(fd, data, deadline=None):
    view = memoryview(data)
    while view:
        _wait(fd, deadline, write=True)
        try:
            n = os.write(fd, view[:1 << 16])
        except (BrokenPipeError, OSError) as exc:
            raise Closed(str(exc)) from None
        view = view[n:]


def read_exact(fd, n, deadline=None):
    chunks, left = [], n
    while left:
        _wait(fd, deadline, write=False)
        try:
            chunk = os.read(fd, min(left, 1 << 20))
        except OSError as exc:
            raise Closed(str(exc)) from None
        if not chunk:
            raise Closed("end of stream")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _frame(payload):
    return struct.pack("<Q", len(payload)) + payload


def _read_frame(fd, limit, deadline):
    (n,) = struct.unpack("<Q", read_exact(fd, 8, deadline))
    if n > limit:
        raise ProtocolError(f"a frame of {n} bytes (limit {limit})")
    return read_exact(fd, n, deadline)


def array_bytes(array):
    buf = io.BytesIO()
    np.save(buf, np.asarray(array), allow_pickle=False)
    return buf.getvalue()


def send(fd, header, arrays=None, deadline=None):
    """Send ``header`` (a JSON-able dict) and ``arrays`` ({name: array})."""
    arrays = arrays or {}
    header = dict(header, arrays=list(arrays))
    data = [_frame(json.dumps(header).encode())] + [_frame(array_bytes(a)) for a in arrays.values()]
    write_all(fd, b"".join(data), deadline)


def receive(fd, deadline=None):
    """(header, {name: array}) of the next message."""
    try:
        header = json.loads(_read_frame(fd, MAX_HEADER, deadline).decode())
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProtocolError(f"a header that is not JSON ({exc})") from None
    names = header.get("arrays") if isinstance(header, dict) else None
    if not isinstance(names, list) or len(names) > MAX_ARRAYS or not all(isinstance(n, str) for n in names):
        raise ProtocolError("a header without a list of array names")
    arrays = {}
    for name in names:
        raw = _read_frame(fd, MAX_ARRAY, deadline)
        try:
            arrays[name] = np.load(io.BytesIO(raw), allow_pickle=False)
        except Exception as exc:   # not an .npy of plain numbers (an object array needs pickle: refused)
            raise ProtocolError(f"array {name!r} is not a plain .npy array ({type(exc).__name__}: {exc})") from None
    return header, arrays
