"""Deterministic randomness: every synthetic value is a pure function of (seed, kind, index)."""

from __future__ import annotations

import random

_MASK = (1 << 64) - 1

# One stream per kind of decision, so changing how one field is drawn never shifts another.
CUSTOMER = 1
ORDER = 2
TRANSACTION = 3
PRODUCT = 4
CATEGORY = 5
GUEST = 6
BUYER = 7
ARCHIVED = 8
STORE = 9
SUBSCRIBER = 10
READER = 11


def mix(*parts: int) -> int:
    """Hash integers into 64 well-spread bits (splitmix64 finaliser, applied per part)."""
    state = 0x9E3779B97F4A7C15
    for part in parts:
        state = ((state ^ (part & _MASK)) * 0xBF58476D1CE4E5B9) & _MASK
        state ^= state >> 31
        state = (state * 0x94D049BB133111EB) & _MASK
        state ^= state >> 29
    return state


def unit(*parts: int) -> float:
    """A uniform number in [0, 1) derived from the parts."""
    return mix(*parts) / 18446744073709551616.0


def rng_for(seed: int, kind: int, index: int) -> random.Random:
    """A private random stream for one record."""
    return random.Random(mix(seed, kind, index))
