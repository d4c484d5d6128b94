"""``fit``: one training front for every learned field, by derivative or by trajectory matching.

    history = fit(model, t, ys, mode="derivative", dys=dys)                 # the HNN paper's way
    history = fit(model, t, ys, mode="trajectory", method="verlet", window=5)   # through the solver

* ``mode="derivative"``: regress ``model(t, y)`` on target derivatives at every sample (``dys``, e.g.
  the simulator's exact field; central differences in time of ``ys`` when omitted).
* ``mode="trajectory"``: cut every trajectory into windows of ``window`` samples, integrate the learned
  field from each window's first state with :func:`diffsim.ode.odeint` (any method, the symplectic
  ones included) and back-propagate the error of the other states through the solver.

``controls`` ``(N, T, m)`` drive a :class:`~controllers.dynamics.controlled.ControlledHNN`: sample
``k``'s input is held over ``[t_k, t_k+1)``. ``optimizer="adam"`` (default; ``weight_decay`` added to the
gradient as L2, the HNN paper's) or ``"adamw"`` (``weight_decay`` decoupled from the gradient, Loshchilov and
Hutter's AdamW, the constrained-HNN paper's), full batch unless ``batch_size``; a progress bar; ``checkpoint``
saved every ``log_every`` steps and at the end (atomic), ``resume=True`` continues from it
(``torch.load(weights_only=True)``) and may extend ``steps`` (with ``schedule="cosine"`` the rate then follows the new
length); ``loss="mse"`` (default) or ``"l1"`` (mean absolute error, the constrained-HNN paper's);
``schedule="constant"`` (default) or ``"cosine"`` (the rate falls from ``lr`` to 0 over ``steps`` as
``lr (1 + cos(pi k / steps)) / 2``); a non-finite loss stops with ``FloatingPointError`` naming the step and the
last checkpoint.

Under ``torchrun`` (``ctx`` from :func:`controllers.distributed.init`) every rank draws the same minibatch
indices from ``seed`` and computes the loss of its contiguous share of them; DistributedDataParallel
averages the gradients, so K ranks take the steps one process would (to summation order). Rank 0 alone
shows progress, scores the test data and writes the checkpoint.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import torch
from tqdm import tqdm

from controllers import distributed, fit_checkpoint
from diffsim.ode import odeint

MODES = ("derivative", "trajectory")
LOSSES = ("mse", "l1")
SCHEDULES = ("constant", "cosine")
OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}


def _as_data(name, x, dtype, ndim_options=(2, 3)):
    if x is None:
        return None
    x = torch.as_tensor(x)
    if not x.is_floating_point():
        raise TypeError(f"{name} must be floating point, got {x.dtype}")
    if x.dim() not in ndim_options:
        raise ValueError(f"{name} must have shape (N, T, D) (or (T, D) for one trajectory), got {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    x = x.to(dtype)
    return x if x.dim() == 3 else x.unsqueeze(0)


def _times(t, T, dtype):
    t = torch.as_tensor(t, dtype=dtype).reshape(-1)
    if t.numel() != T:
        raise ValueError(f"t must have one time per sample ({T}), got {t.numel()}")
    if not bool(torch.isfinite(t).all()) or (T > 1 and not bool((t.diff() > 0).all())):
        raise ValueError("t must be finite and strictly increasing")
    return t


def windows(x: torch.Tensor, window: int) -> torch.Tensor:
    """Every stretch of ``window`` consecutive samples of trajectories ``x`` ``(N, T, D)``, trajectory-major:
    ``(N * (T - window + 1), window, D)``."""
    return x.unfold(1, window, 1).permute(0, 1, 3, 2).reshape(-1, window, x.shape[-1])


class _Data:
    """One data set (training or test) prepared for a mode: flat samples or windows."""

    def __init__(self, model, t, ys, dys, controls, mode, window, dtype):
        ys = _as_data("ys", ys, dtype)
        N, T, D = ys.shape
        if D != model.dim:
            raise ValueError(f"ys has state width {D}, the model expects 2 * dof = {model.dim}")
        self.t = _times(t, T, dtype)
        controls = _as_data("controls", controls, dtype)
        if controls is not None and controls.shape[:2] != (N, T):
            raise ValueError(f"controls must have shape ({N}, {T}, m), got {tuple(controls.shape)}")
        if mode == "derivative":
            dys = _as_data("dys", dys, dtype)
            if dys is None:
                if T < 3:
                    raise ValueError("dys omitted: finite differences need at least 3 samples per trajectory")
                dys = torch.gradient(ys, spacing=(self.t,), dim=1)[0]
            if dys.shape != ys.shape:
                raise ValueError(f"dys must have the shape of ys {tuple(ys.shape)}, got {tuple(dys.shape)}")
            self.x, self.y = ys.reshape(-1, D), dys.reshape(-1, D)
            self.u = None if controls is None else controls.reshape(N * T, -1)
        else:
            if T < window:
                raise ValueError(f"window ({window}) is longer than the trajectories ({T} samples)")
            dt = self.t.diff()
            if T > 1 and not bool(torch.allclose(dt, dt[0].expand_as(dt), rtol=1e-9, atol=0)):
                raise ValueError("trajectory mode needs evenly spaced t")
            self.x = windows(ys, window)
            self.y = None
            self.u = None if controls is None else windows(controls, window)
            self.t_window = self.t[:window] - self.t[0]
        self.n = self.x.shape[0]


def _error(pred, target, loss):
    diff = pred - target
    return diff.abs().mean() if loss == "l1" else diff.square().mean()


def _loss(model, data: _Data, idx, mode, method, step_size, loss="mse"):
    if mode == "derivative":
        x = data.x[idx]
        pred = model(0.0, x) if data.u is None else model(0.0, x, data.u[idx])
        return _error(pred, data.y[idx], loss)
    chunk = data.x[idx]
    if data.u is None:
        pred = odeint(model, chunk[:, 0], data.t_window, method=method, step_size=step_size)  # (window, B, D)
        pred = pred.transpose(0, 1)
    else:
        y, states, u = chunk[:, 0], [], data.u[idx]
        for j in range(chunk.shape[1] - 1):
            span = data.t_window[j:j + 2]
            y = odeint(model.with_control(u[:, j]), y, span, method=method, step_size=step_size)[-1]
            states.append(y)
        pred = torch.stack([chunk[:, 0], *states], 1)
    return _error(pred[:, 1:], chunk[:, 1:], loss)


class _Objective(torch.nn.Module):
    """The loss of this rank's share of a minibatch, as one module call (for DistributedDataParallel), scaled
    so that the ranks' average is the loss of the whole minibatch."""

    def __init__(self, model, data, mode, method, step_size, loss, ctx):
        super().__init__()
        self.model = model
        self.__dict__.update(data=data, mode=mode, method=method, step_size=step_size, loss=loss, ctx=ctx)

    def forward(self, idx):
        mine = idx.tensor_split(self.ctx.world_size)[self.ctx.rank]
        if mine.numel() == 0:  # fewer samples than ranks: this rank adds nothing (but takes part)
            return sum(p.sum() for p in self.model.parameters()) * 0.0
        loss = _loss(self.model, self.data, mine, self.mode, self.method, self.step_size, self.loss)
        return loss * (mine.numel() * self.ctx.world_size / idx.numel())


def _config(mode, method, window, lr, weight_decay, batch_size, seed, step_size, loss, schedule, optimizer):
    config = dict(mode=mode, method=method, window=window, lr=lr, weight_decay=weight_decay,
                  batch_size=batch_size, seed=seed, step_size=step_size, loss=loss, schedule=schedule)
    if optimizer != "adam":  # checkpoints written before the choice existed hold Adam's config without the key
        config["optimizer"] = optimizer
    return config


def fit(model, t, ys, mode: str = "derivative", *, dys=None, controls=None, method: str = "rk4", window: int = 2,
        step_size: float | None = None, steps: int = 2000, lr: float = 1e-3, weight_decay: float = 0.0,
        batch_size: int | None = None, seed: int = 0, test=None, log_every: int | None = None,
        checkpoint=None, resume: bool = False, progress: bool = True, loss: str = "mse", schedule: str = "constant",
        optimizer: str = "adam", ctx=None) -> dict:
    """Train ``model`` on trajectories ``ys`` ``(N, T, 2 * dof)`` sampled at times ``t`` ``(T,)``.

    ``test``: an optional dict with ``ys`` (and ``dys``, ``controls``, ``t``) scored every ``log_every``
    steps with the same loss. Returns the history ``{"step", "train", "test", "seconds"}`` (lists; the
    train loss is the minibatch loss at each logged step; ``test`` empty without test data).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {tuple(OPTIMIZERS)}, got {optimizer!r}")
    if not weight_decay >= 0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an int >= 1, got {steps!r}")
    if mode == "trajectory" and (not isinstance(window, int) or window < 2):
        raise ValueError(f"window must be an int >= 2 samples, got {window!r}")
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr!r}")
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"batch_size must be None (full batch) or an int >= 1, got {batch_size!r}")
    if controls is not None and not hasattr(model, "with_control"):
        raise TypeError(f"controls were given but {type(model).__name__} takes no input; use a controlled model "
                        f"(e.g. ControlledHNN)")
    ctx = ctx or distributed.Context()
    dtype = next(model.parameters()).dtype
    data = _Data(model, t, ys, dys, controls, mode, window, dtype)
    test_data = None
    if test is not None:
        test_data = _Data(model, test.get("t", t), test["ys"], test.get("dys"), test.get("controls"), mode, window,
                          dtype)
    log_every = log_every or max(1, steps // 100)
    config = _config(mode, method, window, lr, weight_decay, batch_size, seed, step_size, loss, schedule, optimizer)
    opt = OPTIMIZERS[optimizer](model.parameters(), lr=lr, weight_decay=weight_decay)
    gen = torch.Generator().manual_seed(seed)
    history = {"step": [], "train": [], "test": [], "seconds": []}
    start, elapsed = 0, 0.0
    checkpoint = Path(checkpoint) if checkpoint is not None else None
    if resume:
        start, history, elapsed = fit_checkpoint.restore(checkpoint, config, model, opt, gen)
    t0 = time.perf_counter() - elapsed
    objective = distributed.wrap(ctx, _Objective(model, data, mode, method, step_size, loss, ctx))
    bar = tqdm(range(start, steps), initial=start, total=steps, desc=f"fit {type(model).__name__} ({mode})",
               disable=not (progress and ctx.is_main), mininterval=0.5)
    for step in bar:
        idx = torch.arange(data.n) if batch_size is None or batch_size >= data.n else \
            torch.randint(data.n, (batch_size,), generator=gen)
        value = objective(idx)
        where = distributed.failure(ctx, bool(torch.isfinite(value)))
        if where is not None:
            raise FloatingPointError(f"non-finite loss ({value.item()}) at step {step}{where}; "
                                     f"last checkpoint: {checkpoint if checkpoint is not None else 'none'}")
        if schedule == "cosine":
            for group in opt.param_groups:
                group["lr"] = lr * 0.5 * (1.0 + math.cos(math.pi * step / steps))
        opt.zero_grad()
        value.backward()
        opt.step()
        done = step + 1
        if done % log_every == 0 or done == steps:
            history["step"].append(done)
            history["train"].append(float(distributed.mean_over_ranks(ctx, value.detach())))
            if test_data is not None and ctx.is_main:
                with torch.no_grad():
                    history["test"].append(float(_loss(model, test_data, torch.arange(test_data.n), mode, method,
                                                       step_size, loss)))
            history["seconds"].append(time.perf_counter() - t0)
            bar.set_postfix(loss=f"{history['train'][-1]:.3e}")
            if checkpoint is not None and ctx.is_main:
                fit_checkpoint.save(checkpoint, model, opt, done, history, gen, config)
    return history

