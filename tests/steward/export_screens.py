"""Copy the console's snapshots that docs/stewards.md shows into docs/steward-screens/.

    python -m tests.steward.export_screens

Run after ``pytest tests/steward/test_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

from .test_snapshots import export

if __name__ == "__main__":
    export()
