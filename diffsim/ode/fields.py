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


def _params(values, default, positive: dict | None = None, field: str = ""):
    """``values`` (or ``default``) as a tensor; ``positive`` maps a parameter's index to its name for the
    parameters that must be > 0 (masses, lengths, stiffness), checked with a clear error."""
    if values is None:
        values = default
    if not isinstance(values, torch.Tensor):
        values = torch.tensor(values, dtype=torch.float64)
    if values.dim() == 0 or values.shape[-1] != len(default):
        raise ValueError(f"{field} params must have shape (..., {len(default)}), got {tuple(values.shape)}")
    for i, name in (positive or {}).items():
        bad = ~(values[..., i].detach() > 0)
        if bool(bad.any()):
            raise ValueError(f"{field}: {name} (params[..., {i}]) must be > 0, got "
                             f"{float(values[..., i].detach().reshape(-1)[bad.reshape(-1)][0])}")
    return values


@wp.func
def _decay(t: Any, y: Any, p: Any):
    return -p[0] * y


def exponential_decay(rate=None) -> WarpVectorField:
    """dy/dt = -rate * y (any state size 1); params ``[rate]`` in 1/s."""
    return WarpVectorField(_decay, 1, _params(rate, [1.0], field="exponential_decay"), "exponential_decay")


@wp.func
def _harmonic(t: Any, y: Any, p: Any):
    w = p[0]
    return type(y)(y[1], -w * w * y[0])


def harmonic_oscillator(omega=None) -> WarpVectorField:
    """q' = p, p' = -omega^2 q; state ``[q, p]``; params ``[omega]`` in rad/s."""
    return WarpVectorField(_harmonic, 2, _params(omega, [1.0], field="harmonic_oscillator"), "harmonic_oscillator")


@wp.func
def _pendulum(t: Any, y: Any, p: Any):
    return type(y)(y[1], -p[0] * wp.sin(y[0]))


def pendulum(g_over_l=None) -> WarpVectorField:
    """theta' = omega, omega' = -(g/l) sin(theta); state ``[theta, omega]``; params ``[g/l]`` in 1/s^2."""
    return WarpVectorField(_pendulum, 2, _params(g_over_l, [1.0], field="pendulum"), "pendulum")


@wp.func
def _van_der_pol(t: Any, y: Any, p: Any):
    mu = p[0]
    one = type(mu)(1.0)
    return type(y)(y[1], mu * (one - y[0] * y[0]) * y[1] - y[0])


def van_der_pol(mu=None) -> WarpVectorField:
    """x'' = mu (1 - x^2) x' - x; state ``[x, x']``; params ``[mu]``."""
    return WarpVectorField(_van_der_pol, 2, _params(mu, [1.0], field="van_der_pol"), "van_der_pol")


@wp.func
def _lotka_volterra(t: Any, y: Any, p: Any):
    return type(y)(p[0] * y[0] - p[1] * y[0] * y[1], p[3] * y[0] * y[1] - p[2] * y[1])


def lotka_volterra(params=None) -> WarpVectorField:
    """x' = a x - b x y, y' = d x y - c y; params ``[a, b, c, d]`` (SciML default 1.5, 1, 3, 1)."""
    p = _params(params, [1.5, 1.0, 3.0, 1.0], field="lotka_volterra")
    return WarpVectorField(_lotka_volterra, 2, p, "lotka_volterra")


@wp.func
def _kepler(t: Any, y: Any, p: Any):
    r2 = y[0] * y[0] + y[1] * y[1]
    s = p[0] / (r2 * wp.sqrt(r2))
    return type(y)(y[2], y[3], -s * y[0], -s * y[1])


def kepler(gm=None) -> WarpVectorField:
    """Planar two-body problem q'' = -GM q/|q|^3; state ``[qx, qy, px, py]``; params ``[GM]``."""
    return WarpVectorField(_kepler, 4, _params(gm, [1.0], field="kepler"), "kepler")


@wp.func
def _mass_spring(t: Any, y: Any, p: Any):
    return type(y)(y[1] / p[1], -p[0] * y[0])


def mass_spring(params=None) -> WarpVectorField:
    """H = k q^2 / 2 + p^2 / (2 m): q' = p / m, p' = -k q; state ``[q, p]`` (m, kg m/s); params ``[k, m]``
    (N/m, kg), default ``[2, 0.5]``: H = q^2 + p^2, the HNN paper's spring."""
    return WarpVectorField(_mass_spring, 2, _params(params, [2.0, 0.5], {0: "k", 1: "m"}, "mass_spring"),
                           "mass_spring")


@wp.func
def _hamiltonian_pendulum(t: Any, y: Any, p: Any):
    m, l, g = p[0], p[1], p[2]
    return type(y)(y[1] / (m * l * l), -m * g * l * wp.sin(y[0]))


def hamiltonian_pendulum(params=None) -> WarpVectorField:
    """H = m g l (1 - cos q) + p^2 / (2 m l^2); state ``[q, p]`` (rad, kg m^2/s); params ``[m, l, g]``
    (kg, m, m/s^2), default ``[0.5, 1, 6]``: H = 3 (1 - cos q) + p^2, the HNN paper's pendulum."""
    p = _params(params, [0.5, 1.0, 6.0], {0: "m", 1: "l"}, "hamiltonian_pendulum")
    return WarpVectorField(_hamiltonian_pendulum, 2, p, "hamiltonian_pendulum")


@wp.func
def _two_body(t: Any, y: Any, p: Any):
    m1, m2, G = p[0], p[1], p[2]
    dx = y[2] - y[0]
    dy = y[3] - y[1]
    r2 = dx * dx + dy * dy
    s = G * m1 * m2 / (r2 * wp.sqrt(r2))  # force on body 1 is s * (dx, dy)
    return type(y)(y[4] / m1, y[5] / m1, y[6] / m2, y[7] / m2, s * dx, s * dy, -s * dx, -s * dy)


def two_body(params=None) -> WarpVectorField:
    """Two gravitating bodies in a plane; state ``[x1, y1, x2, y2, px1, py1, px2, py2]`` (positions, then
    momenta); params ``[m1, m2, G]``, default ``[1, 1, 1]`` (the HNN paper's task)."""
    return WarpVectorField(_two_body, 8, _params(params, [1.0, 1.0, 1.0], {0: "m1", 1: "m2"}, "two_body"), "two_body")


@wp.func
def _double_pendulum(t: Any, y: Any, p: Any):
    m1, m2, l1, l2, g = p[0], p[1], p[2], p[3], p[4]
    one = type(g)(1.0)
    d = y[0] - y[1]
    a1 = (l2 / l1) * (m2 / (m1 + m2)) * wp.cos(d)
    a2 = (l1 / l2) * wp.cos(d)
    f1 = -(l2 / l1) * (m2 / (m1 + m2)) * y[3] * y[3] * wp.sin(d) - (g / l1) * wp.sin(y[0])
    f2 = (l1 / l2) * y[2] * y[2] * wp.sin(d) - (g / l2) * wp.sin(y[1])
    den = one - a1 * a2
    return type(y)(y[2], y[3], (f1 - a1 * f2) / den, (f2 - a2 * f1) / den)


def double_pendulum(params=None) -> WarpVectorField:
    """Two point masses on massless rods, angles from the downward vertical; state ``[theta1, theta2,
    omega1, omega2]`` (rad, rad/s); params ``[m1, m2, l1, l2, g]``, default ``[1, 1, 1, 1, 9.8]`` (the LNN
    paper's double pendulum)."""
    p = _params(params, [1.0, 1.0, 1.0, 1.0, 9.8], {0: "m1", 1: "m2", 2: "l1", 3: "l2"}, "double_pendulum")
    return WarpVectorField(_double_pendulum, 4, p, "double_pendulum")
