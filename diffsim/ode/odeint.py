"""``odeint``: one front end for both vector-field paths.

    ys = odeint(func, y0, t, method="dopri5", rtol=1e-6, atol=1e-8, step_size=None)

``ys`` has shape ``(len(t), *y0.shape)``, like torchdiffeq's ``odeint``. The last
dimension of ``y0`` is the state; leading dimensions are independent
trajectories, each with its own step size and accept/reject decisions in the
adaptive solver (a trajectory's answer does not depend on what it is batched
with).

``func`` is either a :class:`WarpVectorField` (the solve runs in Warp kernels,
batched over trajectories; gradients w.r.t. ``y0`` and ``func.params`` come from
``wp.Tape`` through :mod:`diffsim.bridge`) or a torch callable ``func(t, y)``
(see :mod:`diffsim.ode.torch_solver`). Both paths share the tableaus, the step
grids and the step-size controller, so the same method on the same steps gives
the same numbers.

Gradients are those of the discrete solver (discretise-then-optimise) with the
accepted step sizes held constant. ``checkpoint_segments=S`` splits the replay into
``S`` segments that are recomputed during backward, bounding the backward's
working memory to one segment.
"""
from __future__ import annotations

import numpy as np
import torch

from diffsim import runtime
from diffsim.ode import torch_solver, warp_solver
from diffsim.ode.field import WarpVectorField
from diffsim.ode.grid import Grid, fixed_grid
from diffsim.ode.tableaus import Constrained, Partitioned, get_method


def _check_times(t) -> np.ndarray:
    t_np = t.detach().cpu().double().numpy() if isinstance(t, torch.Tensor) else np.asarray(t, dtype=np.float64)
    if t_np.ndim != 1 or len(t_np) < 1:
        raise ValueError(f"t must be a 1-D sequence of output times, got shape {t_np.shape}")
    if not np.all(np.isfinite(t_np)):
        raise ValueError("t must be finite")
    if len(t_np) > 1 and not np.all(np.diff(t_np) > 0):
        raise ValueError("t must be strictly increasing")
    return t_np


def _check_positive(name, value):
    if value is not None and not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


def odeint(func, y0: torch.Tensor, t, method: str = "dopri5", rtol: float = 1e-6, atol: float = 1e-8,
           step_size: float | None = None, *, max_steps: int = 100_000, checkpoint_segments: int | None = None,
           return_stats: bool = False, device: str | None = None):
    """Integrate ``dy/dt = func(t, y)`` from ``y0`` at ``t[0]``; return ``y`` at every ``t``.

    Args:
        func: a :class:`WarpVectorField` or a torch callable ``func(t, y)``.
        y0: initial state, shape ``(*batch, D)``, float32 or float64.
        t: strictly increasing output times (1-D tensor, array or list).
        method: ``euler``, ``midpoint``, ``rk4``, ``semi_implicit_euler``
            (``symplectic_euler``), ``verlet`` (``leapfrog``, ``velocity_verlet``)
            or ``dopri5`` (adaptive). Symplectic methods split ``y = [q, p]`` in halves.
            ``rattle`` and ``rattle4`` (its fourth-order composition) step a torch field
            with holonomic constraints through the field's own ``rattle(t, y, h, weights)``
            (e.g. :class:`controllers.dynamics.CHNN`).
        rtol, atol: tolerances of the adaptive solver (per trajectory, RMS norm).
        step_size: largest step of the fixed-step methods (default: one step per
            output interval). Ignored by ``dopri5``.
        max_steps: attempted-step budget per trajectory for ``dopri5``.
        checkpoint_segments: recompute the forward in this many segments during
            backward (memory bound); ``None`` keeps the whole trajectory graph.
        return_stats: also return ``{"n_steps", "n_rejected", "n_f_evals"}`` per trajectory.
        device: Warp path only; defaults to ``y0``'s device.
    """
    tab = get_method(method)
    t_np = _check_times(t)
    if not isinstance(y0, torch.Tensor):
        raise TypeError(f"y0 must be a torch.Tensor, got {type(y0).__name__}")
    if y0.dtype not in runtime.SUPPORTED_DTYPES:
        raise TypeError(f"y0 must be float32 or float64, got {y0.dtype}")
    if y0.dim() < 1 or y0.shape[-1] < 1:
        raise ValueError(f"y0 must have shape (*batch, D) with D >= 1, got {tuple(y0.shape)}")
    if not bool(torch.isfinite(y0).all()):
        bad = torch.nonzero(~torch.isfinite(y0.reshape(-1, y0.shape[-1])).all(-1)).flatten()
        raise ValueError(f"y0 must be finite; trajectory {int(bad[0])} is not")
    _check_positive("rtol", rtol)
    _check_positive("atol", atol)
    _check_positive("step_size", step_size)
    if not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps must be a positive int, got {max_steps!r}")
    if checkpoint_segments is not None and (not isinstance(checkpoint_segments, int) or checkpoint_segments < 1):
        raise ValueError(f"checkpoint_segments must be a positive int or None, got {checkpoint_segments!r}")
    D = y0.shape[-1]
    if isinstance(tab, Partitioned) and D % 2:
        raise ValueError(f"method {tab.name!r} splits y = [q, p] and needs an even state size, got D={D}")
    if isinstance(tab, Constrained) and not callable(getattr(func, "rattle", None)):
        raise TypeError(f"method {tab.name!r} steps fields with holonomic constraints through their own "
                        f"rattle(t, y, h, weights); {type(func).__name__} has none (e.g. controllers.dynamics.CHNN "
                        f"has one)")
    batch_shape = y0.shape[:-1]
    y0_flat = y0.reshape(-1, D)
    W = y0_flat.shape[0]

    if isinstance(func, WarpVectorField):
        if D != func.dim:
            raise ValueError(f"y0 has state size {D} but the vector field {func.name!r} has dim={func.dim}")
        params = _flat_params(func, batch_shape, W, y0)
        dev = runtime.resolve_device(device if device is not None else str(y0.device))
        kern = warp_solver.kernels_for(func, tab, y0.dtype)
        if tab.adaptive:
            grid = warp_solver.adaptive_grid(kern, y0_flat.detach(), params.detach(), t_np, rtol, atol, max_steps, dev)
        else:
            grid = fixed_grid(t_np, step_size, y0.device)
        ys = warp_solver.integrate(kern, grid, y0_flat, params, dev, checkpoint_segments)
    elif callable(func):
        if tab.adaptive:
            grid = torch_solver.adaptive_grid(func, y0_flat.detach(), t_np, rtol, atol, max_steps)
        else:
            grid = fixed_grid(t_np, step_size, y0.device)
        ys = torch_solver.integrate(func, tab, grid, y0_flat, checkpoint_segments)
    else:
        raise TypeError(f"func must be a WarpVectorField or a callable f(t, y), got {type(func).__name__}")
    ys = ys.reshape(len(t_np), *batch_shape, D)
    if return_stats:
        return ys, _stats(grid, tab, batch_shape, W)
    return ys


def _flat_params(field: WarpVectorField, batch_shape, W: int, y0: torch.Tensor) -> torch.Tensor:
    p = field.params
    if p.dtype != y0.dtype or p.device != y0.device:
        p = p.to(dtype=y0.dtype, device=y0.device)
    if not bool(torch.isfinite(p).all()):
        raise ValueError(f"params of {field.name!r} must be finite")
    P = p.shape[-1]
    if p.dim() == 1:
        flat = p.reshape(1, P)
    elif tuple(p.shape[:-1]) == tuple(batch_shape):
        flat = p.reshape(W, P)
    else:
        raise ValueError(f"params must have shape ({P},) or {(*batch_shape, P)} to match y0, got {tuple(p.shape)}")
    if P == 0:
        flat = torch.zeros((1, 1), dtype=y0.dtype, device=y0.device)
    return flat


def _stats(grid: Grid, tab, batch_shape, W: int) -> dict:
    n_steps = grid.n_steps.expand(W) if grid.shared else grid.n_steps
    n_rej = grid.n_rejected if grid.n_rejected is not None else torch.zeros_like(n_steps)
    evals_per_attempt = tab.stages
    n_f = (n_steps + n_rej) * evals_per_attempt + (2 if tab.adaptive else 0)
    return {k: v.reshape(batch_shape) for k, v in
            dict(n_steps=n_steps, n_rejected=n_rej, n_f_evals=n_f).items()}
