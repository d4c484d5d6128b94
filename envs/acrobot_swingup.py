"""``diffsim/AcrobotSwingUp-v0``: Gymnasium's Acrobot with a continuous elbow torque, swung up and held.

## Dynamics
Those of ``diffsim/Acrobot-v0`` (Gymnasium's ``Acrobot-v1``, :mod:`envs.acrobot`): two 1 kg,
1 m links hanging from a fixed pivot, the torque acting at the elbow, one RK4 step of
``dt`` = 0.2 s of the "book" equations, angles wrapped into [-pi, pi], rates clipped to
``[-4 pi, 4 pi]`` and ``[-9 pi, 9 pi]``. State ``[theta1, theta2, dtheta1, dtheta2]``
(rad, rad/s; 0 = hanging down).

## Observation, action, reward
Observation ``[cos th1, sin th1, cos th2, sin th2, dth1, dth2]`` (float32, as Acrobot-v1);
action ``Box(-1, 1, (1,))``: the elbow torque ``u = clip(a, -max_torque, max_torque)`` (N m;
Acrobot-v1's discrete torques are its end points and zero); reward per step
``h / 2 - 0.01 u^2``, with ``h = -cos th1 - cos(th1 + th2)`` the tip's height above the pivot
in link lengths *after* the step (1 when both links point up, -1 hanging down). Never terminates;
truncated after 200 steps (40 s). Acrobot-v1's goal line (``h > 1``) is a reward of 0.5 per step.

## Starting state
Acrobot-v1's: each component ~ U(-0.1, 0.1), rounded to float32.

## Differentiable step
``AcrobotSwingUpDynamics.step(state, action)``: gradients w.r.t. state, action and the
parameters (``m1, m2, l1, lc1, lc2, I1, I2, g, dt, max_vel1, max_vel2, max_torque``).
"""
from __future__ import annotations

import math

import numpy as np
import warp as wp
from gymnasium import spaces

from envs.acrobot import AcrobotDynamics, Vec1d, acrobot_observe, acrobot_rk4
from envs.core import ClassicEnv, box_action
from envs.rendering import two_link_frame
from envs.warp_dynamics import WarpDynamics, WarpVectorEnv, build_kernels

ACTION_COST = 0.01


@wp.func
def swingup_dynamics(y: wp.vec4d, act: Vec1d, params: wp.array(dtype=wp.float64)):
    u = wp.clamp(act[0], -params[11], params[11])
    s = acrobot_rk4(y, u, params)
    height = -wp.cos(s[0]) - wp.cos(s[0] + s[1])
    return s, wp.float64(0.5) * height - wp.float64(ACTION_COST) * u * u


@wp.func
def swingup_terminated(s: wp.vec4d):
    return False


SWINGUP_KERNELS = build_kernels(swingup_dynamics, acrobot_observe, swingup_terminated, 4, 1, 6,
                                start_in_float32=True)


class AcrobotSwingUpDynamics(WarpDynamics):
    state_dim, action_dim, obs_dim = 4, 1, 6
    kernels = SWINGUP_KERNELS
    param_names = AcrobotDynamics.param_names + ("max_torque",)
    initial_bounds = AcrobotDynamics.initial_bounds
    angle_dims = AcrobotDynamics.angle_dims

    def __init__(self, m1=1.0, m2=1.0, l1=1.0, lc1=0.5, lc2=0.5, I1=1.0, I2=1.0, g=9.8, dt=0.2,
                 max_vel1=4 * math.pi, max_vel2=9 * math.pi, max_torque=1.0, device="cpu"):
        params = dict(m1=m1, m2=m2, l1=l1, lc1=lc1, lc2=lc2, I1=I1, I2=I2, g=g, dt=dt, max_vel1=max_vel1,
                      max_vel2=max_vel2, max_torque=max_torque)
        for name in ("m1", "m2", "l1", "I1", "I2", "dt", "max_vel1", "max_vel2", "max_torque"):
            if not params[name] > 0:
                raise ValueError(f"{name} must be > 0, got {params[name]!r}")
        super().__init__(params, device)
        high = np.array([1.0, 1.0, 1.0, 1.0, max_vel1, max_vel2], dtype=np.float32)
        self.observation_space = spaces.Box(low=-high, high=high, dtype=np.float32)
        self.action_space = spaces.Box(-max_torque, max_torque, shape=(1,), dtype=np.float32)

    def env_action(self, action):
        return box_action(action, (1,), what=" (elbow torque N m)")

    def render_frame(self, state):
        return two_link_frame(state[0], state[1], color=(0, 204, 204))


class AcrobotSwingUpEnv(ClassicEnv):
    def __init__(self, render_mode=None, **params):
        super().__init__(AcrobotSwingUpDynamics(**params), render_mode)

    def step(self, action):
        reward = self._transition(action)
        return self._obs(), reward, False, False, {}


class AcrobotSwingUpVectorEnv(WarpVectorEnv):
    def __init__(self, num_envs=1, max_episode_steps=200, device="cpu", render_mode=None, **params):
        super().__init__(AcrobotSwingUpDynamics(device=device, **params), num_envs, max_episode_steps, render_mode)

    def _actions(self, actions):
        return box_action(actions, (self.num_envs, 1), "actions")

