"""The gate's sync client and end-to-end tests run against a real hub (tests/hubkit)."""

from __future__ import annotations

from ..hubkit import start_hub

__all__ = ["start_hub"]
