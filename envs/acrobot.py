"""``diffsim/Acrobot-v0``: Gymnasium's ``Acrobot-v1``, step for step, on Warp.

## Dynamics
Two links (masses ``m1``, ``m2`` kg, first link length ``l1`` m, COMs at ``lc1``,
``lc2`` m, inertias ``I1``, ``I2`` kg m^2) hang from a fixed pivot; the torque acts at
the elbow. State ``[theta1, theta2, dtheta1, dtheta2]`` (rad, rad/s; 0 = hanging
down). One classic RK4 step of ``dt`` = 0.2 s of Sutton & Barto's "book" equations
(Gymnasium's ``_dsdt``), then the angles are wrapped into [-pi, pi] and the rates
clipped to ``[-4 pi, 4 pi]`` and ``[-9 pi, 9 pi]``.

## Observation, action, reward
Observation ``[cos th1, sin th1, cos th2, sin th2, dth1, dth2]`` (float32); action
``Discrete(3)`` = torque -1, 0, +1 N m; reward -1 per step, 0 on the step that reaches
the goal: terminates when ``-cos th1 - cos(th1 + th2) > 1``; truncated after 500 steps.

## Starting state
Each component ~ U(-0.1, 0.1), rounded to float32 as Gymnasium does.

## Differentiable step
``AcrobotDynamics.step(state, action)`` takes the elbow torque (N m) as a continuous action.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import warp as wp
from gymnasium import spaces

from envs.core import ClassicEnv
from envs.rendering import two_link_frame
from envs.warp_dynamics import WarpDynamics, WarpVectorEnv, build_kernels

AVAIL_TORQUE = (-1.0, 0.0, 1.0)

# float64 constants made in Python: in a kernel, `wp.float64(2.0 * math.pi)` would multiply in float32 first
PI = wp.constant(wp.float64(math.pi))
HALF_PI = wp.constant(wp.float64(0.5 * math.pi))
TWO_PI = wp.constant(wp.float64(2.0 * math.pi))


@wp.func
def _dsdt(th1: wp.float64, th2: wp.float64, dth1: wp.float64, dth2: wp.float64, a: wp.float64,
          p: wp.array(dtype=wp.float64)):
    m1, m2, l1, lc1, lc2, I1, I2, g = p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]
    half_pi = HALF_PI
    d1 = m1 * lc1 * lc1 + m2 * (l1 * l1 + lc2 * lc2 + wp.float64(2.0) * l1 * lc2 * wp.cos(th2)) + I1 + I2
    d2 = m2 * (lc2 * lc2 + l1 * lc2 * wp.cos(th2)) + I2
    phi2 = m2 * lc2 * g * wp.cos(th1 + th2 - half_pi)
    phi1 = (-m2 * l1 * lc2 * dth2 * dth2 * wp.sin(th2) - wp.float64(2.0) * m2 * l1 * lc2 * dth2 * dth1 * wp.sin(th2)
            + (m1 * lc1 + m2 * l1) * g * wp.cos(th1 - half_pi) + phi2)
    ddth2 = ((a + d2 / d1 * phi1 - m2 * l1 * lc2 * dth1 * dth1 * wp.sin(th2) - phi2)
             / (m2 * lc2 * lc2 + I2 - d2 * d2 / d1))
    ddth1 = -(d2 * ddth2 + phi1) / d1
    return wp.vec4d(dth1, dth2, ddth1, ddth2)


@wp.func
def _wrap(x: wp.float64):
    for _ in range(3):  # Gymnasium's while-loops, unrolled (one wrap per step is the most that can happen)
        if x > PI:
            x = x - TWO_PI
    for _ in range(3):
        if x < -PI:
            x = x + TWO_PI
    return x


Vec1d = wp.types.vector(1, wp.float64)
Vec6d = wp.types.vector(6, wp.float64)


@wp.func
def acrobot_terminated(s: wp.vec4d):
    """The tip is above the pivot by more than one link length."""
    return -wp.cos(s[0]) - wp.cos(s[1] + s[0]) > wp.float64(1.0)


@wp.func
def acrobot_rk4(y: wp.vec4d, a: wp.float64, params: wp.array(dtype=wp.float64)):
    """One RK4 step of ``params[8]`` s under elbow torque ``a`` (N m), angles wrapped, rates clipped."""
    dt = params[8]
    h2 = dt / wp.float64(2.0)
    k1 = _dsdt(y[0], y[1], y[2], y[3], a, params)
    y2 = y + h2 * k1
    k2 = _dsdt(y2[0], y2[1], y2[2], y2[3], a, params)
    y3 = y + h2 * k2
    k3 = _dsdt(y3[0], y3[1], y3[2], y3[3], a, params)
    y4 = y + dt * k3
    k4 = _dsdt(y4[0], y4[1], y4[2], y4[3], a, params)
    yn = y + dt / wp.float64(6.0) * (k1 + wp.float64(2.0) * k2 + wp.float64(2.0) * k3 + k4)
    return wp.vec4d(_wrap(yn[0]), _wrap(yn[1]), wp.clamp(yn[2], -params[9], params[9]),
                    wp.clamp(yn[3], -params[10], params[10]))


@wp.func
def acrobot_dynamics(y: wp.vec4d, act: Vec1d, params: wp.array(dtype=wp.float64)):
    next_state = acrobot_rk4(y, act[0], params)
    reward = wp.where(acrobot_terminated(next_state), wp.float64(0.0), wp.float64(-1.0))
    return next_state, reward


@wp.func
def acrobot_observe(s: wp.vec4d):
    return Vec6d(wp.cos(s[0]), wp.sin(s[0]), wp.cos(s[1]), wp.sin(s[1]), s[2], s[3])


ACROBOT_KERNELS = build_kernels(acrobot_dynamics, acrobot_observe, acrobot_terminated, 4, 1, 6,
                                start_in_float32=True)  # Gymnasium's Acrobot draws its start in float32


class AcrobotDynamics(WarpDynamics):
    state_dim, action_dim, obs_dim = 4, 1, 6
    kernels = ACROBOT_KERNELS
    param_names = ("m1", "m2", "l1", "lc1", "lc2", "I1", "I2", "g", "dt", "max_vel1", "max_vel2")
    angle_dims = (0, 1)  # wrapped into [-pi, pi] by the step

    def __init__(self, m1=1.0, m2=1.0, l1=1.0, lc1=0.5, lc2=0.5, I1=1.0, I2=1.0, g=9.8, dt=0.2,
                 max_vel1=4 * math.pi, max_vel2=9 * math.pi, device="cpu"):
        for name, v in dict(m1=m1, m2=m2, l1=l1, I1=I1, I2=I2, dt=dt, max_vel1=max_vel1, max_vel2=max_vel2).items():
            if not v > 0:
                raise ValueError(f"{name} must be > 0, got {v!r}")
        super().__init__(dict(m1=m1, m2=m2, l1=l1, lc1=lc1, lc2=lc2, I1=I1, I2=I2, g=g, dt=dt, max_vel1=max_vel1,
                              max_vel2=max_vel2), device)
        high = np.array([1.0, 1.0, 1.0, 1.0, max_vel1, max_vel2], dtype=np.float32)
        self.observation_space = spaces.Box(low=-high, high=high, dtype=np.float32)
        self.action_space = spaces.Discrete(3)

    def initial_bounds(self, options=None):
        low = float(options.get("low", -0.1)) if options else -0.1
        high = float(options.get("high", 0.1)) if options else 0.1
        return np.full(4, low), np.full(4, high)

    def env_action(self, action):
        if not self.action_space.contains(action):
            raise ValueError(f"action must be 0, 1 or 2 (Discrete(3)), got {action!r}")
        return np.array([AVAIL_TORQUE[int(action)]])

    def render_frame(self, state):
        return two_link_frame(state[0], state[1], color=(0, 204, 204))


class AcrobotEnv(ClassicEnv):
    def __init__(self, render_mode=None, **params):
        super().__init__(AcrobotDynamics(**params), render_mode)

    def step(self, action):
        reward = self._transition(action)
        terminated = bool(self.dynamics.terminated(torch.as_tensor(self.state)[None])[0])
        return self._obs(), reward, terminated, False, {}


class AcrobotVectorEnv(WarpVectorEnv):
    def __init__(self, num_envs=1, max_episode_steps=500, device="cpu", render_mode=None, **params):
        super().__init__(AcrobotDynamics(device=device, **params), num_envs, max_episode_steps, render_mode)

    def _actions(self, actions):
        a = np.asarray(actions)
        if a.shape != (self.num_envs,) or not ((a == 0) | (a == 1) | (a == 2)).all():
            raise ValueError(f"actions must be {self.num_envs} values in {{0, 1, 2}}, got shape {a.shape}")
        return np.asarray(AVAIL_TORQUE)[a.astype(np.int64)][:, None]
