"""``diffsim/Walker2d-v0``: Gymnasium's ``Walker2d-v5`` on diffsim's rigid-body engine.

## Dynamics
Gymnasium's own ``walker2d_v5.xml`` (MuJoCo model): a planar biped (torso; two legs of thigh, leg and foot
capsules; root slides x, z and hinge y, six limited hinges), six motors (gear 100, control in [-1, 1]), floor
contacts (MuJoCo's solref/solimp mapped to diffsim's penalty contacts, see ``diffsim.rigid``; in the v5 file the
right foot's friction is 1.9); RK4 at 2 ms, ``frame_skip`` = 4 (an env step is 8 ms). Contacts make diffsim's
trajectory differ from MuJoCo's from the first touchdown on. State ``[qpos (9), qvel (9)]``: x, z (m; qpos0
z 1.25), the torso angle and six joint angles (rad), then their rates.

## Observation, action, reward, termination (Gymnasium v5 defaults)
Observation ``[qpos[1:], clip(qvel, -10, 10)]`` (17); action ``Box(-1, 1, (6,))``; reward
``dx/dt + healthy - 1e-3 |a|^2`` (healthy = 1 while healthy); terminates when unhealthy: healthy means
``0.8 < z < 2`` and ``|torso angle| < 1``. Truncated after 1 000 steps.

## Starting state
``qpos0 + U(-0.005, 0.005)`` for every position and velocity, drawn as Gymnasium draws them.
"""
from __future__ import annotations

from envs.rigid_core import PlanarLocomotionDynamics, RigidEnv, RigidVectorEnv

HEALTHY_Z, HEALTHY_ANGLE = (0.8, 2.0), 1.0


class Walker2dDynamics(PlanarLocomotionDynamics):
    model_name = "walker2d_v5"
    frame_skip = 4
    reset_noise_default = 5e-3

    def healthy(self, state):
        z, angle = state[:, 1], state[:, 2]
        return (z > HEALTHY_Z[0]) & (z < HEALTHY_Z[1]) & (angle.abs() < HEALTHY_ANGLE)


class Walker2dEnv(RigidEnv):
    def __init__(self, render_mode=None, **params):
        super().__init__(Walker2dDynamics(**params), render_mode)


class Walker2dVectorEnv(RigidVectorEnv):
    def __init__(self, num_envs=1, max_episode_steps=1000, device="cpu", render_mode=None, **params):
        super().__init__(Walker2dDynamics(device=device, **params), num_envs, max_episode_steps, render_mode)
