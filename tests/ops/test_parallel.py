"""ops/parallel.py: how a pass is cut into pieces, how they run, and how many threads there are."""
import multiprocessing
import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minidense as md
from minidense.ops import parallel


@pytest.fixture
def threads():
    """Set the thread count inside a test; the previous one comes back after."""
    previous = parallel.get_num_threads()
    yield parallel.set_num_threads
    parallel.set_num_threads(previous)


@given(length=st.integers(0, 50), count=st.integers(1, 8))
def test_the_pieces_cover_the_axis_once_in_order(length, count):
    previous = parallel.get_num_threads()
    try:
        parallel.set_num_threads(count)
        pieces = parallel.split(length, np.zeros(1 << 16), min_bytes=0)
    finally:
        parallel.set_num_threads(previous)
    assert [i for p in pieces for i in range(length)[p]] == list(range(length))
    assert len(pieces) == max(1, min(count, length))
    assert all(p.stop > p.start for p in pieces) or length == 0


def test_one_piece_for_one_thread_or_a_small_array(threads):
    threads(4)
    assert parallel.split(8, np.zeros(10), min_bytes=1024) == [slice(0, 8)]     # under min_bytes
    assert len(parallel.split(8, np.zeros(128), min_bytes=1024)) == 4
    threads(1)
    assert parallel.split(8, np.zeros(128), min_bytes=1024) == [slice(0, 8)]


def test_the_pieces_run_on_several_threads_and_all_finish(threads):
    threads(3)
    out = np.zeros(3 << 16)
    names = set()

    def fill(part):
        names.add(threading.current_thread().name)
        out[part] = part.start

    pieces = parallel.split(len(out), out, min_bytes=0)
    parallel.run(fill, pieces)
    assert len(names) > 1 and threading.current_thread().name in names
    for p in pieces:
        assert (out[p] == p.start).all()


def test_an_error_in_a_piece_is_raised_by_run_after_every_piece_ends(threads):
    threads(2)
    done = []

    def piece(part):
        if part.start > 0:
            raise ValueError("piece failed")
        done.append(part)

    with pytest.raises(ValueError, match="piece failed"):
        parallel.run(piece, [slice(0, 1), slice(1, 2)])
    assert done == [slice(0, 1)]


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_set_num_threads_refuses_what_is_not_a_positive_int(bad):
    with pytest.raises(ValueError, match=f"n must be a positive int, got {bad!r}"):
        md.set_num_threads(bad)


def test_the_default_comes_from_the_environment(monkeypatch):
    monkeypatch.setitem(parallel._state, "threads", None)
    monkeypatch.setenv("MINIDENSE_NUM_THREADS", "3")
    monkeypatch.setenv("OMP_NUM_THREADS", "5")
    assert md.get_num_threads() == 3
    monkeypatch.setitem(parallel._state, "threads", None)
    monkeypatch.delenv("MINIDENSE_NUM_THREADS")
    assert md.get_num_threads() == 5
    monkeypatch.setitem(parallel._state, "threads", None)
    monkeypatch.setenv("OMP_NUM_THREADS", "lots")           # not a count: the cores this process may use
    assert md.get_num_threads() >= 1


def _run_two_pieces(queue):
    out = np.zeros(4)

    def fill(part):
        out[part] = 1
    parallel.run(fill, [slice(0, 2), slice(2, 4)])
    queue.put(out.tolist())


def test_a_forked_child_runs_pieces_with_threads_of_its_own(threads):
    """The parent's pool has threads; a fork copies the pool object but not them: the child must not wait forever."""
    threads(2)
    parallel.run(lambda part: None, [slice(0, 1), slice(1, 2)])    # the parent's pool, started
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_run_two_pieces, args=(queue,))
    child.start()
    child.join(60)
    alive = child.is_alive()
    if alive:
        child.kill()
    assert not alive and child.exitcode == 0
    assert queue.get(timeout=5) == [1.0] * 4
