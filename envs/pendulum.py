"""``diffsim/Pendulum-v0``: Gymnasium's ``Pendulum-v1``, step for step, on Warp.

## Dynamics
A rigid rod of mass ``m`` (kg) and length ``l`` (m) hinged at one end, angle
``theta`` (rad, 0 = upright) and rate ``theta_dot`` (rad/s). With torque
``u = clip(a, -max_torque, max_torque)`` (N m), one semi-implicit Euler step of
``dt`` (s) is (Gymnasium's update, float64):

    theta_dot' = clip(theta_dot + (3 g / (2 l) sin(theta) + 3 / (m l^2) u) dt, -max_speed, max_speed)
    theta'     = theta + theta_dot' dt

## Observation, action, reward
Observation ``[cos theta, sin theta, theta_dot]`` (float32); action ``Box(-2, 2, (1,))``
torque; reward ``-(normalize(theta)^2 + 0.1 theta_dot^2 + 0.001 u^2)`` of the state
*before* the step. Never terminates; truncated after 200 steps (``max_episode_steps``).

## Starting state
``theta ~ U(-pi, pi)``, ``theta_dot ~ U(-1, 1)`` (``options`` ``x_init``/``y_init`` as
Gymnasium; ``options={"state": [theta, theta_dot]}`` sets it exactly).

## Arguments
``g`` (m/s^2, 10), ``m`` (kg, 1), ``l`` (m, 1), ``dt`` (s, 0.05), ``max_speed`` (rad/s, 8),
``max_torque`` (N m, 2), ``render_mode``; the vector env also ``num_envs``, ``device``.
"""
from __future__ import annotations

import math

import numpy as np
import warp as wp
from gymnasium import spaces

from envs.core import ClassicEnv, box_action
from envs.warp_dynamics import WarpDynamics, WarpVectorEnv, build_kernels

DEFAULT_X, DEFAULT_Y = math.pi, 1.0


Vec1d = wp.types.vector(1, wp.float64)
Vec3d = wp.types.vector(3, wp.float64)
# float64 constants made in Python: in a kernel, `wp.float64(2.0 * math.pi)` would multiply in float32 first
PI = wp.constant(wp.float64(math.pi))
TWO_PI = wp.constant(wp.float64(2.0 * math.pi))


@wp.func
def numpy_square(x: wp.float64, two: wp.float64):
    """``x**2`` as NumPy computes it for a float64 scalar: the C library's ``pow(x, 2)``, which is not always
    ``x * x`` (one ulp apart now and then). ``two`` must be 2 and known only at run time, or the compiler
    rewrites the call as ``x * x``. Its adjoint is that of ``x * x`` (none for ``two``)."""
    return wp.pow(x, two)


@wp.func_grad(numpy_square)
def adj_numpy_square(x: wp.float64, two: wp.float64, adj_ret: wp.float64):
    wp.adjoint[x] += wp.float64(2.0) * x * adj_ret


@wp.func
def numpy_square32(x: wp.float32, two: wp.float32):
    """``numpy_square`` for a float32 scalar (``powf``)."""
    return wp.pow(x, two)


@wp.func_grad(numpy_square32)
def adj_numpy_square32(x: wp.float32, two: wp.float32, adj_ret: wp.float32):
    wp.adjoint[x] += wp.float32(2.0) * x * adj_ret


@wp.func
def pendulum_dynamics(s: wp.vec2d, a: Vec1d, params: wp.array(dtype=wp.float64)):
    g, m, l, dt, max_speed, max_torque = params[0], params[1], params[2], params[3], params[4], params[5]
    th = s[0]
    thdot = s[1]
    u = wp.clamp(a[0], -max_torque, max_torque)
    # squares as Gymnasium's NumPy takes them, so that the reward equals Pendulum-v1's bit for bit on the CPU
    two = wp.float64(2.0) + wp.float64(0.0) * params[6]  # 2, but not a compile-time constant
    u_cost = wp.float64(0.001) * numpy_square(u, two)
    u_acc = wp.float64(3.0) / (m * l * l) * u
    if params[6] > wp.float64(0.5):
        # Gymnasium's float32 action makes NumPy (>= 2) evaluate the torque terms in float32: round as it does.
        u32 = wp.float32(u)
        u_cost = wp.float64(wp.float32(0.001) * numpy_square32(u32, wp.float32(two)))
        u_acc = wp.float64(wp.float32(wp.float64(3.0) / (m * l * l)) * u32)
    # Python's (th + pi) % (2 pi) - pi exactly: fmod (exact), then moved into [0, 2 pi) as Python's % does
    th_norm = wp.mod(th + PI, TWO_PI)
    if th_norm < wp.float64(0.0):
        th_norm = th_norm + TWO_PI
    th_norm = th_norm - PI
    reward = -(numpy_square(th_norm, two) + wp.float64(0.1) * numpy_square(thdot, two) + u_cost)
    acc = wp.float64(3.0) * g / (wp.float64(2.0) * l) * wp.sin(th) + u_acc
    new_thdot = wp.clamp(thdot + acc * dt, -max_speed, max_speed)
    return wp.vec2d(th + new_thdot * dt, new_thdot), reward


@wp.func
def pendulum_observe(s: wp.vec2d):
    return Vec3d(wp.cos(s[0]), wp.sin(s[0]), s[1])


@wp.func
def pendulum_terminated(s: wp.vec2d):
    return False


PENDULUM_KERNELS = build_kernels(pendulum_dynamics, pendulum_observe, pendulum_terminated, 2, 1, 3)


class PendulumDynamics(WarpDynamics):
    state_dim, action_dim, obs_dim = 2, 1, 3
    kernels = PENDULUM_KERNELS
    param_names = ("g", "m", "l", "dt", "max_speed", "max_torque", "float32_torque")

    def __init__(self, g=10.0, m=1.0, l=1.0, dt=0.05, max_speed=8.0, max_torque=2.0, float32_torque=False,
                 device="cpu"):
        for name, v in dict(m=m, l=l, dt=dt, max_speed=max_speed, max_torque=max_torque).items():
            if not v > 0:
                raise ValueError(f"{name} must be > 0, got {v!r}")
        super().__init__(dict(g=g, m=m, l=l, dt=dt, max_speed=max_speed, max_torque=max_torque,
                              float32_torque=float(bool(float32_torque))), device)
        high = np.array([1.0, 1.0, max_speed], dtype=np.float32)
        self.observation_space = spaces.Box(low=-high, high=high, dtype=np.float32)
        self.action_space = spaces.Box(low=-max_torque, high=max_torque, shape=(1,), dtype=np.float32)

    def initial_bounds(self, options=None):
        x = float(options.get("x_init", DEFAULT_X)) if options else DEFAULT_X
        y = float(options.get("y_init", DEFAULT_Y)) if options else DEFAULT_Y
        return np.array([-x, -y]), np.array([x, y])

    def env_action(self, action):
        return box_action(action, (1,), what=" (torque N m)")

    def render_frame(self, state):
        return _draw_rod(state[0])


def _draw_rod(theta, size=128):
    img = np.full((size, size, 3), 255, dtype=np.uint8)
    c = size // 2
    for r in np.linspace(0, 0.4 * size, 200):
        x, y = int(c + r * math.sin(theta)), int(c - r * math.cos(theta))
        img[max(0, y - 2):y + 3, max(0, x - 2):x + 3] = (204, 77, 77)
    return img


class PendulumEnv(ClassicEnv):
    def __init__(self, render_mode=None, **params):
        super().__init__(PendulumDynamics(float32_torque=True, **params), render_mode)

    def step(self, action):
        reward = np.float64(self._transition(action))  # Pendulum-v1's reward is a NumPy float64
        return self._obs(), reward, False, False, {}


class PendulumVectorEnv(WarpVectorEnv):
    def __init__(self, num_envs=1, max_episode_steps=200, device="cpu", render_mode=None, **params):
        super().__init__(PendulumDynamics(float32_torque=True, device=device, **params), num_envs,
                         max_episode_steps, render_mode)

    def _actions(self, actions):
        return box_action(actions, (self.num_envs, 1), "actions")
