"""Bad input to pooling, unpooling and resampling (fuzzing.py says what is tried)."""
import fuzz_registry
import fuzzing

fuzzing.register(globals(), fuzz_registry.pool())
