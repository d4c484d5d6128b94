"""Data sets for the learned models, generated with diffsim's own simulators and a seed (no downloads).

Ground truth comes from :func:`diffsim.ode.odeint` (Dormand-Prince, float64, tight tolerances) on the
built-in Warp fields; exact derivative targets from ``field.evaluate``. Each function returns a dict of
float64 tensors with trajectories shaped ``(N, T, D)``.

* :func:`hnn_task` -- the HNN paper's tasks with its data recipe (the code's, where it differs from the
  text): ``"spring"`` (H = q^2 + p^2), ``"pendulum"`` (H = 3 (1 - cos q) + p^2), ``"two_body"``.
* :func:`lotka_volterra_scenario1` -- the UDE paper's scenario 1 with relative Gaussian noise.
* :func:`double_pendulum_test_set` -- the LNN paper's 40 test initial conditions.
* :func:`chain_pendulum_task` -- the constrained-HNN paper's 2-link chain pendulum (5-sample chunks, test starts).
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


def double_pendulum_accelerations(y: torch.Tensor, m1=1.0, m2=1.0, l1=1.0, l2=1.0, g=9.8) -> torch.Tensor:
    """Angular accelerations (rad/s^2) ``(..., 2)`` of the point-mass double pendulum for states ``[theta1, theta2,
    omega1, omega2]`` (angles from the downward vertical), the closed form in torch: any device and dtype, so that
    training targets are drawn where the model trains. The same field as diffsim's ``double_pendulum``."""
    t1, t2, w1, w2 = y.unbind(-1)
    d = t1 - t2
    den = 2 * m1 + m2 - m2 * torch.cos(2 * d)
    a1 = (-g * (2 * m1 + m2) * torch.sin(t1) - m2 * g * torch.sin(t1 - 2 * t2)
          - 2 * torch.sin(d) * m2 * (w2 ** 2 * l2 + w1 ** 2 * l1 * torch.cos(d))) / (l1 * den)
    a2 = 2 * torch.sin(d) * (w1 ** 2 * l1 * (m1 + m2) + g * (m1 + m2) * torch.cos(t1)
                             + w2 ** 2 * l2 * m2 * torch.cos(d)) / (l2 * den)
    return torch.stack([a1, a2], -1)


CHAIN_DT, CHAIN_HORIZON, CHAIN_G = 0.03, 100, 9.81  # s per sample, samples per generated trajectory, m/s^2


def chain_pendulum_params() -> dict:
    """The constrained-HNN paper's ``ChainPendulum(2)``: masses and lengths drawn once from U[0.6, 1.4] with NumPy's
    legacy seed 0, masses first (the code pops them from the end: the top link gets the second draw), g = 9.81.
    Keys ``m1, m2`` (kg), ``l1, l2`` (m), ``g``; index 1 is the upper mass and rod."""
    rng = np.random.RandomState(0)
    ms = [0.6 + 0.8 * rng.rand() for _ in range(2)]
    ls = [0.6 + 0.8 * rng.rand() for _ in range(2)]
    return dict(m1=ms[1], m2=ms[0], l1=ls[1], l2=ls[0], g=CHAIN_G)


def chain_cartesian(y: torch.Tensor, l1: float, l2: float) -> torch.Tensor:
    """Angles ``[theta1, theta2, omega1, omega2]`` (from the downward vertical) -> Cartesian ``[x1, y1, x2, y2,
    vx1, vy1, vx2, vy2]`` (m, m/s; pivot at the origin, y up)."""
    t1, t2, w1, w2 = y.unbind(-1)
    x1, y1 = l1 * torch.sin(t1), -l1 * torch.cos(t1)
    vx1, vy1 = l1 * torch.cos(t1) * w1, l1 * torch.sin(t1) * w1
    x2, y2 = x1 + l2 * torch.sin(t2), y1 - l2 * torch.cos(t2)
    vx2, vy2 = vx1 + l2 * torch.cos(t2) * w2, vy1 + l2 * torch.sin(t2) * w2
    return torch.stack([x1, y1, x2, y2, vx1, vy1, vx2, vy2], -1)


def chain_angles(z: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`chain_cartesian` for states on the constraint manifold (any rod lengths)."""
    p1, p2, v1, v2 = z[..., 0:2], z[..., 2:4], z[..., 4:6], z[..., 6:8]
    r2, u2 = p2 - p1, v2 - v1
    angles = [torch.atan2(r[..., 0], -r[..., 1]) for r in (p1, r2)]
    rates = [(r[..., 0] * u[..., 1] - r[..., 1] * u[..., 0]) / r.square().sum(-1) for r, u in ((p1, v1), (r2, u2))]
    return torch.stack(angles + rates, -1)


def _project_onto_rods(z: torch.Tensor, l1: float, l2: float, tol: float = 1e-5, iters: int = 500) -> torch.Tensor:
    """Newton steps of least norm onto ``|x1| = l1``, ``|x2 - x1| = l2`` and their rates ``= 0`` (the paper's
    ``project_onto_constraints``, each correction clamped to half the state's RMS)."""
    def phi(s):
        p1, p2, v1, v2 = s[0:2], s[2:4], s[4:6], s[6:8]
        return torch.stack([p1 @ p1 - l1 ** 2, (p2 - p1) @ (p2 - p1) - l2 ** 2, 2 * p1 @ v1, 2 * (p2 - p1) @ (v2 - v1)])
    jac = torch.vmap(torch.func.jacrev(phi))
    z = z.clone()
    for _ in range(iters):
        c = torch.vmap(phi)(z)
        if float(c.square().mean().sqrt()) < tol:
            return z
        J = jac(z)
        step = (J.transpose(1, 2) @ torch.linalg.solve(J @ J.transpose(1, 2), -c.unsqueeze(-1))).squeeze(-1)
        scale = float(z.square().mean().sqrt())
        z = z + step.clamp(-scale / 2, scale / 2)
    raise RuntimeError(f"projection onto the rods did not converge in {iters} Newton steps")


def chain_perturbed(y: torch.Tensor, l1: float, l2: float, eps: float = 1e-4,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """The constrained-HNN paper's perturbed start for its chaos floor: angle states ``y`` ``(n, 4)`` mapped to
    Cartesian positions and velocities, ``eps`` x N(0, 1) added to each of the 8 coordinates, projected back onto
    the rods and their rates as the paper's ``project_onto_constraints`` does, returned as angle states ``(n, 4)``."""
    z = chain_cartesian(y, l1, l2)
    z = z + eps * torch.randn(z.shape, generator=generator, dtype=z.dtype, device=z.device)
    return chain_angles(_project_onto_rods(z, l1, l2))


def chain_pendulum_task(n_train: int = 800, n_test: int = 200, chunk: int = 5, seed: int = 0) -> dict:
    """The constrained-HNN paper's data for the 2-link chain pendulum, generated with diffsim's
    ``double_pendulum`` field (dopri5, rtol 1e-10) and this package's own draws.

    Starts as the paper's ``sample_initial_conditions``: angles and rates ~ N(0, 1), mapped to Cartesian positions
    and velocities, positions + 0.2 N(0, 1), velocities (0.5 v + 0.4 N(0, 1)) x 3, then projected onto the rods.
    Each start is integrated over ``CHAIN_HORIZON`` samples at ``CHAIN_DT`` (3 s) and cut into ``chunk``-sample pieces;
    one piece per trajectory is kept at random. Returns float64 ``t`` ``(chunk,)``, ``train`` / ``test`` angle
    states ``(n, chunk, 4)`` ``[theta1, theta2, omega1, omega2]``, their Cartesian twins ``train_xy`` /
    ``test_xy`` ``(n, chunk, 8)``, ``params`` (:func:`chain_pendulum_params`) and the true ``field``.
    """
    for name, v in (("n_train", n_train), ("n_test", n_test)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be an int >= 1, got {v!r}")
    if isinstance(chunk, bool) or not isinstance(chunk, int) or not 2 <= chunk <= CHAIN_HORIZON:
        raise ValueError(f"chunk must be an int in [2, {CHAIN_HORIZON}] samples, got {chunk!r}")
    prm = chain_pendulum_params()
    n = n_train + n_test
    gen = torch.Generator().manual_seed(seed)
    draw = torch.randn(n, 4, generator=gen, dtype=F64)
    z = chain_cartesian(draw, prm["l1"], prm["l2"])
    z[:, :4] += 0.2 * torch.randn(n, 4, generator=gen, dtype=F64)
    z[:, 4:] = (0.5 * z[:, 4:] + 0.4 * torch.randn(n, 4, generator=gen, dtype=F64)) * 3
    y0 = chain_angles(_project_onto_rods(z, prm["l1"], prm["l2"]))
    field = fields.double_pendulum([prm["m1"], prm["m2"], prm["l1"], prm["l2"], prm["g"]])
    ys = _solve(field, y0, CHAIN_DT * torch.arange(CHAIN_HORIZON, dtype=F64))  # (n, 100, 4)
    pieces = ys[:, :CHAIN_HORIZON // chunk * chunk].unflatten(1, (CHAIN_HORIZON // chunk, chunk))
    pick = torch.randint(pieces.shape[1], (n,), generator=gen)
    ys = pieces[torch.arange(n), pick]
    xy = chain_cartesian(ys, prm["l1"], prm["l2"])
    return dict(t=CHAIN_DT * torch.arange(chunk, dtype=F64), train=ys[:n_train], test=ys[n_train:],
                train_xy=xy[:n_train], test_xy=xy[n_train:], params=prm, field=field)
