"""LQR on ``diffsim/Pendulum-v0`` from the simulator's autodiff Jacobians vs scipy's Riccati solver on the
analytic linearisation; return and region of attraction over a grid of start states.

The env's step is Gymnasium's semi-implicit Euler, ``w' = w + (3g/2l sin(th) + 3/(m l^2) u) dt``,
``th' = th + w' dt``; about upright (``th = 0``) its exact linearisation is
``A = [[1 + a dt^2, dt], [a dt, 1]]``, ``B = [[b dt^2], [b dt]]`` with ``a = 3g/2l``, ``b = 3/(m l^2)``.
Both gains use the env's own cost weights (``Q = diag(1, 0.1)``, ``R = 0.001``). The closed loop runs on the
nonlinear env with the torque limit (|u| <= 2 N m): a start state is "caught" when after 200 steps
(10 s) the pendulum is within 0.05 rad of upright and 0.1 rad/s of rest.

Usage: ``python -m benchmarks.bench_lqr [--grid 61]``; prints a table (Markdown).
"""
from __future__ import annotations

import argparse
import math

import numpy as np
import scipy.linalg
import torch

from controllers.lqr import LQRController
from controllers.shac import closed_loop
from envs.pendulum import PendulumDynamics

Q, R = np.diag([1.0, 0.1]), np.array([[0.001]])


def analytic_gain(dyn: PendulumDynamics):
    g, m, length, dt = (float(dyn.params[i]) for i in range(4))
    a, b = 3 * g / (2 * length), 3 / (m * length ** 2)
    A = np.array([[1 + a * dt * dt, dt], [a * dt, 1.0]])
    B = np.array([[b * dt * dt], [b * dt]])
    P = scipy.linalg.solve_discrete_are(A, B, Q, R)
    return np.linalg.solve(R + B.T @ P @ B, B.T @ P @ A), A, B


def wrap_angle(x):
    return torch.cat([torch.remainder(x[:, :1] + math.pi, 2 * math.pi) - math.pi, x[:, 1:]], dim=1)


def lqr_loop(dyn, gain, starts, steps=200):
    """``(returns (N,), caught (N,) bool)`` of ``u = clip(-K [wrap(th), w], -2, 2)`` from ``starts (N, 2)``."""
    K = torch.as_tensor(gain, dtype=torch.float64)
    returns, states = closed_loop(dyn, lambda x: (-(wrap_angle(x) @ K.T)).clamp(-2.0, 2.0),
                                  torch.as_tensor(starts, dtype=torch.float64), steps)
    z = wrap_angle(states[-1])
    return returns.numpy(), ((z[:, 0].abs() < 0.05) & (z[:, 1].abs() < 0.1)).numpy()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", type=int, default=61, help="grid points per axis (angle x rate)")
    args = parser.parse_args(argv)
    dyn = PendulumDynamics()
    ctrl = LQRController(dyn, np.zeros(2), np.zeros(1), Q, R, state_map=wrap_angle)
    K_ref, A_ref, B_ref = analytic_gain(dyn)
    th, w = np.meshgrid(np.linspace(-math.pi, math.pi, args.grid), np.linspace(-8, 8, args.grid), indexing="ij")
    starts = np.stack([th.ravel(), w.ravel()], 1)
    print("| quantity | autodiff (diffsim) | analytic (scipy) | max abs difference |\n|---|---|---|---|")
    print(f"| A | {np.round(ctrl.A, 6).tolist()} | {np.round(A_ref, 6).tolist()} | "
          f"{np.abs(ctrl.A - A_ref).max():.1e} |")
    print(f"| B | {np.round(ctrl.B, 6).ravel().tolist()} | {np.round(B_ref, 6).ravel().tolist()} | "
          f"{np.abs(ctrl.B - B_ref).max():.1e} |")
    print(f"| K | {np.round(ctrl.K, 4).ravel().tolist()} | {np.round(K_ref, 4).ravel().tolist()} | "
          f"{np.abs(ctrl.K - K_ref).max():.1e} |")
    print(f"| closed-loop spectral radius | {ctrl.closed_loop_spectral_radius():.6f} | "
          f"{np.abs(np.linalg.eigvals(A_ref - B_ref @ K_ref)).max():.6f} | |")
    print()
    print(f"| gain | start states caught (of {len(starts)}) | fraction | mean return (200 steps) of caught starts | "
          f"mean return, all starts |\n|---|---|---|---|---|")
    for name, K in (("autodiff", ctrl.K), ("analytic", K_ref)):
        returns, caught = lqr_loop(dyn, K, starts)
        print(f"| {name} | {caught.sum()} | {caught.mean():.3f} | {returns[caught].mean():.1f} | "
              f"{returns.mean():.1f} |")
    near = starts[(np.abs(starts[:, 0]) <= 0.5) & (np.abs(starts[:, 1]) <= 1.0)]
    returns, caught = lqr_loop(dyn, ctrl.K, near)
    print(f"\nFrom |th| <= 0.5 rad, |w| <= 1 rad/s ({len(near)} grid starts): {caught.mean():.3f} caught, "
          f"mean return {returns.mean():.2f}.")


if __name__ == "__main__":
    main()
