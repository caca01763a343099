"""Benchmarks on the real stack (``python -m bench.<name>``); results in ``bench/RESULTS.md``."""
