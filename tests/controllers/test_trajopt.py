"""Trajectory optimisation (Adam, L-BFGS) and MPC on the quadrotor; gradient of the plan cost vs FD."""
import numpy as np
import pytest
import torch

from controllers.trajopt import (
    MPC,
    QuadrotorGoal,
    fly_to,
    optimize_controls,
    quadrotor_plan,
)

F64 = torch.float64


@pytest.mark.parametrize("method,lr,iterations", [("adam", 0.05, 60), ("lbfgs", 0.5, 20)])
def test_open_loop_plan_climbs_to_goal(method, lr, iterations):
    thrusts, qs, costs = quadrotor_plan((0.0, 0.0, 1.5), steps=500, knots=6, iterations=iterations, method=method,
                                        lr=lr)
    assert min(costs) < costs[0] / 20
    assert abs(float(qs[-1, 2]) - 1.5) < 0.03
    assert float(thrusts.min()) >= 0.0 and float(thrusts.max()) <= 10.0


def test_fly_sideways_to_goal_then_hold_it_with_lqr():
    goal = np.array([1.0, 0.5, 1.2])
    thrusts, qs, held = fly_to(goal, steps=1000, knots=12, iterations=400, lr=0.01)
    assert np.linalg.norm(qs[-1, :3].numpy() - goal) < 0.03  # the 2 s plan ends within 3 cm, 1.2 m from the start
    assert float(thrusts.min()) >= 0.0 and float(thrusts.max()) <= 10.0
    assert np.linalg.norm(held[-1, :3] - goal) < 0.01  # 2 s later the LQR holds it within 1 cm
    assert np.linalg.norm(held[-1, 4:6]) < 0.01  # level (quaternion x, y)
    assert np.linalg.norm(held[-1, 7:13]) < 0.05  # and nearly still


def test_plan_cost_gradient_matches_finite_differences():
    task = QuadrotorGoal((0.2, 0.1, 1.3), steps=40, knots=5, w_goal=1.0)
    qpos = torch.tensor([[0, 0, 1.0, 1, 0, 0, 0]], dtype=F64)
    qvel = torch.zeros(1, 6, dtype=F64)
    c = (0.1 * torch.randn(1, 5, 4, generator=torch.Generator().manual_seed(0), dtype=F64)).requires_grad_(True)
    (g,) = torch.autograd.grad(task(qpos, qvel, c), c)
    for idx in [(0, 0, 0), (0, 2, 1), (0, 4, 2), (0, 3, 3)]:
        cp, cm = c.detach().clone(), c.detach().clone()
        cp[idx] += 1e-6
        cm[idx] -= 1e-6
        fd = (task(qpos, qvel, cp) - task(qpos, qvel, cm)) / 2e-6
        assert abs(float(g[idx]) - float(fd)) < 1e-6 * max(1.0, abs(float(fd))) + 1e-9


def test_knot_shift_holds_the_last_knot():
    task = QuadrotorGoal((0.0, 0.0, 1.0), steps=11, knots=3)  # knots at steps 0, 5, 10
    c = torch.arange(12, dtype=F64).reshape(1, 3, 4)
    shifted = task.shift(c, 5)
    torch.testing.assert_close(shifted[0, 0], c[0, 1])
    torch.testing.assert_close(shifted[0, 1], c[0, 2])
    torch.testing.assert_close(shifted[0, 2], c[0, 2])


def test_mpc_closed_loop_climbs():
    mpc = MPC(QuadrotorGoal((0.0, 0.0, 1.5), steps=250, knots=4, w_goal=1.0), iterations=10, lr=0.1, execute=20)
    pos, _, _ = mpc.run(torch.tensor([[0, 0, 1.0, 1, 0, 0, 0]], dtype=F64), torch.zeros(1, 6, dtype=F64), 600)
    assert abs(float(pos[-1, 2]) - 1.5) < 0.02
    assert float(pos[-1, :2].norm()) < 0.02


def test_optimizer_errors():
    with pytest.raises(ValueError, match="method"):
        optimize_controls(lambda u: u.sum(), torch.zeros(3), method="sgd")
    with pytest.raises(FloatingPointError, match="non-finite"):
        optimize_controls(lambda u: (u * float("nan")).sum(), torch.zeros(3))
