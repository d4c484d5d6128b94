"""``diffsim/CartPoleSwingUp-v0``: swing a hanging pole up and balance it, by a continuous push.

## Dynamics
The built-in ``cartpole`` MJCF model (:mod:`diffsim.rigid`): a 1 kg cart on a slider
(damping 0.1 N s/m) and a 0.1 kg, 1 m pole on a hinge (damping 0.01 N m s/rad), RK4 at
2 ms, ``frame_skip`` = 5 (an env step is 10 ms). State ``[x, theta, x_dot, theta_dot]``
(m, rad with 0 = upright, m/s, rad/s).

## Observation, action, reward
Observation ``[x, cos theta, sin theta, x_dot, theta_dot]``; action ``Box(-1, 1, (1,))``,
the push in units of the 10 N gear; reward ``(1 + cos theta) / 2 - 0.01 x^2 - 0.001 a^2`` per step
(1 when balanced at the centre, 0 hanging still; never below -0.1 on the track, so running off it
never pays). Terminates if ``|x| > 3`` m; truncated after 500 steps.

## Starting state
Hanging down: ``theta ~ pi + U(-0.05, 0.05)``, ``x, x_dot, theta_dot ~ U(-0.05, 0.05)``.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from gymnasium import spaces

from envs.rendering import cartpole_frame
from envs.rigid_core import RigidDynamics, RigidEnv, RigidVectorEnv

TRACK_LIMIT = 3.0  # m: the episode terminates beyond it
SOFT_RAIL, SOFT_RAIL_WEIGHT = 2.0, 5.0  # training-only penalty (see ``shaping``)


class CartPoleSwingUpDynamics(RigidDynamics):
    model_name = "cartpole"
    frame_skip = 5

    def __init__(self, device="cpu", **overrides):
        super().__init__(device=device, **overrides)
        high = np.array([np.inf] * 5, dtype=np.float32)
        self.observation_space = spaces.Box(-high, high, dtype=np.float32)

    def initial_bounds(self, options=None):
        """Hanging down (pole angle pi) at rest, every component within +-0.05."""
        centre = np.array([0.0, math.pi, 0.0, 0.0])
        return centre - 0.05, centre + 0.05

    def observe(self, state):
        return torch.stack([state[:, 0], torch.cos(state[:, 1]), torch.sin(state[:, 1]), state[:, 2], state[:, 3]], -1)

    def reward(self, state, action, next_state):
        upright = 0.5 * (1.0 + torch.cos(next_state[:, 1]))
        return upright - 0.01 * next_state[:, 0] ** 2 - 0.001 * action[:, 0] ** 2

    def terminated(self, state):
        return state[:, 0].abs() > TRACK_LIMIT

    def shaping(self, state, action, next_state):
        """Soft rails for training: ``-SOFT_RAIL_WEIGHT (|x| - SOFT_RAIL)^2`` beyond ``SOFT_RAIL`` = 2 m,
        so the gradient sees the termination at 3 m coming."""
        excess = torch.relu(next_state[:, 0].abs() - SOFT_RAIL)
        return -SOFT_RAIL_WEIGHT * excess ** 2

    def render_frame(self, state):
        return cartpole_frame(state[0], state[1], x_scale=128 / 8, cart_y=70, pole=40.0)


class CartPoleSwingUpEnv(RigidEnv):
    def __init__(self, render_mode=None, **params):
        super().__init__(CartPoleSwingUpDynamics(**params), render_mode)


class CartPoleSwingUpVectorEnv(RigidVectorEnv):
    def __init__(self, num_envs=1, max_episode_steps=500, device="cpu", render_mode=None, **params):
        super().__init__(CartPoleSwingUpDynamics(device=device, **params), num_envs, max_episode_steps, render_mode)
