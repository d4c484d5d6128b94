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

``Generator.standard_normal`` is NumPy's 256-layer ziggurat (Marsaglia and Tsang's method on 64-bit draws:
layer = low 8 bits, sign = next bit, 52-bit magnitude; a wedge or tail draw takes more doubles).
:func:`standard_normal` runs it in a kernel and :func:`standard_normal_host` on a NumPy bit generator, both with
tables this module computes from the ziggurat's defining constants (:func:`ziggurat_tables`). NumPy's compiled
tables differ from these in the last digits, so the normals equal NumPy's to about 1e-14 relative (the streams
stay aligned); the kernel and host versions equal each other bit for bit.
"""
from __future__ import annotations

import math

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
def next_uint64(rng: wp.array2d(dtype=wp.uint64), i: int):
    """Advance generator ``i`` (row ``[state_hi, state_lo, inc_hi, inc_lo]``) and return its next 64-bit output."""
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
    return (x >> rot) | (x << ((wp.uint64(64) - rot) & wp.uint64(63)))


@wp.func
def next_double(rng: wp.array2d(dtype=wp.uint64), i: int):
    """Advance generator ``i`` and return its next double in [0, 1) (``Generator.random()``)."""
    return wp.float64(next_uint64(rng, i) >> wp.uint64(11)) * TWO_POW_MINUS_53


ZIGGURAT_R = 3.6541528853610088  # start of the normal's tail (the bottom layer's right edge)
# area of each of the 256 layers, R f(R) + integral_R^inf f with f(x) = exp(-x^2/2), correctly rounded
ZIGGURAT_V = 0.004928673233974655


def ziggurat_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(k, w, f)``: per layer, the 52-bit acceptance threshold (uint64), the width per unit of the 52-bit draw and
    the density at the layer's edge; Marsaglia and Tsang's recursion for the layer edges, top down."""
    scale = 2.0 ** 52
    k, w, f = np.zeros(256, dtype=np.uint64), np.zeros(256), np.zeros(256)
    edge = previous = ZIGGURAT_R
    q = ZIGGURAT_V / math.exp(-0.5 * edge * edge)
    k[0], w[0], f[0] = int(edge / q * scale), q / scale, 1.0
    w[255], f[255] = edge / scale, math.exp(-0.5 * edge * edge)
    for i in range(254, 0, -1):
        edge = math.sqrt(-2.0 * math.log(ZIGGURAT_V / edge + math.exp(-0.5 * edge * edge)))
        k[i + 1], previous = int(edge / previous * scale), edge
        f[i], w[i] = math.exp(-0.5 * edge * edge), edge / scale
    return k, w, f


ZIG_K, ZIG_W, ZIG_F = ziggurat_tables()
_MASK52 = (1 << 52) - 1
MASK52 = wp.constant(wp.uint64(_MASK52))
R_TAIL = wp.constant(wp.float64(ZIGGURAT_R))


@wp.func
def standard_normal(rng: wp.array2d(dtype=wp.uint64), i: int, zk: wp.array(dtype=wp.uint64),
                    zw: wp.array(dtype=wp.float64), zf: wp.array(dtype=wp.float64)):
    """Generator ``i``'s next ``standard_normal()`` (NumPy's ziggurat; tables ``zk, zw, zf`` from
    :func:`ziggurat_tables` as device arrays)."""
    result = wp.float64(0.0)
    done = int(0)
    while done == 0:
        r = next_uint64(rng, i)
        idx = int(r & wp.uint64(255))
        r = r >> wp.uint64(8)
        negative = (r & wp.uint64(1)) == wp.uint64(1)
        rabs = (r >> wp.uint64(1)) & MASK52
        x = wp.float64(rabs) * zw[idx]
        if negative:
            x = -x
        if rabs < zk[idx]:
            result = x
            done = 1
        elif idx == 0:
            while done == 0:  # the tail beyond R, by Marsaglia's exponential rejection
                xx = -wp.log(wp.float64(1.0) - next_double(rng, i)) / R_TAIL
                yy = -wp.log(wp.float64(1.0) - next_double(rng, i))
                if yy + yy > xx * xx:
                    result = R_TAIL + xx
                    if ((rabs >> wp.uint64(8)) & wp.uint64(1)) == wp.uint64(1):
                        result = -result
                    done = 1
        elif (zf[idx - 1] - zf[idx]) * next_double(rng, i) + zf[idx] < wp.exp(wp.float64(-0.5) * x * x):
            result = x
            done = 1
    return result


def standard_normal_host(bit_generator: np.random.BitGenerator) -> float:
    """The next normal of ``bit_generator`` (e.g. ``env.np_random.bit_generator``) by the same steps as
    :func:`standard_normal`, advancing it exactly as the kernel advances its copy."""
    def double():
        return (int(bit_generator.random_raw()) >> 11) * 2.0 ** -53

    while True:
        r = int(bit_generator.random_raw())
        idx, r = r & 255, r >> 8
        rabs = (r >> 1) & _MASK52
        x = float(rabs) * float(ZIG_W[idx])
        if r & 1:
            x = -x
        if rabs < int(ZIG_K[idx]):
            return x
        if idx == 0:
            while True:
                xx = -math.log(1.0 - double()) / ZIGGURAT_R
                yy = -math.log(1.0 - double())
                if yy + yy > xx * xx:
                    return -(ZIGGURAT_R + xx) if (rabs >> 8) & 1 else ZIGGURAT_R + xx
        elif (ZIG_F[idx - 1] - ZIG_F[idx]) * double() + ZIG_F[idx] < math.exp(-0.5 * x * x):
            return x


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
def draw_rows(rng: wp.array2d(dtype=wp.uint64), low: wp.array(dtype=wp.float64), high: wp.array(dtype=wp.float64),
              std: wp.array(dtype=wp.float64), zk: wp.array(dtype=wp.uint64), zw: wp.array(dtype=wp.float64),
              zf: wp.array(dtype=wp.float64), mask: wp.array(dtype=wp.bool), out: wp.array2d(dtype=wp.float64)):
    """Row ``i`` of ``out`` <- stream ``i``'s draws where ``mask[i]`` (other rows untouched), component by component:
    ``low + std * standard_normal()`` where ``std > 0``, else ``Generator.uniform(low, high)``; components past
    ``low``'s length are zero."""
    i = wp.tid()
    if mask[i]:
        for j in range(low.shape[0]):
            if std[j] > wp.float64(0.0):
                out[i, j] = low[j] + std[j] * standard_normal(rng, i, zk, zw, zf)
            else:
                out[i, j] = low[j] + (high[j] - low[j]) * next_double(rng, i)
        for j in range(low.shape[0], out.shape[1]):  # a carried context past the bounds: zero, nothing drawn
            out[i, j] = wp.float64(0.0)


def seeded_states(seeds) -> np.ndarray:
    """:func:`export_states` of ``np.random.default_rng(s)`` for each of ``seeds`` (``None``: fresh entropy)."""
    return export_states([np.random.default_rng(s) for s in seeds])
