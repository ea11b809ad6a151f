"""Bad input to the nn layers and their constructors (fuzzing.py says what is tried)."""
import fuzz_registry
import fuzzing

fuzzing.register(globals(), fuzz_registry.layers())
