"""tests/vectors must stay byte-for-byte copies of shared/vectors (when shared/ is beside us)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .ledgerkit import VECTORS

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "vectors"


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared/vectors is not beside this clone")
def test_vectors_are_unchanged_copies() -> None:
    shared = {str(p.relative_to(SHARED)): p.read_bytes() for p in SHARED.rglob("*") if p.is_file()}
    ours = {str(p.relative_to(VECTORS)): p.read_bytes() for p in VECTORS.rglob("*") if p.is_file()}
    assert ours == shared
