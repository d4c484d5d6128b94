"""``diffsim/Reacher-v0``: Gymnasium's ``Reacher-v5`` on diffsim's rigid-body engine.

## Dynamics
Gymnasium's own ``reacher.xml`` (MuJoCo model): a two-link planar arm (0.1 m capsules, hinges with damping 1 and
armature 1, the elbow limited to ±3 rad) driven by two motors (gear 200, control in [-1, 1]), and a target on two
undriven slides; MuJoCo's RK4 at 10 ms, ``frame_skip`` = 2 (an env step is 20 ms). No contacts: diffsim's
trajectory is MuJoCo's to about 1e-9 per episode step while the elbow stays off its limit. State
``[qpos (4), qvel (4)]``: the two joint angles (rad), the target's x and y (m), then their rates (the target's
stay zero).

## Observation, action, reward (Gymnasium v5)
Observation ``[cos(angles), sin(angles), target xy, joint rates, (fingertip - target) xy]`` (10); action
``Box(-1, 1, (2,))``; reward ``-|fingertip - target| - |a|^2`` after the step, with the body positions taken
at the state (Gymnasium reads MuJoCo's ``xpos``, computed inside the last RK4 step, which lags the state by up to
one step). Never terminates; truncated after 50 steps (``reward_threshold`` -3.75).

## Starting state
As Gymnasium draws it: ``qpos0 + U(-0.1, 0.1)`` for every position, then a goal ``U(-0.2, 0.2)^2`` redrawn until
inside the 0.2 m disc replaces the target's two, then ``U(-0.005, 0.005)`` for every velocity with the target's
set to zero (the vector env runs the same rejection loop on the device, from each world's PCG64 stream).
"""
from __future__ import annotations

import math

import numpy as np
import torch
import warp as wp
from gymnasium import spaces

from diffsim.rigid.kinematics import body_kinematics
from diffsim.rigid.state import default_state
from envs import pcg64
from envs.rendering import segment
from envs.rigid_core import GymnasiumMujocoDynamics, RigidEnv, RigidVectorEnv

CTRL_COST_WEIGHT = 1.0
GOAL_RADIUS = 0.2
VELOCITY_NOISE = 0.005


@wp.kernel(enable_backward=False)
def _draw_reacher(rng: wp.array2d(dtype=wp.uint64), qpos0: wp.array(dtype=wp.float64), noise: wp.float64,
                  mask: wp.array(dtype=wp.bool), out: wp.array2d(dtype=wp.float64)):
    """Row ``i`` of ``out`` <- Reacher-v5's ``reset_model`` draws from stream ``i`` where ``mask[i]``."""
    i = wp.tid()
    if mask[i]:
        nq = qpos0.shape[0]
        for j in range(nq):
            out[i, j] = qpos0[j] + (-noise + wp.float64(2.0) * noise * pcg64.next_double(rng, i))
        radius = wp.float64(GOAL_RADIUS)
        inside = int(0)
        while inside == 0:
            gx = -radius + wp.float64(2.0) * radius * pcg64.next_double(rng, i)
            gy = -radius + wp.float64(2.0) * radius * pcg64.next_double(rng, i)
            if wp.sqrt(gx * gx + gy * gy) < radius:
                out[i, nq - 2] = gx
                out[i, nq - 1] = gy
                inside = 1
        v = wp.float64(VELOCITY_NOISE)
        for j in range(nq):
            out[i, nq + j] = -v + wp.float64(2.0) * v * pcg64.next_double(rng, i)
        out[i, 2 * nq - 2] = wp.float64(0.0)
        out[i, 2 * nq - 1] = wp.float64(0.0)


class ReacherDynamics(GymnasiumMujocoDynamics):
    model_name = "reacher"
    frame_skip = 2
    reset_noise_default = 0.1

    def __init__(self, device="cpu", reset_noise_scale: float | None = None, **overrides):
        super().__init__(device=device, reset_noise_scale=reset_noise_scale, **overrides)
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(10,), dtype=np.float32)
        names = list(self.template.body_names)
        self._fingertip, self._target = names.index("fingertip"), names.index("target")
        self._qpos0 = default_state(self.template).qpos[0].cpu().numpy()

    def sample_initial(self, rng: np.random.Generator, options=None, size=None) -> np.ndarray:
        rows = []
        for _ in range(1 if size is None else size):
            qpos = rng.uniform(-self.reset_noise_scale, self.reset_noise_scale, self.nq) + self._qpos0
            while True:
                goal = rng.uniform(-GOAL_RADIUS, GOAL_RADIUS, 2)
                if math.sqrt(goal[0] * goal[0] + goal[1] * goal[1]) < GOAL_RADIUS:
                    break
            qpos[-2:] = goal
            qvel = rng.uniform(-VELOCITY_NOISE, VELOCITY_NOISE, self.nv)
            qvel[-2:] = 0.0
            rows.append(np.concatenate([qpos, qvel]))
        return rows[0] if size is None else np.stack(rows)

    def reset(self, batch: int, generator: torch.Generator) -> torch.Tensor:
        def uniform(n, width):
            return width * (2 * torch.rand(batch, n, generator=generator, dtype=torch.float64) - 1)

        qpos = torch.as_tensor(self._qpos0) + uniform(self.nq, self.reset_noise_scale)
        angle = 2 * math.pi * torch.rand(batch, generator=generator, dtype=torch.float64)
        radius = GOAL_RADIUS * torch.sqrt(torch.rand(batch, generator=generator, dtype=torch.float64))
        qpos[:, -2:] = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1)
        qvel = uniform(self.nv, VELOCITY_NOISE)
        qvel[:, -2:] = 0.0
        return torch.cat([qpos, qvel], dim=1).to(self.device)

    def device_sampler(self, device):
        return _draw_reacher, [wp.array(self._qpos0, dtype=wp.float64, device=device),
                               wp.float64(self.reset_noise_scale)]

    def fingertip_to_target(self, state: torch.Tensor) -> torch.Tensor:
        """World vector ``(B, 3)`` (m) from the target to the fingertip (their body origins)."""
        q, v, _ = self.split(state)
        kin = body_kinematics(self.model_at(state), q, v)
        return kin.xpos[:, self._fingertip] - kin.xpos[:, self._target]

    def observe(self, state):
        q, v, _ = self.split(state)
        return torch.cat([torch.cos(q[:, :2]), torch.sin(q[:, :2]), q[:, 2:], v[:, :2],
                          self.fingertip_to_target(state)[:, :2]], dim=1)

    def reward(self, state, action, next_state):
        distance = torch.linalg.vector_norm(self.fingertip_to_target(next_state), dim=1)
        return -distance - CTRL_COST_WEIGHT * (action ** 2).sum(-1)

    def render_frame(self, state):
        size = 128
        img = np.full((size, size, 3), 255, dtype=np.uint8)
        scale, c = 200, size // 2
        a1, a2, tx, ty = (float(s) for s in state[:4])
        elbow = (0.1 * math.cos(a1), 0.1 * math.sin(a1))
        tip = (elbow[0] + 0.11 * math.cos(a1 + a2), elbow[1] + 0.11 * math.sin(a1 + a2))
        for a, b in (((0.0, 0.0), elbow), (elbow, tip)):
            segment(img, (c + scale * a[0], c - scale * a[1]), (c + scale * b[0], c - scale * b[1]), (0, 0, 0))
        px, py = int(c + scale * tx), int(c - scale * ty)
        img[max(0, py - 2):py + 3, max(0, px - 2):px + 3] = (200, 0, 0)
        return img


class ReacherEnv(RigidEnv):
    def __init__(self, render_mode=None, **params):
        super().__init__(ReacherDynamics(**params), render_mode)


class ReacherVectorEnv(RigidVectorEnv):
    def __init__(self, num_envs=1, max_episode_steps=50, device="cpu", render_mode=None, **params):
        super().__init__(ReacherDynamics(device=device, **params), num_envs, max_episode_steps, render_mode)
