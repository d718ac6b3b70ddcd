"""The peer exchange tests use the hub fixture of tests/hubkit.py."""

from ..hubkit import start_hub

__all__ = ["start_hub"]
