"""Bad input to the losses and batch normalization (fuzzing.py says what is tried)."""
import fuzz_registry
import fuzzing

fuzzing.register(globals(), fuzz_registry.losses())
