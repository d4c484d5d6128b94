"""``diffsim/Quadrotor-v0``: fly a quadrotor to a goal position and hover there.

## Dynamics
The built-in ``quadrotor`` MJCF model: a 1 kg X quadrotor on a free joint; four rotors
push along the body z axis (thrust, N) and drag in yaw; RK4 at 2 ms, ``frame_skip`` = 5
(an env step is 10 ms). State ``[position (3), quaternion w-x-y-z (4), linear velocity
(3, world), angular velocity (3, body), goal (3)]`` (m, m/s, rad/s).

## Observation, action, reward
Observation ``[goal - position (3), quaternion (4), linear velocity (3), angular velocity (3)]``;
action ``Box(0, 10, (4,))`` rotor thrusts (N; hover is m g / 4 = 2.45 N each); reward
``2 - |goal - position| - 0.05 |angular velocity|^2 - 0.01 |a - hover|^2`` (2 hovering at the goal;
the constant makes staying airborne worth more than crashing, since every start is within
sqrt(3) m of its goal). Terminates when the quadrotor is below 5 cm (crashed) or 5 m from the
goal; truncated after 500 steps.

## Starting state
Position (0, 0, 1) m + U(-0.1, 0.1) per axis, level, at rest; goal U(-1, 1) x U(-1, 1) x U(0.5, 2) m.
"""
from __future__ import annotations

import numpy as np
import torch
from gymnasium import spaces

from envs.rigid_core import RigidDynamics, RigidEnv, RigidVectorEnv

HOVER = 9.81 / 4  # N per rotor for the 1 kg model
ALIVE_BONUS = 2.0  # per step, so that ending the episode early never pays


class QuadrotorDynamics(RigidDynamics):
    model_name = "quadrotor"
    frame_skip = 5
    context_dim = 3

    def __init__(self, device="cpu", **overrides):
        super().__init__(device=device, **overrides)
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(13,), dtype=np.float32)

    def initial_bounds(self, options=None):
        """``[position, quaternion, velocities, goal]``: see the module's "Starting state"."""
        level_at_rest = [1.0, 0.0, 0.0, 0.0] + [0.0] * 6
        return (np.array([-0.1, -0.1, 0.9] + level_at_rest + [-1.0, -1.0, 0.5]),
                np.array([0.1, 0.1, 1.1] + level_at_rest + [1.0, 1.0, 2.0]))

    def observe(self, state):
        q, v, goal = self.split(state)
        return torch.cat([goal - q[:, :3], q[:, 3:7], v], dim=1)

    def reward(self, state, action, next_state):
        q, v, goal = self.split(next_state)
        dist = torch.sqrt(((goal - q[:, :3]) ** 2).sum(-1) + 1e-12)
        return ALIVE_BONUS - dist - 0.05 * (v[:, 3:] ** 2).sum(-1) - 0.01 * ((action - HOVER) ** 2).sum(-1)

    def terminated(self, state):
        q, _, goal = self.split(state)
        return (q[:, 2] < 0.05) | (((goal - q[:, :3]) ** 2).sum(-1) > 25.0)

    def render_frame(self, state):
        size = 128
        img = np.full((size, size, 3), 255, dtype=np.uint8)

        def px(x, z):
            return int(size / 2 + x * 25), int(size - 10 - z * 25)

        gx, gz = px(state[13], state[15])
        img[max(0, gz - 2):gz + 3, max(0, gx - 2):gx + 3] = (0, 160, 0)
        x, z = px(state[0], state[2])
        img[max(0, z - 2):z + 3, max(0, x - 8):x + 9] = (0, 0, 0)
        return img


class QuadrotorEnv(RigidEnv):
    def __init__(self, render_mode=None, **params):
        super().__init__(QuadrotorDynamics(**params), render_mode)


class QuadrotorVectorEnv(RigidVectorEnv):
    def __init__(self, num_envs=1, max_episode_steps=500, device="cpu", render_mode=None, **params):
        super().__init__(QuadrotorDynamics(device=device, **params), num_envs, max_episode_steps, render_mode)
