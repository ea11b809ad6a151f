"""Bad input to the elementwise ops, reductions, shape ops, joins and matmul (fuzzing.py says what is tried)."""
import inspect

import fuzz_registry
import fuzzing

import minidense.functional as F

fuzzing.register(globals(), fuzz_registry.core())


def test_registry_covers_the_public_surface():
    """Every public function of minidense.functional has an entry in one family (a new function needs one too)."""
    public = {n for n, f in vars(F).items() if inspect.isfunction(f) and not n.startswith("_")
              and f.__module__.startswith("minidense.ops")}
    public -= {"abs_", "neg", "getitem"}
    entries = fuzz_registry.functional()
    covered = {e.names[0] for e in entries} | {e.name for e in entries}
    assert public - covered == set()
