"""Seeded random streams: one child of `SeedSequence(seed)` per (owner, quantity)."""

from __future__ import annotations

import numpy as np

# spawn_key = (owner, quantity); owner = a symbol's bytes as an int (>= 65) or one of these
MARKET_OWNER, SYMBOLS_OWNER = 0, 1
PARAMS, RETURNS, GAPS, WICKS, VOLUME = range(5)


def stream(seed: int, owner: int, quantity: int) -> np.random.Generator:
    """Child stream (owner, quantity) of SeedSequence(seed)."""
    sequence = np.random.SeedSequence(seed, spawn_key=(owner, quantity))
    return np.random.Generator(np.random.PCG64(sequence))


def symbol_owner(symbol: str) -> int:
    """A ticker's stream key: its ASCII bytes as one integer (unique, >= 65)."""
    return int.from_bytes(symbol.encode(), "big")
