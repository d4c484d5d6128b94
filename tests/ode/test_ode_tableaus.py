"""Tableau consistency: row sums, weights, and the order conditions each method claims."""

import numpy as np
import pytest

from diffsim.ode.tableaus import DOPRI5, EULER, METHODS, MIDPOINT, RK4, get_method


@pytest.mark.parametrize("tab", [EULER, MIDPOINT, RK4, DOPRI5], ids=lambda t: t.name)
def test_row_sums_and_weights(tab):
    for ci, ai in zip(tab.c, tab.a):
        assert abs(sum(ai) - ci) < 1e-15
    assert abs(sum(tab.b) - 1.0) < 1e-15


def _order_conditions(tab, order):
    s = tab.stages
    A = np.zeros((s, s))
    for i, row in enumerate(tab.a):
        A[i, :len(row)] = row
    b, c = np.array(tab.b), np.array(tab.c)
    conds = [b.sum() - 1]
    if order >= 2:
        conds.append(b @ c - 1 / 2)
    if order >= 3:
        conds += [b @ c ** 2 - 1 / 3, b @ A @ c - 1 / 6]
    if order >= 4:
        conds += [b @ c ** 3 - 1 / 4, b @ (c * (A @ c)) - 1 / 8, b @ A @ c ** 2 - 1 / 12, b @ A @ A @ c - 1 / 24]
    if order >= 5:
        conds += [b @ c ** 4 - 1 / 5, b @ (c ** 2 * (A @ c)) - 1 / 10, b @ (c * (A @ c ** 2)) - 1 / 15,
                  b @ (c * (A @ A @ c)) - 1 / 30, b @ ((A @ c) ** 2) - 1 / 20, b @ A @ c ** 3 - 1 / 20,
                  b @ A @ (c * (A @ c)) - 1 / 40, b @ A @ A @ c ** 2 - 1 / 60, b @ A @ A @ A @ c - 1 / 120]
    return np.abs(conds)


@pytest.mark.parametrize("tab", [EULER, MIDPOINT, RK4, DOPRI5], ids=lambda t: t.name)
def test_order_conditions(tab):
    assert _order_conditions(tab, tab.order).max() < 1e-14


def test_dopri5_embedded_and_dense_weights():
    b_hat = np.array(DOPRI5.b) - np.array(DOPRI5.e)
    assert abs(b_hat.sum() - 1) < 1e-15
    assert abs(sum(DOPRI5.d)) < 1e-12  # the dense correction vanishes on constants


def test_aliases_and_unknown_names():
    assert get_method("leapfrog").name == "verlet"
    assert get_method("symplectic_euler").name == "semi_implicit_euler"
    with pytest.raises(ValueError, match="method must be one of"):
        get_method("rk45")
    assert set(METHODS) == {"euler", "midpoint", "rk4", "dopri5", "semi_implicit_euler", "verlet", "rattle", "rattle4"}
