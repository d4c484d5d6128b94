"""The "physical" model: converged in dt, flight checked against scipy, smooth in its inputs."""
import dataclasses
import math

import numpy as np
import torch
from scipy.integrate import solve_ivp

from diffsim.trebuchet import LB, PHYSICAL, simulate

F64 = torch.float64
SHOTS = (torch.tensor([0.0, 5.0, -5.0], dtype=F64), torch.tensor([0.8, 0.6, 0.4], dtype=F64),
         torch.tensor([90.0, 150.0, 60.0], dtype=F64))


def test_step_is_converged():
    fine = dataclasses.replace(PHYSICAL, dt=PHYSICAL.dt / 4, max_steps=4 * PHYSICAL.max_steps)
    d = simulate(*SHOTS, model="physical")
    d_fine = simulate(*SHOTS, model=fine)
    assert float((d - d_fine).abs().max()) < 1e-3


def test_flight_matches_solve_ivp_from_release_state():
    d, info = simulate(*SHOTS, model="physical", return_info=True)
    k, g, h = PHYSICAL.drag_factor, PHYSICAL.gravity, PHYSICAL.pivot_height
    for i in range(3):
        w = float(SHOTS[0][i])

        def f(t, s):
            vr = math.hypot(s[2] - w, s[3])
            return [s[2], s[3], -k * (s[2] - w) * vr, -g - k * s[3] * vr]

        def ground(t, s):
            return s[1] + h
        ground.terminal, ground.direction = True, -1
        sol = solve_ivp(f, (0, 30), info["release"][i].tolist(), events=ground, rtol=1e-12, atol=1e-12)
        assert abs(sol.y_events[0][0][0] - float(d[i])) < 1e-4
        assert abs(sol.t_events[0][0] - float(info["t_land"][i] - info["t_release"][i])) < 1e-4


def test_range_is_smooth_and_monotone_in_mass():
    mass = torch.linspace(30, 800, 60, dtype=F64) * LB
    d = simulate(torch.zeros(60, dtype=F64), torch.full((60,), math.radians(30), dtype=F64), mass, model="physical")
    diffs = np.diff(d.numpy())
    assert (diffs > 0).all()  # monotone, unlike the original's Euler breakdown above ~530 lb
    assert (np.diff(diffs) < 0).all()  # concave: diminishing returns, no kinks
