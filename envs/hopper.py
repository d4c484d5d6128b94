"""``diffsim/Hopper-v0``: Gymnasium's ``Hopper-v5`` on diffsim's rigid-body engine.

## Dynamics
Gymnasium's own ``hopper.xml`` (MuJoCo model): a planar one-legged robot (torso, thigh, leg, foot capsules;
root slides x, z and hinge y, three hinges with limits), three motors (gear 200, control in [-1, 1]), contacts
with the floor and between its own capsules (MuJoCo's solref/solimp mapped to diffsim's penalty contacts,
see ``diffsim.rigid``); RK4 at 2 ms, ``frame_skip`` = 4 (an env step is 8 ms). Contacts make diffsim's trajectory
differ from MuJoCo's from the first touchdown on (lying at rest the two agree within 1.5 mm; see
BENCHMARKS.md). State ``[qpos (6), qvel (6)]``: x, z (m; z is the torso height, qpos0 1.25), the torso angle and
three joint angles (rad), then their rates.

## Observation, action, reward, termination (Gymnasium v5 defaults)
Observation ``[qpos[1:], clip(qvel, -10, 10)]`` (11); action ``Box(-1, 1, (3,))``; reward
``dx/dt + healthy - 1e-3 |a|^2`` (healthy = 1 while healthy); terminates when unhealthy: healthy means
``z > 0.7``, ``|torso angle| < 0.2`` and every entry of ``(qpos[2:], qvel)`` inside (-100, 100). Truncated after
1 000 steps (``reward_threshold`` 3 800).

## Training-only shaping
Trainers that go through the simulator add :meth:`HopperDynamics.shaping` to the reward (never part of the env's
reward): soft walls ``-((|angle| - 0.1) / 0.1)^2`` past a torso angle of 0.1 rad and ``-((0.9 - z) / 0.2)^2`` below a
height of 0.9 m, each -1 where the episode would terminate, so that the gradient sees the termination coming (a
policy trained without them leans to the edge of the healthy range, where a small difference in the contacts ends
the episode).

## Starting state
``qpos0 + U(-0.005, 0.005)`` for every position and velocity, drawn as Gymnasium draws them.
"""
from __future__ import annotations

from envs.rigid_core import PlanarLocomotionDynamics, RigidEnv, RigidVectorEnv, soft_wall

HEALTHY_Z, HEALTHY_ANGLE, HEALTHY_STATE = 0.7, 0.2, 100.0
SOFT_ANGLE, SOFT_Z = 0.1, 0.9  # training-only soft walls start here (see ``shaping``)


class HopperDynamics(PlanarLocomotionDynamics):
    model_name = "hopper"
    frame_skip = 4
    reset_noise_default = 5e-3

    def healthy(self, state):
        z, angle, rest = state[:, 1], state[:, 2], state[:, 2:12]
        return (z > HEALTHY_Z) & (angle.abs() < HEALTHY_ANGLE) & (rest.abs() < HEALTHY_STATE).all(dim=1)

    def shaping(self, state, action, next_state):
        """Soft walls inside the healthy range, ``(B,)``: 0 while ``|angle| <= 0.1`` rad and ``z >= 0.9`` m, falling
        quadratically to -1 at each termination edge (0.2 rad, 0.7 m), so that the gradient sees a fall coming."""
        z, angle = next_state[:, 1], next_state[:, 2]
        return -soft_wall(angle.abs(), SOFT_ANGLE, HEALTHY_ANGLE) - soft_wall(z, SOFT_Z, HEALTHY_Z)


class HopperEnv(RigidEnv):
    def __init__(self, render_mode=None, **params):
        super().__init__(HopperDynamics(**params), render_mode)


class HopperVectorEnv(RigidVectorEnv):
    def __init__(self, num_envs=1, max_episode_steps=1000, device="cpu", render_mode=None, **params):
        super().__init__(HopperDynamics(device=device, **params), num_envs, max_episode_steps, render_mode)
