"""``diffsim/Humanoid-v0``: Gymnasium's ``Humanoid-v5`` on diffsim's rigid-body engine.

## Dynamics
Gymnasium's own ``humanoid.xml`` (MuJoCo model): a 40 kg biped of capsules (torso on a free joint, abdomen,
pelvis, legs with three-axis hips, knees and feet, arms with two-axis shoulders and elbows; 23 dofs, soft joint
limits), 17 motors (gear 25-300, control in [-0.4, 0.4]), floor contacts and the 109 body-body capsule pairs
MuJoCo's contype/conaffinity let collide (MuJoCo's solref/solimp mapped to diffsim's penalty contacts, see
``diffsim.rigid``). MuJoCo steps it with RK4 at 3 ms; diffsim's explicit penalty contacts need a shorter step, so
diffsim runs RK4 at 0.375 ms (8 steps per MuJoCo step; at 0.75-1.5 ms most humanoids under bang-bang controls blow
up within 2 s, at 0.375 ms none of 8 did); ``frame_skip`` = 5, an env step is 15 ms either way. The model is
large, so it runs as loops (``Model.structure``, :mod:`diffsim.rigid.loops`: nothing model-specific to
compile). Contacts make diffsim's trajectory differ from MuJoCo's from the first touchdown on.
State ``[qpos (24), qvel (23), qfrc_actuator[6:] (17)]``: torso position (m; qpos0 height 1.4) and quaternion
(w, x, y, z), 17 joint angles (rad), the torso's linear (world) and angular (local) velocity and the joint rates,
then the motors' joint torques of the last step (``gear * clip(action)``, N m; zero at reset), which the
observation reports.

## Observation, action, reward, termination (Gymnasium v5 defaults)
Observation ``[qpos[2:] (22), qvel (23), cinert[1:] (130), cvel[1:] (78), qfrc_actuator[6:] (17),
cfrc_ext[1:] (78)]`` (348), per MuJoCo body after the world: its inertia about the humanoid's centre of mass
(:func:`diffsim.rigid.kinematics.com_inertia`), its velocity there (:func:`~diffsim.rigid.kinematics.com_velocity`)
and its contact wrench (:func:`~diffsim.rigid.kinematics.contact_wrench`, from diffsim's contact model at the
observed state). Action ``Box(-0.4, 0.4, (17,))``; reward ``1.25 dx/dt + 5 healthy - 0.1 |a|^2 - min(5e-7
|cfrc_ext|^2, 10)`` (``dx`` the displacement of the centre of mass over the env step, between the two states;
Gymnasium reads it from body positions MuJoCo last computed inside the RK4 step); terminates when unhealthy:
healthy means the torso height strictly inside (1, 2) m. Truncated after 1 000 steps.

## Starting state
``qpos0 + U(-0.01, 0.01)`` for every position (the quaternion's components too, as Gymnasium) and velocity, drawn
as Gymnasium draws them (see :mod:`envs.pcg64`).
"""
from __future__ import annotations

import numpy as np
import torch
from gymnasium import spaces

from diffsim.rigid.kinematics import body_kinematics, com_inertia, com_velocity, contact_wrench
from envs.rendering import side_view
from envs.rigid_core import GymnasiumMujocoDynamics, RigidEnv, RigidVectorEnv

FORWARD_REWARD_WEIGHT = 1.25
HEALTHY_REWARD = 5.0
CTRL_COST_WEIGHT = 0.1
CONTACT_COST_WEIGHT = 5e-7
CONTACT_COST_MAX = 10.0
HEALTHY_Z = (1.0, 2.0)


class HumanoidDynamics(GymnasiumMujocoDynamics):
    model_name = "humanoid"
    frame_skip = 5
    integrator = "rk4"
    substeps = 8
    reset_noise_default = 1e-2
    context_dim = 17  # qfrc_actuator[6:]: the motors' joint torques of the last step

    def __init__(self, device="cpu", reset_noise_scale: float | None = None, **overrides):
        super().__init__(device=device, reset_noise_scale=reset_noise_scale, **overrides)
        m = self.template
        if self.nv - 6 != self.context_dim:
            raise ValueError(f"the humanoid model must have nv = {self.context_dim + 6}, got {self.nv}")
        self.bodies = [b for b in range(m.nbody) if not (m.body_frame and m.body_frame[b])]  # MuJoCo's, in order
        size = self.nq - 2 + self.nv + 22 * len(self.bodies) + self.context_dim
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(size,), dtype=np.float32)
        self.dt = m.timestep * self.frame_skip
        mask = torch.zeros(self.nu, self.nv - 6, dtype=torch.float64, device=device)  # actuator -> joint dof
        for a, dof in enumerate(m.actuator_dof):
            mask[a, dof - 6] = 1.0
        self._actuator_dofs = mask

    def actuator_force(self, action: torch.Tensor) -> torch.Tensor:
        """MuJoCo's ``qfrc_actuator[6:]`` ``(B, 17)`` for ``action`` (clipped to the control range; N m)."""
        lo, hi = (torch.as_tensor(b, dtype=action.dtype, device=action.device) for b in (self.ctrl_low, self.ctrl_high))
        gear = self.template.actuator_gear[0, :, 0].to(action.dtype)
        return (torch.minimum(torch.maximum(action, lo), hi) * gear) @ self._actuator_dofs.to(action.dtype)

    def transition(self, state, action, params=None, recompute: bool = False):
        next_state, reward = super().transition(state, action, params, recompute)
        force = self.actuator_force(action.to(torch.float64))
        c = self.nq + self.nv
        return torch.cat([next_state[:, :c], force, next_state[:, c + self.context_dim:]], dim=1), reward

    def _kinematics(self, state: torch.Tensor):
        q, v, _ = self.split(state)
        model = self.model_at(state)
        return model, body_kinematics(model, q, v, contacts=True)

    def contact_forces(self, state: torch.Tensor) -> torch.Tensor:
        """``cfrc_ext`` of every MuJoCo body after the world ``(B, 13, 6)`` at ``state`` (differentiable)."""
        model, kin = self._kinematics(state)
        return contact_wrench(model, kin)[:, self.bodies]

    def mass_center(self, state: torch.Tensor) -> torch.Tensor:
        """The centre of mass ``(B, 3)`` (m) at ``state``."""
        q, v, _ = self.split(state)
        model = self.model_at(state)
        kin = body_kinematics(model, q)
        mass = model.body_mass.to(state.dtype)
        return (mass.unsqueeze(-1) * kin.xipos).sum(1) / mass.sum(1, keepdim=True)

    def observe(self, state):
        q, v, force = self.split(state)
        model, kin = self._kinematics(state)
        rest = self.bodies  # MuJoCo's bodies after the world (diffsim's models have no world body)
        return torch.cat([q[:, 2:], v, com_inertia(model, kin)[:, rest].flatten(1),
                          com_velocity(model, kin)[:, rest].flatten(1), force,
                          contact_wrench(model, kin)[:, rest].flatten(1)], dim=1)

    def healthy(self, state):
        z = state[:, 2]
        return torch.isfinite(state).all(dim=1) & (z > HEALTHY_Z[0]) & (z < HEALTHY_Z[1])

    def contact_cost(self, state):
        return (CONTACT_COST_WEIGHT * (self.contact_forces(state) ** 2).sum(dim=(1, 2))).clamp(max=CONTACT_COST_MAX)

    def reward(self, state, action, next_state):
        x_velocity = (self.mass_center(next_state)[:, 0] - self.mass_center(state)[:, 0]) / self.dt
        return (FORWARD_REWARD_WEIGHT * x_velocity + HEALTHY_REWARD * self.healthy(next_state).to(state.dtype)
                - CTRL_COST_WEIGHT * (action ** 2).sum(-1) - self.contact_cost(next_state))

    def terminated(self, state):
        return ~self.healthy(state)

    def render_frame(self, state):
        return side_view(float(state[0]), float(state[2]), half_height=6)


class HumanoidEnv(RigidEnv):
    def __init__(self, render_mode=None, **params):
        super().__init__(HumanoidDynamics(**params), render_mode)


class HumanoidVectorEnv(RigidVectorEnv):
    def __init__(self, num_envs=1, max_episode_steps=1000, device="cpu", render_mode=None, **params):
        super().__init__(HumanoidDynamics(device=device, **params), num_envs, max_episode_steps, render_mode)
