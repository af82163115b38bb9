"""Counter-based randomness: every value is a hash of what it is about, never a draw from a stream.

So a reading, a jitter or a choice is the same whichever order the demo computes it in, and the
live demo can extend its series later from stored fields alone.
"""
from __future__ import annotations

import hashlib

import numpy as np

_U = np.uint64
_INV53 = 1.0 / 9007199254740992.0


def mix(x) -> np.ndarray:
    """splitmix64 finaliser over uint64 arrays (wraps on overflow by design)."""
    with np.errstate(over="ignore"):
        z = np.asarray(x, dtype=np.uint64) + _U(0x9E3779B97F4A7C15)
        z = (z ^ (z >> _U(30))) * _U(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> _U(27))) * _U(0x94D049BB133111EB)
        return z ^ (z >> _U(31))


def uniforms(h: np.ndarray) -> np.ndarray:
    """Uniform (0, 1) values from hashes."""
    return ((h >> _U(11)).astype(np.float64) + 0.5) * _INV53


def normals(h: np.ndarray) -> np.ndarray:
    """Standard normals from hashes (Box–Muller with a second, derived hash)."""
    return np.sqrt(-2.0 * np.log(uniforms(h))) * np.cos(2.0 * np.pi * uniforms(mix(h)))


def grid_hash(keys: np.ndarray, cols: np.ndarray, salt: int) -> np.ndarray:
    """A (len(keys), len(cols)) array of hashes of (key, column, salt)."""
    with np.errstate(over="ignore"):
        k = mix(keys.astype(np.uint64) ^ _U(salt))
        return mix(k[:, None] + cols.astype(np.int64).astype(np.uint64)[None, :])


def text_key(text: str) -> int:
    """A stable 64-bit key for a text (a meter number, a role)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def fixed_uniform(*parts) -> float:
    """A uniform [0, 1) value fixed by its parts (for single jitters and choices)."""
    return (text_key("|".join(map(str, parts))) >> 11) * _INV53
