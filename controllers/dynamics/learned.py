"""``LearnedDynamics``: a learned controlled field standing in for an env's transition, e.g. inside MPC.

    plan_with = LearnedDynamics(model, PendulumDynamics(), dt=0.05)
    mpc = ShootingMPC(plan_with)                       # plans on the learned model
    returns, _ = closed_loop(PendulumDynamics(), mpc.act, start, 200)   # acts on the real system

The next state is the model's field ``model.with_control(action)`` integrated over one env step ``dt`` (s)
with the action held, by ``substeps`` RK4 steps of :func:`diffsim.ode.odeint` (differentiable). The reward is
the env's own reward of ``(state, action)``, so this is for envs whose reward depends on the state before the
step and the action only (Pendulum, the swing-ups): the usual model-based setting of a known reward and
learned dynamics.
"""
from __future__ import annotations

import torch

from diffsim.ode import odeint


class LearnedDynamics:
    """``transition(state (B, S), action (B, A)) -> (next_state, reward)`` from a learned controlled model
    (``model.with_control(u)`` a field ``f(t, y)``, ``y`` the env's state) and the env's reward."""

    def __init__(self, model, env_dynamics, dt: float, substeps: int = 1):
        if not dt > 0:
            raise ValueError(f"dt must be > 0 (s), got {dt!r}")
        if isinstance(substeps, bool) or not isinstance(substeps, int) or substeps < 1:
            raise ValueError(f"substeps must be an int >= 1, got {substeps!r}")
        if not hasattr(model, "with_control"):
            raise TypeError(f"model must be a controlled model with with_control(u), got {type(model).__name__}")
        self.model, self.env, self.dt, self.substeps = model, env_dynamics, float(dt), substeps
        self.action_space = env_dynamics.action_space

    def transition(self, state: torch.Tensor, action: torch.Tensor):
        span = torch.tensor([0.0, self.dt], dtype=state.dtype)
        next_state = odeint(self.model.with_control(action.to(state.dtype)), state, span, method="rk4",
                            step_size=self.dt / self.substeps)[-1]
        _, reward = self.env.transition(state, action)
        return next_state, reward

    def shaping(self, state, action, next_state):
        return self.env.shaping(state, action, next_state)
