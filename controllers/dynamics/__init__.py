"""Learned dynamics models trained through diffsim's integrators.

Every model is called ``model(t, y) -> dy/dt`` with ``y`` of shape ``(batch, 2 * dof)`` and drops into
:func:`diffsim.ode.odeint` as a torch field: :class:`MLPField` (plain neural ODE), :class:`HNN`
(Hamiltonian), :class:`LNN` (Lagrangian), :class:`CHNN` (Hamiltonian in Cartesian coordinates with known
rigid-rod constraints), :class:`ControlledHNN` (port-Hamiltonian with inputs and
damping), :class:`UDE` (known terms plus a network). :func:`fit` trains any of them by derivative or
trajectory matching; :mod:`controllers.dynamics.data` generates the data sets with diffsim's simulators;
:class:`LearnedDynamics` puts a learned controlled model in place of an env's transition (e.g. for MPC).
"""
from controllers.dynamics.chnn import CHNN
from controllers.dynamics.controlled import ControlledHNN
from controllers.dynamics.fit import fit
from controllers.dynamics.hnn import HNN
from controllers.dynamics.learned import LearnedDynamics
from controllers.dynamics.lnn import LNN
from controllers.dynamics.mlp_field import MLPField
from controllers.dynamics.ude import UDE

__all__ = ["MLPField", "HNN", "LNN", "CHNN", "ControlledHNN", "UDE", "LearnedDynamics", "fit"]
