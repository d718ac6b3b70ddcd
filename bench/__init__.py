"""Benchmarks: figures measured in one run, each beside its floor measured in the same run.

Not part of the test suite. ``python -m bench.all`` runs every one and prints one table;
each also runs alone, e.g. ``python -m bench.verifier`` (see bench/README.md).
"""
