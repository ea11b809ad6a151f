"""Several threads for the fast paths that split their passes (ops/parallel.py), on inputs of any size."""
from minidense.ops import loss_fast, parallel


class split_everything:
    """Within: ``threads`` threads, and every split pass splits whatever its size (tests' inputs are small)."""

    def __init__(self, threads):
        self.threads = threads

    def __enter__(self):
        self.saved = parallel.get_num_threads(), loss_fast.MIN_BYTES
        parallel.set_num_threads(self.threads)
        loss_fast.MIN_BYTES = 0

    def __exit__(self, *exc):
        threads, loss_fast.MIN_BYTES = self.saved
        parallel.set_num_threads(threads)
