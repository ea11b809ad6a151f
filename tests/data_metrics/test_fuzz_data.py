"""Bad input to the DataLoader and the transforms (fuzzing.py says what is tried)."""
import fuzz_registry
import fuzzing

fuzzing.register(globals(), fuzz_registry.data())
