"""``diffsim/InvertedPendulum-v0``: Gymnasium's ``InvertedPendulum-v5`` on diffsim's rigid-body engine.

## Dynamics
Gymnasium's own ``inverted_pendulum.xml`` (MuJoCo model): a cart on a slider (range ±1 m) carrying a
hinged pole (range ±90°), a motor on the slider (gear 100, control in [-3, 3]), joint damping 1, MuJoCo's
RK4 at 20 ms; ``frame_skip`` = 2 (an env step is 40 ms). The model has no contacts, so diffsim's
trajectory is MuJoCo's to about 1e-9 over an episode. State ``[cart x (m), pole angle (rad), cart
velocity (m/s), pole angular velocity (rad/s)]``.

## Observation, action, reward (Gymnasium v5)
Observation ``[qpos, qvel]`` (4); action ``Box(-3, 3, (1,))``, the motor control; reward 1 for every step
that does not terminate, 0 for the one that does. Terminates when ``|pole angle| > 0.2`` rad or the state is
not finite; truncated after 1 000 steps (``reward_threshold`` 950).

## Starting state
``qpos0 + U(-0.01, 0.01)`` for both positions and velocities (``reset_noise_scale`` 0.01), drawn as
Gymnasium draws them: the same seed gives the same start.
"""
from __future__ import annotations

import numpy as np
import torch
from gymnasium import spaces

from envs.rigid_core import GymnasiumMujocoDynamics, RigidEnv, RigidVectorEnv


class InvertedPendulumDynamics(GymnasiumMujocoDynamics):
    model_name = "inverted_pendulum"
    frame_skip = 2
    reset_noise_default = 0.01

    def __init__(self, device="cpu", reset_noise_scale: float | None = None, **overrides):
        super().__init__(device=device, reset_noise_scale=reset_noise_scale, **overrides)
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(4,), dtype=np.float32)

    def observe(self, state):
        return state[:, :4]

    def reward(self, state, action, next_state):
        return (~self.terminated(next_state)).to(next_state.dtype)

    def terminated(self, state):
        return ~torch.isfinite(state).all(dim=1) | (state[:, 1].abs() > 0.2)

    def render_frame(self, state):
        size = 128
        img = np.full((size, size, 3), 255, dtype=np.uint8)
        x, theta = float(state[0]), float(state[1])
        cx, cy = int(size / 2 + 40 * x), size // 2
        img[cy - 3:cy + 4, max(0, cx - 8):cx + 9] = (0, 0, 0)
        for r in np.linspace(0, 40, 40):
            px, py = int(cx + r * np.sin(theta)), int(cy - r * np.cos(theta))
            if 0 <= px < size and 0 <= py < size:
                img[py, px] = (200, 0, 0)
        return img


class InvertedPendulumEnv(RigidEnv):
    def __init__(self, render_mode=None, **params):
        super().__init__(InvertedPendulumDynamics(**params), render_mode)


class InvertedPendulumVectorEnv(RigidVectorEnv):
    def __init__(self, num_envs=1, max_episode_steps=1000, device="cpu", render_mode=None, **params):
        super().__init__(InvertedPendulumDynamics(device=device, **params), num_envs, max_episode_steps, render_mode)
