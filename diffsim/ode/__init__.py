"""Batched, differentiable ODE integrators (Warp kernels or torch callables)."""
from diffsim.ode.field import WarpVectorField
from diffsim.ode.odeint import odeint
from diffsim.ode.tableaus import METHODS, get_method

__all__ = ["odeint", "WarpVectorField", "METHODS", "get_method"]
