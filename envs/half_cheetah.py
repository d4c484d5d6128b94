"""``diffsim/HalfCheetah-v0``: Gymnasium's ``HalfCheetah-v5`` on diffsim's rigid-body engine.

## Dynamics
Gymnasium's own ``half_cheetah.xml`` (MuJoCo model): a planar runner of 14 kg (torso and two legs of thigh, shin
and foot capsules; root slides x, z and hinge y, six limited hinges with springs, damping and armature), six
motors (gears 120, 90, 60, 120, 60, 30; control in [-1, 1]), floor contacts (MuJoCo's solref/solimp mapped to
diffsim's penalty contacts, see ``diffsim.rigid``). MuJoCo steps it with Euler at 10 ms; diffsim's explicit
penalty contacts are not stable there under bang-bang controls, so diffsim runs RK4 at 5 ms (two steps per
MuJoCo step; ``frame_skip`` = 5, an env step is 50 ms either way). Contacts make diffsim's trajectory differ
from MuJoCo's from the first touchdown on. State ``[qpos (9), qvel (9)]``: x, z (m, relative to the torso's
start at 0.7 m), the torso angle and six joint angles (rad), then their rates.

## Observation, action, reward (Gymnasium v5 defaults)
Observation ``[qpos[1:], qvel]`` (17); action ``Box(-1, 1, (6,))``; reward ``dx/dt - 0.1 |a|^2`` with ``dx`` the
root's x displacement over the env step. Never terminates; truncated after 1 000 steps (``reward_threshold``
4 800).

## Starting state
``qpos0 + U(-0.1, 0.1)`` for every position and ``0.1 N(0, 1)`` for every velocity, drawn as Gymnasium draws
them (NumPy's ziggurat for the normals, equal to NumPy's to ~1e-14, see :mod:`envs.pcg64`).
"""
from __future__ import annotations

import numpy as np
from gymnasium import spaces

from envs.rendering import segment
from envs.rigid_core import GymnasiumMujocoDynamics, RigidEnv, RigidVectorEnv

CTRL_COST_WEIGHT = 0.1
FORWARD_REWARD_WEIGHT = 1.0


class HalfCheetahDynamics(GymnasiumMujocoDynamics):
    model_name = "half_cheetah"
    frame_skip = 5
    integrator = "rk4"
    substeps = 2
    reset_noise_default = 0.1
    velocity_noise = "normal"

    def __init__(self, device="cpu", reset_noise_scale: float | None = None, **overrides):
        super().__init__(device=device, reset_noise_scale=reset_noise_scale, **overrides)
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(self.nq + self.nv - 1,), dtype=np.float32)
        self.dt = self.template.timestep * self.frame_skip

    def observe(self, state):
        return state[:, 1:self.nq + self.nv]

    def reward(self, state, action, next_state):
        x_velocity = (next_state[:, 0] - state[:, 0]) / self.dt
        return FORWARD_REWARD_WEIGHT * x_velocity - CTRL_COST_WEIGHT * (action ** 2).sum(-1)

    def render_frame(self, state):
        size = 128
        img = np.full((size, size, 3), 255, dtype=np.uint8)
        x, z, angle = (float(v) for v in state[:3])
        px, pz = int(size / 2 + 20 * x) % size, int(size - 10 - 40 * (z + 0.7))
        dx, dz = 12 * np.cos(angle), 12 * np.sin(angle)  # the torso, 1 m long
        segment(img, (px - dx, pz + dz), (px + dx, pz - dz), (0, 0, 0))
        img[size - 10:size - 9] = (120, 120, 120)
        return img


class HalfCheetahEnv(RigidEnv):
    def __init__(self, render_mode=None, **params):
        super().__init__(HalfCheetahDynamics(**params), render_mode)


class HalfCheetahVectorEnv(RigidVectorEnv):
    def __init__(self, num_envs=1, max_episode_steps=1000, device="cpu", render_mode=None, **params):
        super().__init__(HalfCheetahDynamics(device=device, **params), num_envs, max_episode_steps, render_mode)
