"""The torch path: the same tableaus, grids and step control driving a torch callable.

``func(t, y)`` receives ``y`` of shape ``(W, D)`` (the flattened batch) and ``t``
of shape ``(W, 1)`` (each trajectory's own time, in ``y``'s dtype) and returns
``dy/dt`` of shape ``(W, D)``. Gradients flow to ``y0`` and to any parameters
``func`` closes over (an ``nn.Module``'s included) by ordinary autograd through
the replayed steps; ``checkpoint_segments`` bounds the memory with
``torch.utils.checkpoint``.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from diffsim.bridge import checkpointed_rollout
from diffsim.ode.grid import (
    DFACTOR,
    DONE,
    ERR_FLOOR,
    IFACTOR,
    MAX_STEPS,
    PI_ALPHA,
    PI_BETA,
    RUNNING,
    SAFETY,
    UNDERFLOW,
    Grid,
    raise_on_failure,
)
from diffsim.ode.tableaus import DOPRI5, Constrained, ExplicitRK, Partitioned


def _stages(func, tab: ExplicitRK, t, y, h):
    ks = []
    for i in range(tab.stages):
        yi = y
        for j, a in enumerate(tab.a[i]):
            if a != 0.0:
                yi = yi + (h * a) * ks[j]
        ks.append(func(t + tab.c[i] * h, yi))
    return ks


def _combine(y, h, weights, ks):
    acc = None
    for w, k in zip(weights, ks):
        if w != 0.0:
            acc = w * k if acc is None else acc + w * k
    return y + h * acc


def step(func, method, t, y, h):
    """One step of ``method`` from ``(t, y)`` with step ``h`` (``t``, ``h``: ``(W, 1)``)."""
    if isinstance(method, Constrained):
        return func.rattle(t, y, h, method.weights)
    if isinstance(method, Partitioned):
        half = y.shape[-1] // 2
        mq = torch.zeros_like(y)
        mq[..., :half] = 1.0
        mp = 1.0 - mq
        for kind, frac, tf in method.sequence:
            k = func(t + tf * h, y)
            y = y + (frac * h) * ((mp if kind == "kick" else mq) * k)
        return y
    return _combine(y, h, method.b, _stages(func, method, t, y, h))


def dense(func, t, y, h, theta):
    """Dormand-Prince order-4 continuous extension at ``t + theta*h`` (all ``(W, 1)`` but ``y``)."""
    ks = _stages(func, DOPRI5, t, y, h)
    y1 = _combine(y, h, DOPRI5.b, ks)
    r2 = y1 - y
    r3 = h * ks[0] - r2
    r4 = r2 - h * ks[6] - r3
    r5 = h * _combine(torch.zeros_like(y), 1.0, DOPRI5.d, ks)
    return y + theta * (r2 + (1.0 - theta) * (r3 + theta * (r4 + (1.0 - theta) * r5)))


def _rms(v, scale):
    return torch.sqrt(((v / scale) ** 2).mean(dim=-1))


@torch.no_grad()
def adaptive_grid(func, y0: torch.Tensor, t: np.ndarray, rtol: float, atol: float, max_steps: int) -> Grid:
    """Dormand-Prince with per-trajectory step size and accept/reject (float64 control logic)."""
    W, J = y0.shape[0], len(t)
    dev, dt = y0.device, y0.dtype
    f64 = dict(dtype=torch.float64, device=dev)
    i32 = dict(dtype=torch.int32, device=dev)
    t0, t_end = float(t[0]), float(t[-1])
    t_out = torch.tensor(t, **f64)

    def f(tt, yy):
        return func(tt.to(dt).unsqueeze(-1), yy)

    # Starting step (Hairer, Norsett & Wanner, II.4), per trajectory.
    tcur = torch.full((W,), t0, **f64)
    scale0 = atol + rtol * y0.abs().double()
    f0 = f(tcur, y0)
    d0, d1 = _rms(y0.double(), scale0), _rms(f0.double(), scale0)
    h0 = torch.where((d0 >= 1e-5) & (d1 >= 1e-5), 0.01 * d0 / d1, torch.full_like(d0, 1e-6))
    f1 = f(tcur + h0, y0 + h0.to(dt).unsqueeze(-1) * f0)
    d2 = _rms((f1 - f0).double(), scale0) / h0
    dm = torch.maximum(d1, d2)
    h1 = torch.where(dm > 1e-15, (0.01 / dm) ** 0.2, torch.maximum(torch.full_like(h0, 1e-6), h0 * 1e-3))
    hcur = torch.minimum(torch.minimum(100.0 * h0, h1), torch.full_like(h0, t_end - t0))

    y = y0.clone()
    status = torch.full((W,), DONE if t_end == t0 else RUNNING, **i32)
    n_acc, n_rej, next_out = (torch.zeros(W, **i32) for _ in range(3))
    err_prev, rejected = torch.full((W,), ERR_FLOOR, **f64), torch.zeros(W, dtype=torch.bool, device=dev)
    capacity = 256
    T, H = torch.zeros((capacity, W), **f64), torch.zeros((capacity, W), **f64)
    out_step, out_theta = torch.zeros((J, W), **i32), torch.zeros((J, W), **f64)
    rows = torch.arange(W, device=dev)
    jr = torch.arange(J, device=dev).unsqueeze(1)
    while bool((status == RUNNING).any()):
        run = status == RUNNING
        h_t = hcur.to(dt).unsqueeze(-1)
        ks = _stages(func, DOPRI5, tcur.to(dt).unsqueeze(-1), y, h_t)
        y1 = _combine(y, h_t, DOPRI5.b, ks)
        err = h_t * _combine(torch.zeros_like(y), 1.0, DOPRI5.e, ks)
        scale = atol + rtol * torch.maximum(y.abs(), y1.abs()).double()
        ratio = _rms(err.double(), scale)
        finite = torch.isfinite(ratio)
        # the controller of grid.py: proportional part, then per outcome
        factor = torch.where(ratio > 0, SAFETY * ratio.clamp_min(1e-300) ** -PI_ALPHA, torch.full_like(ratio, IFACTOR))
        factor = torch.where(finite, factor, torch.full_like(ratio, DFACTOR))
        accept = run & finite & (ratio <= 1.0)
        reject = run & ~accept
        on_accept = (factor * err_prev ** PI_BETA).clamp(DFACTOR, IFACTOR)
        on_accept = torch.where(rejected, on_accept.clamp_max(1.0), on_accept)
        factor = torch.where(accept, on_accept, factor.clamp(DFACTOR, 1.0))
        err_prev = torch.where(accept, ratio.clamp_min(ERR_FLOOR), err_prev)
        rejected = torch.where(run, reject, rejected)
        # record accepted steps
        if int(n_acc.max()) >= capacity:
            T, H = torch.cat([T, torch.zeros_like(T)]), torch.cat([H, torch.zeros_like(H)])
            capacity *= 2
        k = n_acc.long()
        T[k[accept], rows[accept]] = tcur[accept]
        H[k[accept], rows[accept]] = hcur[accept]
        t_new = torch.where(accept, tcur + hcur, tcur)
        t_new = torch.where(accept & ((t_new >= t_end) | (hcur >= t_end - tcur)), torch.full_like(t_new, t_end), t_new)
        jmask = accept.unsqueeze(0) & (jr >= next_out.unsqueeze(0)) & (t_out.unsqueeze(1) <= t_new.unsqueeze(0))
        out_step = torch.where(jmask, n_acc.unsqueeze(0), out_step)
        theta = ((t_out.unsqueeze(1) - tcur.unsqueeze(0)) / hcur.unsqueeze(0)).clamp(0.0, 1.0)
        out_theta = torch.where(jmask, theta, out_theta)
        next_out = next_out + jmask.sum(0).to(torch.int32)
        n_acc = n_acc + accept.to(torch.int32)
        n_rej = n_rej + reject.to(torch.int32)
        y = torch.where(accept.unsqueeze(-1), y1, y)
        tcur = t_new
        h_new = torch.minimum(hcur * factor, t_end - t_new)
        hcur = torch.where(run, h_new, hcur)
        done = accept & (t_new >= t_end)
        status = torch.where(done, torch.full_like(status, DONE), status)
        still = run & ~done
        status = torch.where(still & (t_new + h_new <= t_new), torch.full_like(status, UNDERFLOW), status)
        status = torch.where(still & (status == RUNNING) & (n_acc + n_rej >= max_steps),
                             torch.full_like(status, MAX_STEPS), status)
    raise_on_failure(status, tcur, n_acc, n_rej, max_steps)
    K = int(n_acc.max()) if W else 0
    return Grid(t_start=T[:K].contiguous(), h=H[:K].contiguous(), n_steps=n_acc, out_step=out_step,
                out_theta=out_theta, n_rejected=n_rej)


def integrate(func, method, grid: Grid, y0: torch.Tensor, checkpoint_segments: int | None) -> torch.Tensor:
    """Replay ``grid`` with autograd; returns outputs ``(J, W, D)``."""
    W = y0.shape[0]
    K = grid.num_steps
    dt = y0.dtype
    T, H = grid.t_start.to(dt), grid.h.to(dt)
    active = torch.arange(K, device=y0.device).unsqueeze(1) < grid.n_steps.unsqueeze(0)  # (K, Wg)

    def one_step(k, y):
        y1 = step(func, method, T[k].unsqueeze(-1).expand(W, 1), y, H[k].unsqueeze(-1).expand(W, 1))
        y1 = torch.where(active[k].unsqueeze(-1), y1, y)
        return y1, y1

    if checkpoint_segments and checkpoint_segments > 1 and K > 0:
        _, outs = checkpointed_rollout(one_step, (y0,), K, segment_length=math.ceil(K / checkpoint_segments))
        states = [y0] + [o[0] for o in outs]
    else:
        states, y = [y0], y0
        for k in range(K):
            y, _ = one_step(k, y)
            states.append(y)
    Y = torch.stack(states)  # (K+1, W, D)
    rows = torch.arange(W, device=y0.device)
    out_step = grid.out_step.long().expand(-1, W)
    ys = Y[out_step, rows.unsqueeze(0)]  # (J, W, D)
    if method is not DOPRI5:
        return ys
    theta_all = grid.out_theta.expand(-1, W)
    outs = []
    for j in range(out_step.shape[0]):
        theta = theta_all[j]
        if not bool((theta > 0).any()):
            outs.append(ys[j])
            continue
        s = out_step[j].clamp_max(max(K - 1, 0))
        g = rows if not grid.shared else torch.zeros_like(rows)
        tj, hj = T[s, g].unsqueeze(-1), H[s, g].unsqueeze(-1)
        yd = dense(func, tj, ys[j], hj, theta.to(dt).unsqueeze(-1))
        outs.append(torch.where((theta > 0).unsqueeze(-1), yd, ys[j]))
    return torch.stack(outs)
