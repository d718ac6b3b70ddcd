"""Provisioning runs against a real hub (tests/hubkit)."""

from __future__ import annotations

from ..hubkit import start_hub

__all__ = ["start_hub"]
