"""Bad input to the convolution family (fuzzing.py says what is tried)."""
import fuzz_registry
import fuzzing

fuzzing.register(globals(), fuzz_registry.conv())
