"""Shared pieces of the scanner tests: real wallet codes and clean frames holding them."""

from __future__ import annotations

import numpy as np
import pytest

from scanner.render import Wallet, render_frame

from ..ledgerkit import NOW

WALLETS = [Wallet.named(f"t{i}", "test") for i in range(3)]


@pytest.fixture(scope="session")
def codes() -> list[str]:
    """The codes the wallets of tickets t0..t2 of tests/ledgerkit.py show at NOW."""
    return [w.code(NOW) for w in WALLETS]


def clean_frame(texts: list[str], seed: int = 0, size: tuple[int, int] = (640, 480)) -> np.ndarray:
    return render_frame(texts, np.random.default_rng(seed), size, degradations=()).image
