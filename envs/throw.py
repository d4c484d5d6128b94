"""``diffsim/Throw-v0``: push or throw a box so that it comes to rest on a target (a contact task).

## Dynamics
The built-in ``throw`` MJCF model: a 1 kg, 20 cm box on the ground with soft contacts and
Coulomb friction (mu = 0.5), RK4 at 1 ms. One env step launches the box with the chosen
initial velocity and simulates ``duration`` = 1.5 s (1 500 steps), enough to land and stop.

## Observation, action, reward
Contextual, one step: observation ``[target distance (m)]`` in [0.5, 3]; action
``Box([0, 0], [6, 3])`` = initial horizontal and vertical velocity (m/s); reward
``-|x_final - target|`` (m). Every episode terminates after its one throw.

## Differentiable step
``ThrowDynamics.step(state, action)`` returns rewards with gradients w.r.t. the action and
the friction/contact parameters of ``dynamics.template`` (``geom_contact``). Gradients are
exact for the smooth contact model; where a throw changes which corner lands first they
jump, as they do for any contact simulator.
"""
from __future__ import annotations

import numpy as np
import torch
from gymnasium import spaces

from diffsim.rigid import rollout
from envs.rigid_core import RigidDynamics, RigidEnv, RigidVectorEnv

TARGET_RANGE = (0.5, 3.0)


class ThrowDynamics(RigidDynamics):
    model_name = "throw"
    frame_skip = 1500  # 1.5 s at 1 ms
    context_dim = 1

    def __init__(self, device="cpu", **overrides):
        super().__init__(device=device, **overrides)
        self.nu = 2  # the action is the launch velocity, not an actuator
        self.ctrl_low, self.ctrl_high = np.array([0.0, 0.0]), np.array([6.0, 3.0])
        self.action_space = spaces.Box(self.ctrl_low.astype(np.float32), self.ctrl_high.astype(np.float32),
                                       dtype=np.float32)
        self.observation_space = spaces.Box(np.float32(TARGET_RANGE[0]), np.float32(TARGET_RANGE[1]), shape=(1,),
                                            dtype=np.float32)
        self.action_dim = 2

    def initial_bounds(self, options=None):
        """The box resting 10 cm up (its half height), level, still; the target uniform in ``TARGET_RANGE``."""
        box = [0.0, 0.0, 0.1, 1.0, 0.0, 0.0, 0.0] + [0.0] * 6
        return np.array(box + [TARGET_RANGE[0]]), np.array(box + [TARGET_RANGE[1]])

    def transition(self, state, action, params=None, recompute: bool = False):
        n = state.shape[0]
        state = state.to(torch.float64)
        q, _, target = self.split(state)
        a = action.to(torch.float64)
        zero = torch.zeros(n, 1, dtype=torch.float64, device=state.device)
        v = torch.cat([a[:, :1], zero, a[:, 1:2], zero, zero, zero], dim=1)  # launch along x, up along z
        qs, vs = rollout(self.model_for(n), q, v, torch.zeros(n, self.frame_skip, 0, dtype=torch.float64,
                                                              device=state.device), recompute=recompute)
        next_state = torch.cat([qs[:, -1], vs[:, -1], target], dim=1)
        return next_state, self.reward(state, a, next_state)

    def observe(self, state):
        return state[:, -1:]

    def reward(self, state, action, next_state):
        return -(next_state[:, 0] - next_state[:, -1]).abs()

    def terminated(self, state):
        return torch.ones(state.shape[0], dtype=torch.bool, device=state.device)

    def render_frame(self, state):
        size = 128
        img = np.full((size, size, 3), 255, dtype=np.uint8)
        img[100:102, :] = (0, 0, 0)
        tx = int(10 + state[-1] * 35)
        img[96:100, max(0, tx - 2):tx + 3] = (200, 0, 0)
        bx, bz = int(10 + state[0] * 35), int(100 - state[2] * 35)
        img[max(0, bz - 3):bz + 4, max(0, bx - 3):bx + 4] = (60, 60, 200)
        return img


class ThrowEnv(RigidEnv):
    def __init__(self, render_mode=None, **params):
        super().__init__(ThrowDynamics(**params), render_mode)


class ThrowVectorEnv(RigidVectorEnv):
    def __init__(self, num_envs=1, max_episode_steps=1000, device="cpu", render_mode=None, **params):
        super().__init__(ThrowDynamics(device=device, **params), num_envs, max_episode_steps, render_mode)
