"""Bad input to the metrics and meters (fuzzing.py says what is tried). Metrics read every argument to
the host, so NumPy and CuPy arrays may be mixed there: no device cases."""
import fuzz_registry
import fuzzing

fuzzing.register(globals(), fuzz_registry.metric_entries(), devices=False)
