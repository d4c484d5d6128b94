"""Trajectory optimisation (Adam, L-BFGS) and MPC on the quadrotor; gradient of the plan cost vs FD."""
import numpy as np
import pytest
import torch

from controllers.trajopt import MPC, QuadrotorGoal, optimize_controls, quadrotor_plan

F64 = torch.float64


@pytest.mark.parametrize("method,lr,iterations", [("adam", 0.02, 60), ("lbfgs", 0.5, 20)])
def test_open_loop_plan_climbs_to_goal(method, lr, iterations):
    thrusts, qs, costs = quadrotor_plan((0.0, 0.0, 1.5), steps=500, iterations=iterations, method=method, lr=lr)
    assert min(costs) < costs[0] / 20
    assert abs(float(qs[-1, 2]) - 1.5) < 0.03
    assert float(thrusts.min()) >= 0.0 and float(thrusts.max()) <= 10.0


def test_plan_cost_gradient_matches_finite_differences():
    task = QuadrotorGoal((0.2, 0.0, 1.3))
    qpos = torch.tensor([[0, 0, 1.0, 1, 0, 0, 0]], dtype=F64)
    qvel = torch.zeros(1, 6, dtype=F64)
    z = task.logits(np.full((1, 40, 4), task.hover)).requires_grad_(True)
    (g,) = torch.autograd.grad(task(qpos, qvel, z), z)
    for idx in [(0, 0, 0), (0, 17, 2), (0, 39, 3)]:
        zp, zm = z.detach().clone(), z.detach().clone()
        zp[idx] += 1e-6
        zm[idx] -= 1e-6
        fd = (task(qpos, qvel, zp) - task(qpos, qvel, zm)) / 2e-6
        assert abs(float(g[idx]) - float(fd)) < 1e-6 * max(1.0, abs(float(fd))) + 1e-9


def test_mpc_closed_loop_climbs():
    mpc = MPC(QuadrotorGoal((0.0, 0.0, 1.5)), horizon=100, iterations=5, lr=0.05, execute=20)
    pos, _, _ = mpc.run(torch.tensor([[0, 0, 1.0, 1, 0, 0, 0]], dtype=F64), torch.zeros(1, 6, dtype=F64), 600)
    assert abs(float(pos[-1, 2]) - 1.5) < 0.1


def test_optimizer_errors():
    with pytest.raises(ValueError, match="method"):
        optimize_controls(lambda u: u.sum(), torch.zeros(3), method="sgd")
    with pytest.raises(FloatingPointError, match="non-finite"):
        optimize_controls(lambda u: (u * float("nan")).sum(), torch.zeros(3))
