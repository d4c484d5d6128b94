"""Step grids: where each trajectory steps, and where each output time lies.

A ``Grid`` is the common currency of both solver paths. Fixed-step methods build
one grid shared by every trajectory; the adaptive solver records one grid per
trajectory while it runs. The differentiable pass then *replays* the grid with
the step sizes held constant (discretise-then-optimise, as torchdiffeq and
diffrax do: no gradient flows through step-size control).

Shapes (``K`` steps, ``J`` output times, ``W`` trajectories, ``Wg`` = 1 for a
shared grid or ``W``):

* ``t_start``  ``(K, Wg)`` float64 -- start time of step k;
* ``h``        ``(K, Wg)`` float64 -- size of step k;
* ``n_steps``  ``(Wg,)``   int32   -- steps actually taken (later rows are padding:
  the replay holds the state constant there);
* ``out_step`` ``(J, Wg)`` int32   -- step whose dense output gives output j
  (``K`` allowed with ``theta == 0``: the state after the last step);
* ``out_theta``  ``(J, Wg)`` float64 -- position of output j inside that step, in [0, 1].
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

RUNNING, DONE, UNDERFLOW, MAX_STEPS, FULL = 0, 1, 2, 3, 4  # adaptive per-trajectory status
# Step-size controller of the adaptive solver, per trajectory: Hairer's DOPRI5 proportional-integral
# rule (Hairer, Norsett & Wanner, Solving ODEs I, II.4 and IV.2; Gustafsson 1991). With ``err`` the
# scaled RMS error of the attempt and ``err_prev`` that of the last accepted step (>= ERR_FLOOR):
#   accepted: h *= clip(SAFETY * err**-PI_ALPHA * err_prev**PI_BETA, DFACTOR, IFACTOR),
#             but not above 1 right after a rejection;
#   rejected: h *= clip(SAFETY * err**-PI_ALPHA, DFACTOR, 1).
# The integral term damps the accept/reject oscillation of the pure I rule (torchdiffeq's), which
# rejected a quarter of all attempts on Van der Pol.
SAFETY, IFACTOR, DFACTOR = 0.9, 10.0, 0.2
PI_BETA = 0.04
PI_ALPHA = 0.2 - 0.75 * PI_BETA
ERR_FLOOR = 1e-4


@dataclass
class Grid:
    t_start: torch.Tensor
    h: torch.Tensor
    n_steps: torch.Tensor
    out_step: torch.Tensor
    out_theta: torch.Tensor
    n_rejected: torch.Tensor | None = None

    @property
    def num_steps(self) -> int:
        return int(self.t_start.shape[0])

    @property
    def shared(self) -> bool:
        return self.t_start.shape[1] == 1


def fixed_grid(t: np.ndarray, step_size: float | None, device: torch.device) -> Grid:
    """Uniform steps inside each output interval, landing exactly on every output time.

    Without ``step_size`` each interval ``[t_j, t_{j+1}]`` is one step (torchdiffeq's
    behaviour for fixed-step methods); with it, the interval is cut into
    ``ceil(len / step_size)`` equal steps, so no step exceeds ``step_size``.
    """
    starts, sizes, out_step = [], [], [0]
    for t0, t1 in zip(t[:-1], t[1:]):
        n = 1 if step_size is None else max(1, int(np.ceil((t1 - t0) / step_size - 1e-9)))
        h = (t1 - t0) / n
        starts.extend(t0 + h * np.arange(n))
        sizes.extend([h] * n)
        out_step.append(out_step[-1] + n)
    k = len(starts)
    f64 = dict(dtype=torch.float64, device=device)
    return Grid(
        t_start=torch.tensor(np.asarray(starts, dtype=np.float64).reshape(k, 1), **f64),
        h=torch.tensor(np.asarray(sizes, dtype=np.float64).reshape(k, 1), **f64),
        n_steps=torch.full((1,), k, dtype=torch.int32, device=device),
        out_step=torch.tensor(np.asarray(out_step, dtype=np.int32).reshape(-1, 1), device=device),
        out_theta=torch.zeros((len(t), 1), **f64),
    )


def raise_on_failure(status: torch.Tensor, t_now: torch.Tensor, n_acc: torch.Tensor, n_rej: torch.Tensor,
                     max_steps: int) -> None:
    """Raise a ``RuntimeError`` naming the first trajectory whose adaptive solve failed."""
    bad = torch.nonzero((status == UNDERFLOW) | (status == MAX_STEPS)).flatten()
    if len(bad) == 0:
        return
    i = int(bad[0])
    what = ("step size underflow (the solution is non-finite, or too stiff for an explicit method)"
            if int(status[i]) == UNDERFLOW else f"max_steps={max_steps} attempted steps exceeded")
    raise RuntimeError(f"dopri5 failed for trajectory {i} (of {len(bad)} failing) at t={float(t_now[i]):.6g}: "
                       f"{what}; {int(n_acc[i])} accepted, {int(n_rej[i])} rejected steps")
