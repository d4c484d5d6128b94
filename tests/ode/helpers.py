"""Torch twins of the built-in Warp fields, for cross-path checks."""
import torch


def torch_van_der_pol(mu):
    def f(t, y):
        return torch.stack([y[..., 1], mu * (1 - y[..., 0] ** 2) * y[..., 1] - y[..., 0]], -1)
    return f


def torch_harmonic(omega):
    def f(t, y):
        return torch.stack([y[..., 1], -omega ** 2 * y[..., 0]], -1)
    return f


def torch_pendulum(g_over_l):
    def f(t, y):
        return torch.stack([y[..., 1], -g_over_l * torch.sin(y[..., 0])], -1)
    return f
