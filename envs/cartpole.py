"""``diffsim/CartPole-v0``: Gymnasium's ``CartPole-v1``, step for step, on Warp.

## Dynamics
A pole (half-length ``length`` m, mass ``masspole`` kg) hinged on a cart (mass
``masscart`` kg) on a frictionless track; state ``[x (m), x_dot (m/s), theta (rad,
0 = upright), theta_dot (rad/s)]``. A push of ``+-force_mag`` N; Gymnasium's
equations (Barto, Sutton & Anderson 1983) with explicit Euler, ``tau`` = 0.02 s:

    temp      = (F + m_p l theta_dot^2 sin theta) / M
    theta_acc = (g sin theta - cos theta temp) / (l (4/3 - m_p cos^2 theta / M))
    x_acc     = temp - m_p l theta_acc cos theta / M

## Observation, action, reward
Observation = state (float32); action ``Discrete(2)`` (0 pushes left, 1 right);
reward 1 per step (``sutton_barto_reward=True``: 0, and -1 on failure). Terminates
when ``|x| > 2.4`` or ``|theta| > 12 deg``; truncated after 500 steps.

## Starting state
Each component ~ U(-0.05, 0.05) (``options`` ``low``/``high`` as Gymnasium;
``options={"state": [...]}`` sets it exactly).

## Differentiable step
``CartPoleDynamics.step(state, action)`` takes a continuous ``action`` in units of
``force_mag`` (``-1`` = the discrete push 0, ``+1`` = push 1) so that gradients w.r.t.
the force exist.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import warp as wp
from gymnasium import logger, spaces

from envs.core import ClassicEnv
from envs.rendering import cartpole_frame
from envs.warp_dynamics import WarpDynamics, WarpVectorEnv, build_kernels

Vec1d = wp.types.vector(1, wp.float64)
THETA_THRESHOLD = 12 * 2 * math.pi / 360  # rad
X_THRESHOLD = 2.4  # m


# Taylor coefficients of sin (x, x^3, ..., x^13) and cos (1, x^2, ..., x^14) as exact float64 constants
S3, S5, S7, S9, S11, S13 = (wp.constant(wp.float64((-1) ** k / math.factorial(2 * k + 1))) for k in range(1, 7))
C2, C4, C6, C8, C10, C12, C14 = (wp.constant(wp.float64((-1) ** k / math.factorial(2 * k))) for k in range(1, 8))
SMALL_ANGLE = 0.5  # rad


@wp.func
def small_angle_sincos(x: wp.float64):
    """``(sin x, cos x)``; for ``|x| <= 0.5`` rad by Taylor polynomials (truncation < 5e-17, the pole's
    angle stays within 12 deg in an episode) -- about 3x cheaper than the C library's pair -- else by it."""
    if wp.abs(x) > wp.float64(SMALL_ANGLE):
        return wp.sin(x), wp.cos(x)
    x2 = x * x
    s = x + x * x2 * (S3 + x2 * (S5 + x2 * (S7 + x2 * (S9 + x2 * (S11 + x2 * S13)))))
    c = wp.float64(1.0) + x2 * (C2 + x2 * (C4 + x2 * (C6 + x2 * (C8 + x2 * (C10 + x2 * (C12 + x2 * C14))))))
    return s, c


@wp.func
def cartpole_dynamics(s: wp.vec4d, a: Vec1d, params: wp.array(dtype=wp.float64)):
    gravity, masscart, masspole = params[0], params[1], params[2]
    length, force_mag, tau = params[3], params[4], params[5]
    total_mass = masspole + masscart
    polemass_length = masspole * length
    x, x_dot, theta, theta_dot = s[0], s[1], s[2], s[3]
    force = force_mag * a[0]
    sintheta, costheta = small_angle_sincos(theta)
    temp = (force + polemass_length * theta_dot * theta_dot * sintheta) / total_mass
    thetaacc = (gravity * sintheta - costheta * temp) / (
        length * (wp.float64(4.0) / wp.float64(3.0) - masspole * costheta * costheta / total_mass))
    xacc = temp - polemass_length * thetaacc * costheta / total_mass
    next_state = wp.vec4d(x + tau * x_dot, x_dot + tau * xacc, theta + tau * theta_dot, theta_dot + tau * thetaacc)
    return next_state, wp.float64(1.0)


@wp.func
def cartpole_observe(s: wp.vec4d):
    return s


@wp.func
def cartpole_terminated(s: wp.vec4d):
    return wp.abs(s[0]) > wp.float64(X_THRESHOLD) or wp.abs(s[2]) > wp.float64(THETA_THRESHOLD)


CARTPOLE_KERNELS = build_kernels(cartpole_dynamics, cartpole_observe, cartpole_terminated, 4, 1, 4)


class CartPoleDynamics(WarpDynamics):
    state_dim, action_dim, obs_dim = 4, 1, 4
    kernels = CARTPOLE_KERNELS
    param_names = ("gravity", "masscart", "masspole", "length", "force_mag", "tau")
    theta_threshold = THETA_THRESHOLD
    x_threshold = X_THRESHOLD

    def __init__(self, gravity=9.8, masscart=1.0, masspole=0.1, length=0.5, force_mag=10.0, tau=0.02,
                 device="cpu"):
        for name, v in dict(masscart=masscart, masspole=masspole, length=length, tau=tau).items():
            if not v > 0:
                raise ValueError(f"{name} must be > 0, got {v!r}")
        super().__init__(dict(gravity=gravity, masscart=masscart, masspole=masspole, length=length,
                              force_mag=force_mag, tau=tau), device)
        high = np.array([self.x_threshold * 2, np.inf, self.theta_threshold * 2, np.inf], dtype=np.float32)
        self.observation_space = spaces.Box(-high, high, dtype=np.float32)
        self.action_space = spaces.Discrete(2)

    def initial_bounds(self, options=None):
        low = float(options.get("low", -0.05)) if options else -0.05
        high = float(options.get("high", 0.05)) if options else 0.05
        return np.full(4, low), np.full(4, high)

    def env_action(self, action):
        if not self.action_space.contains(action):
            raise ValueError(f"action must be 0 or 1 (Discrete(2)), got {action!r}")
        return np.array([1.0 if int(action) == 1 else -1.0])

    def render_frame(self, state):
        return cartpole_frame(state[0], state[2], x_scale=128 / 6)


class CartPoleEnv(ClassicEnv):
    def __init__(self, sutton_barto_reward: bool = False, render_mode=None, **params):
        super().__init__(CartPoleDynamics(**params), render_mode)
        self._sutton_barto_reward = sutton_barto_reward
        self.steps_beyond_terminated = None

    def _after_reset(self):
        self.steps_beyond_terminated = None

    def step(self, action):
        self._transition(action)
        terminated = bool(self.dynamics.terminated(torch.as_tensor(self.state)[None])[0])
        if not terminated:
            reward = 0.0 if self._sutton_barto_reward else 1.0
        elif self.steps_beyond_terminated is None:
            self.steps_beyond_terminated = 0
            reward = -1.0 if self._sutton_barto_reward else 1.0
        else:
            if self.steps_beyond_terminated == 0:
                logger.warn("step() called after terminated = True; call reset() first")
            self.steps_beyond_terminated += 1
            reward = -1.0 if self._sutton_barto_reward else 0.0
        return self._obs(), reward, terminated, False, {}


class CartPoleVectorEnv(WarpVectorEnv):
    def __init__(self, num_envs=1, max_episode_steps=500, sutton_barto_reward: bool = False, device="cpu",
                 render_mode=None, **params):
        super().__init__(CartPoleDynamics(device=device, **params), num_envs, max_episode_steps, render_mode)
        self._sutton_barto_reward = sutton_barto_reward

    def _actions(self, actions):
        a = np.asarray(actions)
        if a.shape == (self.num_envs,) and a.dtype.kind in "iu" and not (a & -2).any():  # integers, all 0 or 1
            return (a * 2.0 - 1.0)[:, None]
        push_right = a == 1
        if a.shape != (self.num_envs,) or not (push_right | (a == 0)).all():
            raise ValueError(f"actions must be {self.num_envs} values in {{0, 1}}, got shape {a.shape}")
        return np.where(push_right, 1.0, -1.0)[:, None]

    def step(self, actions):
        obs, reward, term, trunc, info = super().step(actions)
        if self._sutton_barto_reward:
            reward = np.where(term, -1.0, 0.0)
            reward[self._steps_host == 0] = 0.0
        return obs, reward, term, trunc, info
