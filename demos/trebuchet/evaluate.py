"""Evaluation of an aiming network: accuracy on reachable/unreachable targets and aiming speed."""
from __future__ import annotations

import math
import time

import numpy as np
import torch

from demos.trebuchet.aiming import AimNet, miss, sample_shots
from diffsim.trebuchet import LB, simulate

REACH_WINDS = np.linspace(-20.0, 20.0, 81)  # m/s: the wind grid of the reachability search


def reachable_interval(model: str, weight_range_lb=(20.0, 500.0), winds=None):
    """Shortest and longest landing distance reachable at each wind, over the allowed controls.

    Searched on a grid (release angle 1..89 deg by 1 deg, 8 counterweights across the
    range) at winds ``REACH_WINDS`` (-20..20 m/s), then interpolated in wind. Returns ``(winds, d_min, d_max)``.
    """
    if winds is None:
        winds = REACH_WINDS
    angles = np.radians(np.arange(1.0, 90.0, 1.0))
    weights = np.linspace(*weight_range_lb, 8)
    W, A, M = np.meshgrid(winds, angles, weights, indexing="ij")
    d = simulate(torch.tensor(W.ravel()), torch.tensor(A.ravel()), torch.tensor(M.ravel() * LB), model=model)
    d = d.reshape(len(winds), -1).numpy()
    return winds, np.nanmin(d, axis=1), np.nanmax(d, axis=1)


def accuracy(net: AimNet, n: int = 1000, seed: int = 2024):
    """|miss| over ``n`` fresh shots, split by reachability; returns a dict of arrays and summary stats."""
    gen = torch.Generator().manual_seed(seed)
    wind, target = sample_shots(n, gen, net.recipe.torch_dtype)
    with torch.no_grad():
        err = miss(net, wind, target, net.recipe.model).abs().double().numpy()
    grid, dmin, dmax = reachable_interval(net.recipe.model, net.recipe.weight_range_lb)
    w = wind.double().numpy()
    lo = np.interp(w, grid, dmin)
    hi = np.interp(w, grid, dmax)
    t = target.double().numpy()
    reach = (t >= lo) & (t <= hi) & (np.abs(w) <= 20.0)
    out = {"wind": w, "target": t, "abs_miss": err, "is_reachable": reach}
    for name, mask in (("reachable", reach), ("unreachable", ~reach), ("all", np.ones_like(reach))):
        vals = err[mask]
        out[name] = dict(count=int(mask.sum()), mean=float(vals.mean()) if len(vals) else float("nan"),
                         median=float(np.median(vals)) if len(vals) else float("nan"))
    return out


def _distance_and_slope(wind, angle, weight_lb, model):
    a = angle.detach().requires_grad_(True)
    d = simulate(wind, a, torch.full_like(wind, weight_lb * LB), model=model)
    (g,) = torch.autograd.grad(d.sum(), a)
    return d.detach(), g


def aim_by_gradient_descent(wind: float, target: float, model: str, weight_lb: float = 200.0, steps: int = 30,
                            lr: float = 0.1):
    """The notebooks' ``best_angle(wind, target)``: 30 gradient steps (lr 0.1) on the squared miss
    w.r.t. the angle in degrees, from 45 deg, counterweight fixed. Returns (angle rad, |miss| m, steps)."""
    w = torch.tensor([wind], dtype=torch.float64)
    deg = torch.tensor([45.0], dtype=torch.float64)
    for _ in range(steps):
        d, g = _distance_and_slope(w, torch.deg2rad(deg), weight_lb, model)
        deg = deg - lr * 2.0 * (d - target) * g * (math.pi / 180.0)
    d, _ = _distance_and_slope(w, torch.deg2rad(deg), weight_lb, model)
    return math.radians(float(deg)), abs(float(d) - target), steps


def aim_by_newton(wind: float, target: float, model: str, weight_lb: float = 200.0, tol: float = 0.01,
                  max_steps: int = 50):
    """A stronger direct baseline: damped Newton steps on the angle until |miss| < ``tol``."""
    w = torch.tensor([wind], dtype=torch.float64)
    angle = torch.tensor([math.radians(45.0)], dtype=torch.float64)
    for it in range(1, max_steps + 1):
        d, g = _distance_and_slope(w, angle, weight_lb, model)
        err = float(d) - target
        if abs(err) < tol:
            break
        step = err / float(g) if abs(float(g)) > 1e-3 else 0.1
        angle = (angle - max(-0.2, min(0.2, step))).clamp(math.radians(1.0), math.radians(89.0))
    return float(angle), abs(err), it


def aiming_speed(net: AimNet, n_network: int = 10_000, n_direct: int = 20, repeats: int = 5, seed: int = 7):
    """Time to aim ``n_network`` shots with the network (one batched forward, best of ``repeats``) and
    per-shot time of direct optimisation through the simulator, one shot at a time, on shots
    reachable with the fixed 200 lb counterweight (targets 30..68 m, |wind| <= 5 m/s)."""
    gen = torch.Generator().manual_seed(seed)
    wind, target = sample_shots(n_network, gen, net.recipe.torch_dtype)
    with torch.inference_mode():
        net(wind[:10], target[:10])
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            net(wind, target)
            times.append(time.perf_counter() - t0)
    t_net = min(times)
    shots = [(max(-5.0, min(5.0, 0.5 * float(wind[i]))), 30.0 + 2.0 * i) for i in range(n_direct)]
    out = dict(network_total_s=t_net, network_per_shot_s=t_net / n_network)
    for name, fn in (("gradient_descent", aim_by_gradient_descent), ("newton", aim_by_newton)):
        t0 = time.perf_counter()
        res = [fn(w, t, net.recipe.model) for w, t in shots]
        per_shot = (time.perf_counter() - t0) / n_direct
        out[name] = dict(per_shot_s=per_shot, mean_steps=float(np.mean([r[2] for r in res])),
                         mean_abs_miss=float(np.mean([r[1] for r in res])),
                         speedup=per_shot / out["network_per_shot_s"])
    return out
