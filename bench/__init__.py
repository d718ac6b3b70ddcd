"""Benchmarks: figures measured in one run, each beside its floor measured in the same run.

Not part of the test suite. Run ``python -m bench.verifier`` (see bench/README.md).
"""
