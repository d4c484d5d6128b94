"""Built-in Warp vector fields (benchmarks, tests, demos).

Each function returns a :class:`WarpVectorField`; parameters may be a shared
``(P,)`` tensor or a per-trajectory ``(*batch, P)`` tensor and may require grad.
States follow the ``y = [q, p]`` layout where the system is mechanical, so the
symplectic methods apply.
"""
from __future__ import annotations

from typing import Any

import torch
import warp as wp

from diffsim.ode.field import WarpVectorField


def _params(values, default):
    if values is None:
        values = default
    if not isinstance(values, torch.Tensor):
        values = torch.tensor(values, dtype=torch.float64)
    return values


@wp.func
def _decay(t: Any, y: Any, p: Any):
    return -p[0] * y


def exponential_decay(rate=None) -> WarpVectorField:
    """dy/dt = -rate * y (any state size 1); params ``[rate]`` in 1/s."""
    return WarpVectorField(_decay, 1, _params(rate, [1.0]), "exponential_decay")


@wp.func
def _harmonic(t: Any, y: Any, p: Any):
    w = p[0]
    return type(y)(y[1], -w * w * y[0])


def harmonic_oscillator(omega=None) -> WarpVectorField:
    """q' = p, p' = -omega^2 q; state ``[q, p]``; params ``[omega]`` in rad/s."""
    return WarpVectorField(_harmonic, 2, _params(omega, [1.0]), "harmonic_oscillator")


@wp.func
def _pendulum(t: Any, y: Any, p: Any):
    return type(y)(y[1], -p[0] * wp.sin(y[0]))


def pendulum(g_over_l=None) -> WarpVectorField:
    """theta' = omega, omega' = -(g/l) sin(theta); state ``[theta, omega]``; params ``[g/l]`` in 1/s^2."""
    return WarpVectorField(_pendulum, 2, _params(g_over_l, [1.0]), "pendulum")


@wp.func
def _van_der_pol(t: Any, y: Any, p: Any):
    mu = p[0]
    one = type(mu)(1.0)
    return type(y)(y[1], mu * (one - y[0] * y[0]) * y[1] - y[0])


def van_der_pol(mu=None) -> WarpVectorField:
    """x'' = mu (1 - x^2) x' - x; state ``[x, x']``; params ``[mu]``."""
    return WarpVectorField(_van_der_pol, 2, _params(mu, [1.0]), "van_der_pol")


@wp.func
def _lotka_volterra(t: Any, y: Any, p: Any):
    return type(y)(p[0] * y[0] - p[1] * y[0] * y[1], p[3] * y[0] * y[1] - p[2] * y[1])


def lotka_volterra(params=None) -> WarpVectorField:
    """x' = a x - b x y, y' = d x y - c y; params ``[a, b, c, d]`` (SciML default 1.5, 1, 3, 1)."""
    return WarpVectorField(_lotka_volterra, 2, _params(params, [1.5, 1.0, 3.0, 1.0]), "lotka_volterra")


@wp.func
def _kepler(t: Any, y: Any, p: Any):
    r2 = y[0] * y[0] + y[1] * y[1]
    s = p[0] / (r2 * wp.sqrt(r2))
    return type(y)(y[2], y[3], -s * y[0], -s * y[1])


def kepler(gm=None) -> WarpVectorField:
    """Planar two-body problem q'' = -GM q/|q|^3; state ``[qx, qy, px, py]``; params ``[GM]``."""
    return WarpVectorField(_kepler, 4, _params(gm, [1.0]), "kepler")
