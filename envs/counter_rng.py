"""Counter-based random numbers: the draw for (key, counter) is a pure function.

Each environment instance holds a 64-bit ``key`` (drawn from its seeded
``np_random`` on ``reset(seed=...)``) and an episode ``counter``. A vector env
evaluates the same function for all its worlds in one numpy call, so world ``i``
of a vector env seeded ``s`` sees exactly what a single env seeded ``s + i`` sees.
"""
from __future__ import annotations

import numpy as np

_M = np.uint64(0xFFFFFFFFFFFFFFFF)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    x = (x + np.uint64(0x9E3779B97F4A7C15)) & _M
    x = ((x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _M
    x = ((x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _M
    return x ^ (x >> np.uint64(31))


def uniform(key: np.ndarray, counter: np.ndarray, stream: int) -> np.ndarray:
    """Uniform in (0, 1), float64, one per (key, counter) pair; ``stream`` separates independent draws."""
    with np.errstate(over="ignore"):
        x = _splitmix64(np.asarray(key, dtype=np.uint64) ^ _splitmix64(
            np.asarray(counter, dtype=np.uint64) * np.uint64(0x100000001B3) + np.uint64(stream)))
    return ((x >> np.uint64(11)).astype(np.float64) + 0.5) / float(2 ** 53)


def normal(key: np.ndarray, counter: np.ndarray, stream: int) -> np.ndarray:
    """Standard normal by Box-Muller from two uniform streams."""
    u1 = uniform(key, counter, 2 * stream)
    u2 = uniform(key, counter, 2 * stream + 1)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
