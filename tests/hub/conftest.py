"""The hub's own tests: its core, API, commands, fuzzing, restore from a backup."""

from __future__ import annotations

from ..hubkit import start_hub

__all__ = ["start_hub"]
