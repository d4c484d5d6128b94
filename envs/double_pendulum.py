"""``diffsim/DoublePendulum-v0``: swing a double pendulum up and balance it, with torques at both joints.

## Dynamics
The built-in ``double_pendulum`` MJCF model: two 1 kg, 1 m capsule links on hinges
about y, RK4 at 1 ms, ``frame_skip`` = 10 (an env step is 10 ms). State
``[q1, q2, q1_dot, q2_dot]`` (rad, 0 = hanging down; rad/s).

## Observation, action, reward
Observation ``[cos q1, sin q1, cos q2, sin q2, q1_dot, q2_dot]``; action ``Box(-10, 10, (2,))``
joint torques (N m); reward = tip height / 2 (in [-1, 1]; 1 when both links point up)
``- 0.001 |a|^2``. Never terminates; truncated after 500 steps.

## Starting state
Hanging: each component ~ U(-0.05, 0.05).
"""
from __future__ import annotations

import numpy as np
import torch
from gymnasium import spaces

from envs.rendering import two_link_frame
from envs.rigid_core import RigidDynamics, RigidEnv, RigidVectorEnv


class DoublePendulumDynamics(RigidDynamics):
    model_name = "double_pendulum"
    frame_skip = 10

    def __init__(self, device="cpu", **overrides):
        super().__init__(device=device, **overrides)
        high = np.array([1, 1, 1, 1, np.inf, np.inf], dtype=np.float32)
        self.observation_space = spaces.Box(-high, high, dtype=np.float32)

    def initial_bounds(self, options=None):
        return np.full(4, -0.05), np.full(4, 0.05)

    def observe(self, state):
        q1, q2 = state[:, 0], state[:, 1]
        return torch.stack([torch.cos(q1), torch.sin(q1), torch.cos(q2), torch.sin(q2), state[:, 2], state[:, 3]], -1)

    def reward(self, state, action, next_state):
        q1, q2 = next_state[:, 0], next_state[:, 1]
        height = -(torch.cos(q1) + torch.cos(q1 + q2))  # links of 1 m hanging along -z at q = 0
        return 0.5 * height - 0.001 * (action ** 2).sum(-1)

    def render_frame(self, state):
        return two_link_frame(state[0], state[1])


class DoublePendulumEnv(RigidEnv):
    def __init__(self, render_mode=None, **params):
        super().__init__(DoublePendulumDynamics(**params), render_mode)


class DoublePendulumVectorEnv(RigidVectorEnv):
    def __init__(self, num_envs=1, max_episode_steps=500, device="cpu", render_mode=None, **params):
        super().__init__(DoublePendulumDynamics(device=device, **params), num_envs, max_episode_steps, render_mode)
