"""Energy-based swing-up for the cart-pole, handing over to LQR near the top (Astrom & Furuta 2000).

The pole's energy about its hinge is ``E = 1/2 I w^2 + m g l_c cos(theta)`` (``theta = 0`` up),
``E_up = m g l_c``. Accelerating the cart by ``a`` changes it at ``dE/dt = -m l_c a cos(theta) w``,
so pushing with ``u = k (E - E_up) w cos(theta)`` pumps energy in until the pole reaches the top;
a weak spring-damper keeps the cart near the centre. Once the pole is within ``catch_angle`` of
upright, an :class:`~controllers.lqr.LQRController` linearised by autodiff balances it.
"""
from __future__ import annotations

import math

import numpy as np

from controllers.lqr import LQRController


class EnergySwingUp:
    def __init__(self, dynamics, k_energy: float = 30.0, k_x: float = 0.1, k_v: float = 0.2,
                 catch_angle: float = 0.3, Q=(1.0, 10.0, 1.0, 1.0), R: float = 0.1):
        m = dynamics.template
        pole = 1  # body index of the pole in the built-in cart-pole
        self.mass = float(m.body_mass[0, pole])
        self.lc = float(m.body_ipos[0, pole].norm())
        ipos = m.body_ipos[0, pole].numpy()
        axis = np.array([0.0, 1.0, 0.0])
        self.inertia = float(axis @ m.body_inertia[0, pole].numpy() @ axis) + self.mass * float(ipos @ ipos)
        self.g = float(-m.gravity[0, 2])
        self.k_energy, self.k_x, self.k_v, self.catch = k_energy, k_x, k_v, catch_angle
        self.lqr = LQRController(dynamics, np.zeros(4), np.zeros(1), np.diag(Q), R * np.eye(1))
        self.low, self.high = dynamics.ctrl_low, dynamics.ctrl_high

    def energy(self, theta, omega):
        return 0.5 * self.inertia * omega ** 2 + self.mass * self.g * self.lc * np.cos(theta)

    def __call__(self, x):
        x = np.atleast_2d(x)
        theta = (x[:, 1] + math.pi) % (2 * math.pi) - math.pi
        omega = x[:, 3]
        e_gap = self.energy(theta, omega) - self.mass * self.g * self.lc
        pump = self.k_energy * e_gap * omega * np.cos(theta) - self.k_x * x[:, 0] - self.k_v * x[:, 2]
        near = np.abs(theta) < self.catch
        wrapped = x.copy()
        wrapped[:, 1] = theta
        u = np.where(near[:, None], self.lqr(wrapped), pump[:, None])
        return np.clip(u, self.low, self.high)
