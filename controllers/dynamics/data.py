"""Data sets for the learned models, generated with diffsim's own simulators and a seed (no downloads).

Ground truth comes from :func:`diffsim.ode.odeint` (Dormand-Prince, float64, tight tolerances) on the
built-in Warp fields; exact derivative targets from ``field.evaluate``. Each function returns a dict of
float64 tensors with trajectories shaped ``(N, T, D)``.

* :func:`hnn_task` -- the HNN paper's tasks with its data recipe (the code's, where it differs from the
  text): ``"spring"`` (H = q^2 + p^2), ``"pendulum"`` (H = 3 (1 - cos q) + p^2), ``"two_body"``.
* :func:`lotka_volterra_scenario1` -- the UDE paper's scenario 1 with relative Gaussian noise.
* :func:`double_pendulum_test_set` -- the LNN paper's 40 test initial conditions.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from diffsim.ode import fields, odeint

F64 = torch.float64

HNN_TASKS = {
    # field, points, t_end, radius range, trajectories, noise std
    "spring": dict(field=fields.mass_spring, points=30, t_end=3.0, radius=(0.1, 1.0), n=50, noise=0.1),
    "pendulum": dict(field=fields.hamiltonian_pendulum, points=45, t_end=3.0, radius=(1.3, 2.3), n=50, noise=0.1),
}


def _solve(field, y0, t, rtol=1e-10, atol=1e-12):
    return odeint(field, y0, t, method="dopri5", rtol=rtol, atol=atol).transpose(0, 1).contiguous()


def hnn_task(name: str, seed: int = 0) -> dict:
    """``x_train, dx_train, x_test, dx_test`` ``(N, T, D)``, the noise-free ``clean_train, clean_test``, ``t``
    and the simulator's ``field`` for one HNN-paper task.

    spring / pendulum: 50 trajectories from a random direction scaled to a radius drawn from the task's
    range, ``t`` in [0, 3] (30 / 45 points), split 25 / 25; states get Gaussian noise (std 0.1), the
    derivative targets are the noise-free field at the noise-free states. two_body: 1 000 orbits of 50
    points over [0, 20] (first 200 for test), near-circular with 5 % speed noise, no state noise.
    """
    if name == "two_body":
        return _two_body(seed)
    if name not in HNN_TASKS:
        raise ValueError(f"name must be one of {sorted([*HNN_TASKS, 'two_body'])}, got {name!r}")
    spec = HNN_TASKS[name]
    rng = np.random.default_rng(seed)
    direction = rng.uniform(-1, 1, (spec["n"], 2))
    radius = rng.uniform(*spec["radius"], (spec["n"], 1))
    y0 = torch.tensor(direction / np.linalg.norm(direction, axis=1, keepdims=True) * radius, dtype=F64)
    t = torch.linspace(0, spec["t_end"], spec["points"], dtype=F64)
    field = spec["field"]()
    ys = _solve(field, y0, t)
    dys = field.evaluate(ys)
    noisy = ys + torch.tensor(rng.normal(0, spec["noise"], ys.shape), dtype=F64)
    half = spec["n"] // 2
    return dict(t=t, x_train=noisy[:half], dx_train=dys[:half], x_test=noisy[half:], dx_test=dys[half:],
                clean_train=ys[:half], clean_test=ys[half:], field=field)


def _two_body(seed: int, orbits: int = 1000, points: int = 50, t_end: float = 20.0) -> dict:
    rng = np.random.default_rng(seed)
    p1 = rng.uniform(0.5, 1.5, (orbits, 2))
    pos = np.concatenate([p1, -p1], 1)  # centre of mass at the origin
    r = np.linalg.norm(2 * p1, axis=1, keepdims=True)  # separation
    # circular orbit of two unit masses (G = 1): each body's speed sqrt(G m / (2 r)) ... for separation r
    speed = np.sqrt(1.0 / (2.0 * r)) * (1.0 + 0.05 * rng.standard_normal((orbits, 1)))
    tangent = np.stack([-p1[:, 1], p1[:, 0]], 1) / np.linalg.norm(p1, axis=1, keepdims=True)
    mom = np.concatenate([speed * tangent, -speed * tangent], 1)  # total momentum zero (unit masses)
    y0 = torch.tensor(np.concatenate([pos, mom], 1), dtype=F64)
    t = torch.linspace(0, t_end, points, dtype=F64)
    field = fields.two_body()
    ys = _solve(field, y0, t, rtol=1e-9, atol=1e-11)
    dys = field.evaluate(ys)
    n_test = orbits // 5
    return dict(t=t, x_train=ys[n_test:], dx_train=dys[n_test:], x_test=ys[:n_test], dx_test=dys[:n_test],
                field=field)


def energy_initial_states(name: str, seed: int = 0, n: int = 15) -> torch.Tensor:
    """The HNN notebooks' energy-test starts: each coordinate +-U[0.2, 1] (spring, pendulum)."""
    if name not in HNN_TASKS:
        raise ValueError(f"name must be one of {sorted(HNN_TASKS)}, got {name!r}")
    rng = np.random.default_rng(seed + 1_000)
    mag = rng.uniform(0.2, 1.0, (n, 2))
    sign = rng.choice([-1.0, 1.0], (n, 2))
    return torch.tensor(mag * sign, dtype=F64)


LV_SCENARIO1 = dict(alpha=1.3, beta=0.9, gamma=0.8, delta=1.8, u0=(0.44249296, 4.6280594), t_end=3.0, points=31)


def lotka_volterra_scenario1(noise_level: float = 5e-3, seed: int = 0, t_end: float | None = None,
                             points: int | None = None) -> dict:
    """``x' = alpha x - beta x y``, ``y' = gamma x y - delta y`` from ``u0``, sampled every 0.1 on [0, 3]
    (31 points); noise std = ``noise_level`` x the per-state mean, drawn from ``numpy.random.default_rng(seed)``
    (an int or a sequence of ints). Returns ``t``, ``clean``, ``noisy`` ``(1, T, 2)`` and ``params`` (the
    constants)."""
    if not noise_level >= 0:
        raise ValueError(f"noise_level must be >= 0, got {noise_level!r}")
    c = LV_SCENARIO1
    t_end = c["t_end"] if t_end is None else t_end
    points = c["points"] if points is None else points
    field = fields.lotka_volterra([c["alpha"], c["beta"], c["delta"], c["gamma"]])
    t = torch.linspace(0, t_end, points, dtype=F64)
    clean = _solve(field, torch.tensor([c["u0"]], dtype=F64), t, rtol=1e-12, atol=1e-12)
    rng = np.random.default_rng(seed)
    scale = clean.mean(dim=1, keepdim=True).numpy()
    noisy = clean + torch.tensor(rng.normal(0, 1, clean.shape) * noise_level * scale, dtype=F64)
    return dict(t=t, clean=clean, noisy=noisy, params=dict(c))


def double_pendulum_test_set(seed: int = 0, n: int = 40, t_end: float = 100.0, fps: int = 10) -> dict:
    """The LNN notebook's test: ``theta ~ U[0, 2 pi)``, ``omega ~ U[0, 0.1]``, ``t`` in [0, 100] at 10 fps,
    ground truth at rtol = atol = 1e-10. Returns ``t``, ``ys`` ``(n, T, 4)`` and ``energy`` ``(n, T)``."""
    rng = np.random.default_rng(seed)
    y0 = torch.tensor(np.concatenate([rng.uniform(0, 2 * math.pi, (n, 2)), rng.uniform(0, 0.1, (n, 2))], 1),
                      dtype=F64)
    t = torch.linspace(0, t_end, int(t_end * fps) + 1, dtype=F64)
    ys = _solve(fields.double_pendulum(), y0, t)
    return dict(t=t, ys=ys, energy=double_pendulum_energy(ys))


def double_pendulum_energy(y: torch.Tensor, m1=1.0, m2=1.0, l1=1.0, l2=1.0, g=9.8) -> torch.Tensor:
    """Total energy (J) of the point-mass double pendulum for states ``[theta1, theta2, omega1, omega2]``."""
    t1, t2, w1, w2 = y.unbind(-1)
    kinetic = 0.5 * m1 * (l1 * w1) ** 2 + 0.5 * m2 * ((l1 * w1) ** 2 + (l2 * w2) ** 2
                                                     + 2 * l1 * l2 * w1 * w2 * torch.cos(t1 - t2))
    potential = -(m1 + m2) * g * l1 * torch.cos(t1) - m2 * g * l2 * torch.cos(t2)
    return kinetic + potential
