"""``diffsim/Swimmer-v0``: Gymnasium's ``Swimmer-v5`` on diffsim's rigid-body engine.

## Dynamics
Gymnasium's own ``swimmer.xml`` (MuJoCo model): three 35.6 kg capsule segments in a viscous fluid (MuJoCo's
inertia-box model, density 4 000 kg/m³, viscosity 0.1 Pa s), a planar root (slides x, y and a hinge) and two
hinges (±100°) driven by motors (gear 150, control in [-1, 1]); MuJoCo's RK4 at 10 ms, ``frame_skip`` = 4 (an
env step is 40 ms). No contacts: diffsim's trajectory is MuJoCo's to about 1e-9 per episode step.
State ``[qpos (5), qvel (5)]``: x, y (m), the root angle and two joint angles (rad), then their rates.

## Observation, action, reward (Gymnasium v5)
Observation ``[qpos[2:], qvel]`` (8; the x, y position left out); action ``Box(-1, 1, (2,))``; reward
``dx/dt - 1e-4 |a|^2`` with ``dx`` the root's x displacement over the env step. Never terminates; truncated
after 1 000 steps (``reward_threshold`` 360).

## Starting state
``qpos0 + U(-0.1, 0.1)`` for every position and velocity (``reset_noise_scale`` 0.1), drawn as Gymnasium
draws them.
"""
from __future__ import annotations

import numpy as np
from gymnasium import spaces

from envs.rendering import segment
from envs.rigid_core import GymnasiumMujocoDynamics, RigidEnv, RigidVectorEnv

CTRL_COST_WEIGHT = 1e-4
FORWARD_REWARD_WEIGHT = 1.0


class SwimmerDynamics(GymnasiumMujocoDynamics):
    model_name = "swimmer"
    frame_skip = 4
    reset_noise_default = 0.1

    def __init__(self, device="cpu", reset_noise_scale: float | None = None, **overrides):
        super().__init__(device=device, reset_noise_scale=reset_noise_scale, **overrides)
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(8,), dtype=np.float32)
        self.dt = self.template.timestep * self.frame_skip

    def observe(self, state):
        return state[:, 2:]

    def reward(self, state, action, next_state):
        x_velocity = (next_state[:, 0] - state[:, 0]) / self.dt
        return FORWARD_REWARD_WEIGHT * x_velocity - CTRL_COST_WEIGHT * (action ** 2).sum(-1)

    def render_frame(self, state):
        size = 128
        img = np.full((size, size, 3), 255, dtype=np.uint8)
        x, y, angle = (float(v) for v in state[:3])
        px, py = int(size / 2 + 20 * x), int(size / 2 - 20 * y)
        img[max(0, py - 2):py + 3, max(0, px - 2):px + 3] = (0, 0, 160)
        segment(img, (px, py), (px + 20 * np.cos(angle), py - 20 * np.sin(angle)), (0, 0, 0))
        return img


class SwimmerEnv(RigidEnv):
    def __init__(self, render_mode=None, **params):
        super().__init__(SwimmerDynamics(**params), render_mode)


class SwimmerVectorEnv(RigidVectorEnv):
    def __init__(self, num_envs=1, max_episode_steps=1000, device="cpu", render_mode=None, **params):
        super().__init__(SwimmerDynamics(device=device, **params), num_envs, max_episode_steps, render_mode)
