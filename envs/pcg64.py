"""NumPy's PCG64 bit generator in Warp: the stream of doubles of ``np.random.default_rng(seed)``.

A vector env's worlds each own a NumPy generator (world ``i`` seeded ``seed + i``, as a
single env would be). :func:`export_states` copies each generator's 128-bit state and
increment to a ``(n, 4)`` uint64 array; :func:`next_double` advances world ``i``'s state
inside a kernel and returns the double ``Generator.random()`` would, bit for bit, so
autoresets draw their initial states on the device with no host round trip and the
same numbers as the single env.

PCG64 (O'Neill's XSL-RR 128/64, as NumPy implements it): ``state <- state * M + inc
(mod 2^128)``, output ``rotr64(hi ^ lo, hi >> 58)`` of the new state; a double is
``(output >> 11) * 2^-53`` and ``Generator.uniform(low, high)`` is ``low + (high - low) * double``.
"""
from __future__ import annotations

import numpy as np
import warp as wp

MULTIPLIER = 0x2360ED051FC65DA44385DF649FCCF645  # PCG's default 128-bit LCG multiplier
_MASK64 = (1 << 64) - 1
MUL_HI = wp.constant(wp.uint64(MULTIPLIER >> 64))
MUL_LO = wp.constant(wp.uint64(MULTIPLIER & _MASK64))
LOW32 = wp.constant(wp.uint64(0xFFFFFFFF))
TWO_POW_MINUS_53 = wp.constant(wp.float64(2.0 ** -53))


@wp.func
def mulhi64(a: wp.uint64, b: wp.uint64):
    """The high 64 bits of the 128-bit product ``a * b``."""
    a0 = a & LOW32
    a1 = a >> wp.uint64(32)
    b0 = b & LOW32
    b1 = b >> wp.uint64(32)
    p01 = a0 * b1
    p10 = a1 * b0
    mid = ((a0 * b0) >> wp.uint64(32)) + (p01 & LOW32) + (p10 & LOW32)
    return a1 * b1 + (p01 >> wp.uint64(32)) + (p10 >> wp.uint64(32)) + (mid >> wp.uint64(32))


@wp.func
def next_double(rng: wp.array2d(dtype=wp.uint64), i: int):
    """Advance generator ``i`` (row ``[state_hi, state_lo, inc_hi, inc_lo]``) and return its next double in [0, 1)."""
    s_hi = rng[i, 0]
    s_lo = rng[i, 1]
    prod_lo = s_lo * MUL_LO
    lo = prod_lo + rng[i, 3]
    carry = wp.where(lo < prod_lo, wp.uint64(1), wp.uint64(0))
    hi = mulhi64(s_lo, MUL_LO) + s_hi * MUL_LO + s_lo * MUL_HI + rng[i, 2] + carry
    rng[i, 0] = hi
    rng[i, 1] = lo
    x = hi ^ lo
    rot = hi >> wp.uint64(58)
    out = (x >> rot) | (x << ((wp.uint64(64) - rot) & wp.uint64(63)))
    return wp.float64(out >> wp.uint64(11)) * TWO_POW_MINUS_53


def export_states(generators) -> np.ndarray:
    """``(n, 4)`` uint64 rows ``[state_hi, state_lo, inc_hi, inc_lo]`` of NumPy PCG64 generators."""
    rows = np.zeros((len(generators), 4), dtype=np.uint64)
    for k, g in enumerate(generators):
        st = g.bit_generator.state
        if st["bit_generator"] != "PCG64":
            raise TypeError(f"generators must be PCG64 (np.random.default_rng), got {st['bit_generator']}")
        s, inc = st["state"]["state"], st["state"]["inc"]
        rows[k] = (s >> 64, s & _MASK64, inc >> 64, inc & _MASK64)
    return rows


@wp.kernel(enable_backward=False)
def draw_uniform_rows(rng: wp.array2d(dtype=wp.uint64), low: wp.array(dtype=wp.float64),
                      high: wp.array(dtype=wp.float64), mask: wp.array(dtype=wp.bool),
                      out: wp.array2d(dtype=wp.float64)):
    """Row ``i`` of ``out`` <- ``Generator.uniform(low, high)`` of stream ``i`` where ``mask[i]``; other rows
    untouched."""
    i = wp.tid()
    if mask[i]:
        for j in range(out.shape[1]):
            u = next_double(rng, i)
            out[i, j] = low[j] + (high[j] - low[j]) * u


def seeded_states(seeds) -> np.ndarray:
    """:func:`export_states` of ``np.random.default_rng(s)`` for each of ``seeds`` (``None``: fresh entropy)."""
    return export_states([np.random.default_rng(s) for s in seeds])
