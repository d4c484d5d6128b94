"""Many independent scipy minimisations whose objective evaluations share one batched torch call.

    results = minimize_batched(losses, x0)          # x0 (R, P); losses(theta (R, P)) -> (R,)

``R`` problems that do not interact (e.g. the same model fitted to ``R`` noisy data sets) each get their own
:func:`scipy.optimize.minimize` (L-BFGS-B by default: its own line search, curvature pairs and stopping
test, exactly as if run alone), while their loss-and-gradient requests are gathered into one call of
``losses`` on the stacked parameters, so a solve through :func:`diffsim.ode.odeint` integrates all ``R``
trajectories in one batch instead of ``R`` times one. Each minimisation runs in a thread that waits until
every unfinished one has asked for an evaluation; finished problems keep their last parameters in the batch
(their rows' results are discarded). ``losses`` must make row ``r`` of its output depend on row ``r`` of
``theta`` only; the gradient of ``losses(theta).sum()`` then gives each problem its own gradient.
"""
from __future__ import annotations

import threading

import numpy as np
import scipy.optimize
import torch
from tqdm import tqdm


class _Batcher:
    """Collects one pending request per active problem, then evaluates them together."""

    def __init__(self, losses, x0: np.ndarray, dtype, bar=None):
        self.losses, self.dtype, self.bar = losses, dtype, bar
        self.current = x0.copy()
        self.active = set(range(len(x0)))
        self.pending: dict[int, np.ndarray] = {}
        self.results: dict[int, tuple[float, np.ndarray]] = {}
        self.error: BaseException | None = None
        self.round, self.evaluations = 0, 0
        self.cv = threading.Condition()

    def __call__(self, r: int, x: np.ndarray):
        with self.cv:
            if self.error is not None:
                raise RuntimeError("another problem's evaluation failed") from self.error
            self.pending[r] = np.array(x, dtype=np.float64)
            if len(self.pending) == len(self.active):
                self._evaluate()
            else:
                start = self.round
                while self.round == start:
                    self.cv.wait()
            if self.error is not None:
                raise RuntimeError("the batched loss evaluation failed") from self.error
            return self.results.pop(r)

    def finish(self, r: int):
        with self.cv:
            self.active.discard(r)
            if self.pending and len(self.pending) == len(self.active):
                self._evaluate()

    def _evaluate(self):
        for r, x in self.pending.items():
            self.current[r] = x
        try:
            theta = torch.tensor(self.current, dtype=self.dtype, requires_grad=True)
            loss = self.losses(theta)
            if loss.shape != (len(self.current),):
                raise ValueError(f"losses must return one loss per problem, shape ({len(self.current)},), "
                                 f"got {tuple(loss.shape)}")
            (grad,) = torch.autograd.grad(loss.sum(), theta)
            values, grads = loss.detach().double().numpy(), grad.double().numpy()
            for r in self.pending:
                self.results[r] = (float(values[r]), grads[r].copy())
            self.evaluations += 1
            if self.bar is not None:
                self.bar.update(1)
                self.bar.set_postfix(unfinished=len(self.active), refresh=False)
        except BaseException as e:  # handed to every waiting thread, then re-raised
            self.error = e
        self.pending = {}
        self.round += 1
        self.cv.notify_all()


def minimize_batched(losses, x0, method: str = "L-BFGS-B", options: dict | None = None,
                     dtype=torch.float64, progress: bool = False) -> list[scipy.optimize.OptimizeResult]:
    """Minimise ``R`` independent problems with one scipy optimiser each and batched evaluations.

    Args:
        losses: ``losses(theta) -> (R,)`` torch tensor, ``theta`` the ``(R, P)`` parameters (row ``r`` is
            problem ``r``'s); differentiable by autograd.
        x0: starting parameters, array-like ``(R, P)``, finite.
        method: a gradient-based method of :func:`scipy.optimize.minimize` (``L-BFGS-B``, ``BFGS``, ``CG``).
        options: passed to each :func:`scipy.optimize.minimize` (e.g. ``maxiter``).
        dtype: torch dtype ``theta`` is built in.
        progress: show a bar counting batched evaluations (and the problems still running).

    Returns:
        one ``OptimizeResult`` per problem (``x``, ``fun``, ``nfev``, ``success``, ``message``), in order.
    """
    x0 = np.asarray(x0, dtype=np.float64)
    if x0.ndim != 2 or x0.shape[0] < 1 or x0.shape[1] < 1:
        raise ValueError(f"x0 must have shape (R, P) with R, P >= 1, got {x0.shape}")
    if not np.isfinite(x0).all():
        raise ValueError("x0 must be finite (no NaN or inf)")
    if method not in ("L-BFGS-B", "BFGS", "CG"):
        raise ValueError(f"method must be one of 'L-BFGS-B', 'BFGS', 'CG' (gradient-based), got {method!r}")
    bar = tqdm(desc=method, unit="eval", leave=False) if progress else None
    batcher = _Batcher(losses, x0, dtype, bar)
    out: list = [None] * len(x0)

    def solve(r: int):
        try:
            out[r] = scipy.optimize.minimize(lambda x: batcher(r, x), x0[r], jac=True, method=method,
                                             options=options)
        except BaseException as e:  # reported after every thread has stopped
            out[r] = e
        finally:
            batcher.finish(r)

    threads = [threading.Thread(target=solve, args=(r,), daemon=True) for r in range(len(x0))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if bar is not None:
        bar.close()
    if batcher.error is not None:
        raise batcher.error
    for r in out:
        if isinstance(r, BaseException):
            raise r
    return out
