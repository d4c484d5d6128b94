"""Forward-mode dual numbers as Warp vectors.

A dual is a length-5 Warp vector ``(value, d/d wind, d/d angle, d/d mass, d/d theta)``:
the three input partials of the simulator plus one slot for the position ``theta``
inside a step, used to differentiate event functions for the implicit-function
theorem. Addition, subtraction and scaling by a plain scalar are the vector
operations; the nonlinear ones are below. A state is a matrix whose rows are
duals, so ``U + h * F`` is ordinary matrix arithmetic.

These kernels carry their own derivatives, so they are compiled without Warp's
adjoint (``enable_backward=False``).
"""
from typing import Any

import warp as wp


@wp.func
def dconst(c: Any, like: Any):
    """A constant (zero partials) of the dual type of ``like``."""
    r = type(like)()
    r[0] = c
    return r


@wp.func
def dmul(a: Any, b: Any):
    r = a[0] * b + b[0] * a
    r[0] = a[0] * b[0]
    return r


@wp.func
def dinv(a: Any):
    v = type(a[0])(1.0) / a[0]
    r = (-v * v) * a
    r[0] = v
    return r


@wp.func
def ddiv(a: Any, b: Any):
    return dmul(a, dinv(b))


@wp.func
def dsq(a: Any):
    return dmul(a, a)


@wp.func
def dsin(a: Any):
    r = wp.cos(a[0]) * a
    r[0] = wp.sin(a[0])
    return r


@wp.func
def dcos(a: Any):
    r = -wp.sin(a[0]) * a
    r[0] = wp.cos(a[0])
    return r


@wp.func
def dsqrt(a: Any):
    s = wp.sqrt(a[0])
    r = a / (type(s)(2.0) * s)
    r[0] = s
    return r


@wp.func
def datan2(y: Any, x: Any):
    den = x[0] * x[0] + y[0] * y[0]
    r = (x[0] * y - y[0] * x) / den
    r[0] = wp.atan2(y[0], x[0])
    return r


@wp.func
def mscale(m: Any, d: Any):
    """Row-wise dual product of a state matrix ``m`` with the dual ``d``."""
    e0 = type(d)()
    e0[0] = type(d[0])(1.0)
    dp = d
    dp[0] = type(d[0])(0.0)
    return d[0] * m + wp.outer(m @ e0, dp)
