"""``diffsim/InvertedDoublePendulum-v0``: Gymnasium's ``InvertedDoublePendulum-v5`` on diffsim's rigid-body engine.

## Dynamics
Gymnasium's own ``inverted_double_pendulum.xml`` (MuJoCo model): a cart on a slider limited to ±1 m (minus a
0.01 m margin) carrying two 0.6 m capsule poles on hinges, joint damping 0.05, one motor on the cart (gear 500,
control in [-1, 1]); MuJoCo's RK4 at 10 ms, ``frame_skip`` = 5 (an env step is 50 ms). No contacts: diffsim's
trajectory is MuJoCo's to about 1e-9 per episode step while the cart stays off its slider limit (MuJoCo's limit
is a soft constraint solved implicitly, diffsim's a penalty that rests at the same depth). State
``[qpos (3), qvel (3)]``: cart position (m), the two hinge angles (rad, 0 upright), then their rates.

## Observation, action, reward, termination (Gymnasium v5)
Observation ``[x, sin(angles), cos(angles), clip(qvel, -10, 10), clip(slider limit force, -10, 10)]`` (9; the
limit force is MuJoCo's ``qfrc_constraint[0]``, here the penalty's, see ``diffsim.rigid.kinematics``); action
``Box(-1, 1, (1,))``; with ``(x_tip, y_tip)`` the pole tip's world position (site ``tip``), reward
``10 (while not terminated) - 0.01 x_tip^2 - (y_tip - 2)^2 - 1e-3 qvel[1]^2 - 5e-3 qvel[2]^2``; terminates when
``y_tip <= 1``. The tip is taken at the state (Gymnasium reads MuJoCo's ``site_xpos``, computed inside the
last RK4 step, which lags the state by up to one step). Truncated after 1 000 steps (``reward_threshold``
9 100).

## Starting state
``qpos0 + U(-0.1, 0.1)`` for every position and ``0.1 N(0, 1)`` for every velocity, drawn as Gymnasium draws
them (see :mod:`envs.pcg64`).
"""
from __future__ import annotations

import numpy as np
import torch
from gymnasium import spaces

from diffsim.rigid.kinematics import body_kinematics, site_xpos
from envs.rendering import segment
from envs.rigid_core import GymnasiumMujocoDynamics, RigidEnv, RigidVectorEnv

HEALTHY_REWARD = 10.0
TIP_MIN_HEIGHT = 1.0


class InvertedDoublePendulumDynamics(GymnasiumMujocoDynamics):
    model_name = "inverted_double_pendulum"
    frame_skip = 5
    reset_noise_default = 0.1
    velocity_noise = "normal"

    def __init__(self, device="cpu", reset_noise_scale: float | None = None, **overrides):
        super().__init__(device=device, reset_noise_scale=reset_noise_scale, **overrides)
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(9,), dtype=np.float32)

    def _kinematics(self, state):
        q, v, _ = self.split(state)
        model = self.model_at(state)
        return model, body_kinematics(model, q, v)

    def tip(self, state: torch.Tensor) -> torch.Tensor:
        """The pole tip's world position ``(B, 3)`` (m)."""
        model, kin = self._kinematics(state)
        return site_xpos(model, kin, "tip")

    def observe(self, state):
        q, v, _ = self.split(state)
        _, kin = self._kinematics(state)
        return torch.cat([q[:, :1], torch.sin(q[:, 1:]), torch.cos(q[:, 1:]), v.clamp(-10.0, 10.0),
                          kin.limit_force[:, :1].clamp(-10.0, 10.0)], dim=1)

    def terminated(self, state):
        return self.tip(state)[:, 2] <= TIP_MIN_HEIGHT

    def reward(self, state, action, next_state):
        tip = self.tip(next_state)
        x, y = tip[:, 0], tip[:, 2]
        v = next_state[:, self.nq:self.nq + self.nv]
        alive = (y > TIP_MIN_HEIGHT).to(state.dtype) * HEALTHY_REWARD
        return alive - 0.01 * x ** 2 - (y - 2.0) ** 2 - 1e-3 * v[:, 1] ** 2 - 5e-3 * v[:, 2] ** 2

    def render_frame(self, state):
        size = 128
        img = np.full((size, size, 3), 255, dtype=np.uint8)
        x, a1, a2 = (float(s) for s in state[:3])
        cx, cy = int(size / 2 + 40 * x), size - 30
        img[cy - 3:cy + 4, max(0, cx - 8):cx + 9] = (0, 0, 0)
        elbow = (cx + 24 * np.sin(a1), cy - 24 * np.cos(a1))  # two 0.6 m poles at 40 px/m
        segment(img, (cx, cy), elbow, (200, 0, 0))
        segment(img, elbow, (elbow[0] + 24 * np.sin(a1 + a2), elbow[1] - 24 * np.cos(a1 + a2)), (200, 0, 0))
        return img


class InvertedDoublePendulumEnv(RigidEnv):
    def __init__(self, render_mode=None, **params):
        super().__init__(InvertedDoublePendulumDynamics(**params), render_mode)


class InvertedDoublePendulumVectorEnv(RigidVectorEnv):
    def __init__(self, num_envs=1, max_episode_steps=1000, device="cpu", render_mode=None, **params):
        super().__init__(InvertedDoublePendulumDynamics(device=device, **params), num_envs, max_episode_steps,
                         render_mode)
