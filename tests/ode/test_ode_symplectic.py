"""Symplectic methods on Kepler (e = 0.6): bounded energy error, no drift, reversibility."""
import numpy as np
import pytest
import torch

from diffsim.ode import fields, odeint

E = 0.6
Y0 = [1 - E, 0.0, 0.0, np.sqrt((1 + E) / (1 - E))]


def _energy(ys):
    q, p = ys[..., :2], ys[..., 2:]
    return 0.5 * (p ** 2).sum(-1) - 1.0 / np.sqrt((q ** 2).sum(-1))


def _ang_mom(ys):
    return ys[..., 0] * ys[..., 3] - ys[..., 1] * ys[..., 2]


@pytest.mark.parametrize("method", ["verlet", "semi_implicit_euler"])
def test_energy_bounded_without_drift_over_1000_periods(method):
    periods, per = 1000, 200
    t = np.linspace(0, 2 * np.pi * periods, periods + 1)
    ys = odeint(fields.kepler(), torch.tensor(Y0, dtype=torch.float64), t, method=method,
                step_size=2 * np.pi / per).numpy()
    dE = np.abs(_energy(ys) + 0.5)
    first, last = dE[1:101].max(), dE[-100:].max()
    assert last < 1.5 * first, (first, last)  # no secular growth
    assert dE.max() < (2e-2 if method == "verlet" else 2e-1)
    # both methods preserve the quadratic invariant q x p exactly (up to roundoff)
    assert np.abs(_ang_mom(ys) - np.sqrt(1 - E ** 2)).max() < 1e-10


def test_rk4_drifts_where_verlet_does_not():
    periods, per = 200, 200
    t = np.linspace(0, 2 * np.pi * periods, periods + 1)
    ys = odeint(fields.kepler(), torch.tensor(Y0, dtype=torch.float64), t, method="rk4",
                step_size=2 * np.pi / per).numpy()
    dE = np.abs(_energy(ys) + 0.5)
    assert dE[-1] > 10 * dE[1]  # the energy error grows secularly for a non-symplectic method


def test_verlet_forward_then_backward_returns_to_start():
    n, h = 5000, 2 * np.pi / 300
    y0 = torch.tensor(Y0, dtype=torch.float64)
    y1 = odeint(fields.kepler(), y0, [0.0, n * h], method="verlet", step_size=h)[-1]
    flipped = torch.cat([y1[:2], -y1[2:]])
    y2 = odeint(fields.kepler(), flipped, [0.0, n * h], method="verlet", step_size=h)[-1]
    back = torch.cat([y2[:2], -y2[2:]])
    assert float((back - y0).abs().max()) < 1e-9
