"""``LearnedDynamics``: one held-action RK4 step of the learned field, the env's reward, usable by MPC."""
import pytest
import torch

from controllers.dynamics import ControlledHNN
from controllers.dynamics.learned import LearnedDynamics
from controllers.mpc import ShootingMPC
from envs.pendulum import PendulumDynamics

F64 = torch.float64


def test_transition_is_one_rk4_step_of_the_field_with_the_envs_reward():
    torch.manual_seed(0)
    env = PendulumDynamics()
    model = ControlledHNN(dof=1, control_dim=1, hidden=16, periodic=[True])
    learned = LearnedDynamics(model, env, dt=0.05, substeps=2)
    state = torch.tensor([[0.3, -1.0], [2.5, 0.5]], dtype=F64)
    action = torch.tensor([[1.5], [-0.7]], dtype=F64, requires_grad=True)
    nxt, reward = learned.transition(state, action)
    f = model.with_control(action)
    h = 0.025
    y = state
    for _ in range(2):  # classic RK4 by hand
        k1 = f(0, y)
        k2 = f(0, y + h / 2 * k1)
        k3 = f(0, y + h / 2 * k2)
        k4 = f(0, y + h * k3)
        y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    torch.testing.assert_close(nxt, y, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(reward, env.transition(state, action)[1])
    (g,) = torch.autograd.grad(nxt.sum() + reward.sum(), action)
    assert torch.isfinite(g).all() and g.abs().sum() > 0


def test_mpc_plans_on_the_learned_model():
    torch.manual_seed(1)
    env = PendulumDynamics()
    learned = LearnedDynamics(ControlledHNN(dof=1, control_dim=1, hidden=8), env, dt=0.05)
    mpc = ShootingMPC(learned, horizon=3, iterations=2)
    action = mpc.act(torch.tensor([[3.0, 0.0]], dtype=F64))
    assert action.shape == (1, 1) and -2 <= float(action) <= 2


def test_bad_arguments():
    env = PendulumDynamics()
    with pytest.raises(ValueError, match="dt must be > 0"):
        LearnedDynamics(ControlledHNN(), env, dt=0.0)
    with pytest.raises(ValueError, match="substeps must be an int >= 1"):
        LearnedDynamics(ControlledHNN(), env, dt=0.05, substeps=0)
    with pytest.raises(TypeError, match="controlled model"):
        LearnedDynamics(torch.nn.Linear(2, 2), env, dt=0.05)
