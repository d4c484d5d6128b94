"""``diffsim/Ant-v0``: Gymnasium's ``Ant-v5`` on diffsim's rigid-body engine.

## Dynamics
Gymnasium's own ``ant.xml`` (MuJoCo model): a 0.91 kg quadruped (a spherical torso on a free joint, four legs
of two capsules each; hips within ±30°, ankles within [30°, 70°] or [-70°, -30°]), eight motors (gear 150,
control in [-1, 1]), floor contacts (MuJoCo's solref/solimp mapped to diffsim's penalty contacts, see
``diffsim.rigid``). MuJoCo steps it with RK4 at 10 ms; diffsim's explicit penalty contacts need a shorter step,
so diffsim runs RK4 at 0.625 ms (16 steps per MuJoCo step; ``frame_skip`` = 5, an env step is 50 ms either
way): at 10 ms bang-bang controls make most ants blow up; at 2.5 ms they stay finite, but the light feet's
smooth friction (an explicit damper below 1 cm/s of slip) chatters at mm/s to cm/s instead of resting and a
step's gradient disagrees with central differences (some entries by 2-3x or in sign); at 0.625 ms the ant
rests and gradients pass gradcheck. Contacts make diffsim's trajectory differ from MuJoCo's from the first touchdown on.
State ``[qpos (15), qvel (14)]``: torso position (m; qpos0 height 0.75) and quaternion (w, x, y, z), eight joint
angles (rad), then the torso's linear (world) and angular (local) velocity and the joint rates.

## Observation, action, reward, termination (Gymnasium v5 defaults)
Observation ``[qpos[2:] (13), qvel (14), clip(cfrc_ext[1:], -1, 1) (13 x 6)]`` (105), ``cfrc_ext`` being each
body's contact torque and force in MuJoCo's com-based layout (:func:`diffsim.rigid.kinematics.contact_wrench`)
from diffsim's contact model at the observed state (MuJoCo's are its constraint solver's, from the last RK4
stage). Action ``Box(-1, 1, (8,))``; reward ``dx/dt + healthy - 0.5 |a|^2 - 5e-4 |clip(cfrc_ext, -1, 1)|^2``
(``dx`` the torso's x displacement over the env step between the two states; Gymnasium reads it from the
body positions MuJoCo last computed, inside the RK4 step, which lag the state by up to one step; healthy = 1
while healthy); terminates when unhealthy:
healthy means a finite state with the torso height in [0.2, 1]. Truncated after 1 000 steps (``reward_threshold``
6 000).

## Starting state
``qpos0 + U(-0.1, 0.1)`` for every position (the quaternion's components too, as Gymnasium) and ``0.1 N(0, 1)``
for every velocity, drawn as Gymnasium draws them (see :mod:`envs.pcg64`).
"""
from __future__ import annotations

import numpy as np
import torch
from gymnasium import spaces

from diffsim.rigid.kinematics import body_kinematics, contact_wrench
from envs.rigid_core import GymnasiumMujocoDynamics, RigidEnv, RigidVectorEnv, soft_wall

CTRL_COST_WEIGHT = 0.5
CONTACT_COST_WEIGHT = 5e-4
CONTACT_FORCE_RANGE = (-1.0, 1.0)
HEALTHY_Z = (0.2, 1.0)
SOFT_Z = (0.3, 0.85)  # training-only soft walls start here (see ``shaping``)


class AntDynamics(GymnasiumMujocoDynamics):
    model_name = "ant"
    frame_skip = 5
    integrator = "rk4"
    substeps = 16
    reset_noise_default = 0.1
    velocity_noise = "normal"

    def __init__(self, device="cpu", reset_noise_scale: float | None = None, **overrides):
        super().__init__(device=device, reset_noise_scale=reset_noise_scale, **overrides)
        size = self.nq - 2 + self.nv + 6 * self.template.nbody
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(size,), dtype=np.float32)
        self.dt = self.template.timestep * self.frame_skip

    def contact_forces(self, state: torch.Tensor) -> torch.Tensor:
        """``clip(cfrc_ext, -1, 1)`` of every body ``(B, nbody, 6)`` at ``state`` (differentiable)."""
        q, v, _ = self.split(state)
        model = self.model_at(state)
        return contact_wrench(model, body_kinematics(model, q, v, contacts=True)).clamp(*CONTACT_FORCE_RANGE)

    def observe(self, state):
        q, v, _ = self.split(state)
        return torch.cat([q[:, 2:], v, self.contact_forces(state).flatten(1)], dim=1)

    def healthy(self, state):
        z = state[:, 2]
        return torch.isfinite(state).all(dim=1) & (z >= HEALTHY_Z[0]) & (z <= HEALTHY_Z[1])

    def shaping(self, state, action, next_state):
        """Soft walls inside the healthy range, ``(B,)``: 0 while the torso's height is within [0.3, 0.85] m, falling
        quadratically to -1 at each termination edge (0.2 m, 1 m), so that the gradient sees a termination coming
        (a policy trained without them bounced its torso past 1 m in MuJoCo)."""
        z = next_state[:, 2]
        return -soft_wall(z, SOFT_Z[0], HEALTHY_Z[0]) - soft_wall(z, SOFT_Z[1], HEALTHY_Z[1])

    def contact_cost(self, state):
        return CONTACT_COST_WEIGHT * (self.contact_forces(state) ** 2).sum(dim=(1, 2))

    def reward(self, state, action, next_state):
        x_velocity = (next_state[:, 0] - state[:, 0]) / self.dt
        return (x_velocity + self.healthy(next_state).to(state.dtype) - CTRL_COST_WEIGHT * (action ** 2).sum(-1)
                - self.contact_cost(next_state))

    def terminated(self, state):
        return ~self.healthy(state)

    def render_frame(self, state):
        size = 128
        img = np.full((size, size, 3), 255, dtype=np.uint8)
        x, y = float(state[0]), float(state[1])
        px, py = int(size / 2 + 20 * x) % size, int(size / 2 - 20 * y) % size
        img[max(0, py - 3):py + 4, max(0, px - 3):px + 4] = (0, 0, 0)
        return img


class AntEnv(RigidEnv):
    def __init__(self, render_mode=None, **params):
        super().__init__(AntDynamics(**params), render_mode)


class AntVectorEnv(RigidVectorEnv):
    def __init__(self, num_envs=1, max_episode_steps=1000, device="cpu", render_mode=None, **params):
        super().__init__(AntDynamics(device=device, **params), num_envs, max_episode_steps, render_mode)
