"""``fit`` and ``predict``: one training loop and one inference call for every predictor.

    history = fit(model, past, future, exog=exog, steps=2000)     # windows from predictors.data.windows
    prediction, attention = predict(model, past, horizon=50, exog=exog)

``fit`` minimises the mean squared error of the whole predicted horizon in the model's scaled units (the
scale is set from the training windows on a fresh start), with Adam, minibatches drawn from ``seed``, gradients
clipped by global norm, a progress bar, ``test`` data scored every ``log_every`` steps, a checkpoint written
atomically at each log step and at the end (``resume=True`` continues from it, loaded with
``torch.load(weights_only=True)``, and may extend ``steps``), and a ``FloatingPointError`` naming the step and
the last checkpoint on a non-finite loss.
"""
from __future__ import annotations

import time
from pathlib import Path

import torch
from tqdm import tqdm

from controllers import fit_checkpoint


def _checked(model, past, future, exog, name):
    if not isinstance(future, torch.Tensor) or future.dim() != 3 or future.shape[0] != past.shape[0] \
            or future.shape[2] != model.input_dim:
        got = tuple(future.shape) if isinstance(future, torch.Tensor) else type(future).__name__
        raise ValueError(f"{name}future must be a tensor of shape ({past.shape[0]}, horizon, {model.input_dim}), "
                         f"got {got}")
    if not bool(torch.isfinite(future).all()):
        raise ValueError(f"{name}future must be finite (no NaN or inf)")
    model.check(past, future.shape[1], exog)


def _loss(model, past, future, exog):
    dtype = model.state_std.dtype
    pred, _ = model(past, future.shape[1], exog)
    return (((pred.to(dtype) - future.to(dtype)) / model.state_std) ** 2).mean()


def fit(model, past: torch.Tensor, future: torch.Tensor, exog: torch.Tensor | None = None, *, steps: int = 2000,
        lr: float = 1e-3, batch_size: int = 128, grad_clip: float = 1.0, seed: int = 0, test: dict | None = None,
        log_every: int | None = None, checkpoint=None, resume: bool = False, progress: bool = True) -> dict:
    """Train ``model`` to map ``past (N, T, D)`` (and ``exog (N, T + H, E)``) to ``future (N, H, D)``.

    ``test``: optional ``{"past", "future", "exog"}`` scored with the same loss. Returns the history
    ``{"step", "train", "test", "seconds"}`` (lists; ``train`` is the minibatch loss at each logged step)."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an int >= 1, got {steps!r}")
    if not lr > 0 or not grad_clip > 0:
        raise ValueError(f"lr and grad_clip must be > 0, got lr={lr!r}, grad_clip={grad_clip!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    _checked(model, past, future, exog, "")
    if test is not None:
        _checked(model, test["past"], test["future"], test.get("exog"), "test ")
    config = dict(lr=lr, batch_size=batch_size, grad_clip=grad_clip, seed=seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    history = {"step": [], "train": [], "test": [], "seconds": []}
    start, elapsed = 0, 0.0
    checkpoint = Path(checkpoint) if checkpoint is not None else None
    log_every = log_every or max(1, steps // 50)
    if resume:
        start, history, elapsed = fit_checkpoint.restore(checkpoint, config, model, opt, gen)
    else:
        model.set_scale(past, exog)
    n = past.shape[0]
    t0 = time.perf_counter() - elapsed
    model.train()
    bar = tqdm(range(start, steps), initial=start, total=steps, desc=f"fit {type(model).__name__}",
               disable=not progress, mininterval=0.5)
    for step in bar:
        idx = torch.randint(n, (min(batch_size, n),), generator=gen)
        loss = _loss(model, past[idx], future[idx], None if exog is None else exog[idx])
        if not torch.isfinite(loss):
            raise FloatingPointError(f"non-finite loss ({loss.item()}) at step {step}; "
                                     f"last checkpoint: {checkpoint if checkpoint is not None else 'none'}")
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        opt.step()
        done = step + 1
        if done % log_every == 0 or done == steps:
            history["step"].append(done)
            history["train"].append(float(loss.detach()))
            if test is not None:
                model.eval()
                with torch.no_grad():
                    history["test"].append(float(_loss(model, test["past"], test["future"], test.get("exog"))))
                model.train()
            history["seconds"].append(time.perf_counter() - t0)
            bar.set_postfix(loss=f"{history['train'][-1]:.3e}")
            if checkpoint is not None:
                fit_checkpoint.save(checkpoint, model, opt, done, history, gen, config)
    model.eval()
    return history


@torch.no_grad()
def predict(model, past: torch.Tensor, horizon: int, exog: torch.Tensor | None = None, batch_size: int = 1024):
    """``(prediction (N, horizon, D), attention)`` of the model in evaluation mode, in batches of ``batch_size``."""
    was = model.training
    model.eval()
    try:
        parts = [model(past[i:i + batch_size], horizon, None if exog is None else exog[i:i + batch_size])
                 for i in range(0, past.shape[0], batch_size)]
    finally:
        model.train(was)
    pred = torch.cat([p for p, _ in parts])
    attention = {k: torch.cat([a[k] for _, a in parts]) for k in parts[0][1]}
    return pred, attention
