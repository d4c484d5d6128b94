"""``rollout``: simulate T steps of every world, differentiably, like ``mujoco.rollout``.

    qpos_traj, qvel_traj = rollout(model, qpos, qvel, ctrl, integrator="rk4")

``qpos (W, nq)``, ``qvel (W, nv)``, ``ctrl (W, T, nu)`` in; ``(W, T+1, nq)`` and
``(W, T+1, nv)`` out, the initial state included. Units and signs are MuJoCo's for the
same MJCF. Controls are clamped to each actuator's ``ctrlrange`` as MuJoCo does.
Gradients flow to ``qpos``, ``qvel``, ``ctrl`` and every physical parameter tensor of
the model that requires grad (``model.body_mass``, ``model.dof_damping``, ...): the
whole rollout is one Warp computation on a ``wp.Tape`` (one launch per step, each
writing its own row; on the CPU, blocks of worlds run on all cores through
:func:`diffsim.parallel.launch_worlds`), bridged to torch by :func:`diffsim.bridge.warp_apply`;
``recompute=True`` keeps no tape and re-runs the rollout during backward.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import torch
import warp as wp

from diffsim import runtime
from diffsim.bridge import warp_apply
from diffsim.parallel import active_tape, launch_worlds, record_worlds
from diffsim.ode.tableaus import RK4
from diffsim.rigid import codegen
from diffsim.rigid.model import PARAM_NAMES, Model

INTEGRATORS = ("rk4", "euler")


@wp.kernel
def _copy_in(src: wp.array2d(dtype=Any), dst: wp.array3d(dtype=Any)):
    w, i = wp.tid()
    dst[0, w, i] = src[w, i]


def flat_params(model: Model) -> torch.Tensor:
    """All per-world physical parameters as one (W, P) tensor (differentiable, in the codegen layout)."""
    W = model.num_worlds
    return torch.cat([getattr(model, k).reshape(W, -1) for k in PARAM_NAMES], dim=1)


def _check(name, x, shape, dtype):
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if tuple(x.shape) != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {tuple(x.shape)}")
    if x.dtype != dtype:
        raise TypeError(f"{name} must be {dtype} like the other inputs, got {x.dtype}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} must be finite (no NaN or inf)")


def rollout(model: Model, qpos: torch.Tensor, qvel: torch.Tensor, ctrl: torch.Tensor, integrator: str = "rk4",
            timestep: float | None = None, recompute: bool = False):
    if integrator not in INTEGRATORS:
        raise ValueError(f"integrator must be one of {INTEGRATORS}, got {integrator!r}")
    W, nq, nv, nu = model.num_worlds, model.nq, model.nv, model.nu
    dtype = qpos.dtype if isinstance(qpos, torch.Tensor) else None
    if dtype not in runtime.SUPPORTED_DTYPES:
        raise TypeError(f"qpos must be a float32 or float64 tensor, got {dtype}")
    if ctrl.dim() != 3:
        raise ValueError(f"ctrl must have shape (W, T, nu) = ({W}, T, {nu}), got {tuple(ctrl.shape)}")
    T = ctrl.shape[1]
    _check("qpos", qpos, (W, nq), dtype)
    _check("qvel", qvel, (W, nv), dtype)
    _check("ctrl", ctrl, (W, T, nu), dtype)
    h = model.timestep if timestep is None else float(timestep)
    if not h > 0:
        raise ValueError(f"timestep must be > 0 (s), got {timestep!r}")
    dyn = codegen.load(model, "float64" if dtype == torch.float64 else "float32")
    S = runtime.warp_scalar(dtype)
    lo = [r[0] if r else -float("inf") for r in model.actuator_ctrlrange]
    hi = [r[1] if r else float("inf") for r in model.actuator_ctrlrange]
    u = ctrl
    if nu:
        u = torch.maximum(torch.minimum(ctrl, torch.tensor(hi, dtype=dtype, device=ctrl.device)),
                          torch.tensor(lo, dtype=dtype, device=ctrl.device))
        u = u.transpose(0, 1).contiguous()  # (T, W, nu)
    else:
        u = torch.zeros(T, W, 1, dtype=dtype, device=qpos.device)
    P = flat_params(model).to(dtype)
    kernel = dyn.step_rk4 if integrator == "rk4" else dyn.step_euler
    b = [S(x) for x in RK4.b]
    device = runtime.resolve_device(str(qpos.device))
    nder = codegen.num_derived(model)
    if not (torch.is_grad_enabled() and any(x.requires_grad for x in (qpos, qvel, u, P))):
        key = (codegen.topology(model), dtype, str(qpos.device), W, T, integrator, h)
        ws = _Workspace.get(key, lambda: _Workspace(dyn.derive, kernel, (W, T, nq, nv, nu, u.shape[2], P.shape[1], nder),
                                                    [S(h), *b], dtype, qpos.device, device))
        return ws.run(qpos, qvel, u, P)

    def fn(q0, qd0, U, Pw):
        grad = active_tape() is not None  # gradient buffers only when recording (Warp's are slow to allocate)
        Q = wp.empty((T + 1, W, nq), dtype=S, device=device, requires_grad=grad)
        QD = wp.empty((T + 1, W, nv), dtype=S, device=device, requires_grad=grad)
        wp.launch(_copy_in, (W, nq), inputs=[q0], outputs=[Q], device=device)
        wp.launch(_copy_in, (W, nv), inputs=[qd0], outputs=[QD], device=device)
        D = wp.empty((W, nder), dtype=S, device=device, requires_grad=grad)
        wp.launch(dyn.derive, W, inputs=[Pw], outputs=[D], device=device)
        launch_worlds([(kernel, [Q, QD, U, Pw, D, 1, nu, k, S(h), *b]) for k in range(T)], W, device)
        return Q, QD

    Q, QD = warp_apply(fn, qpos.contiguous(), qvel.contiguous(), u, P, recompute=recompute)
    return Q.permute(1, 0, 2), QD.permute(1, 0, 2)


class _Workspace:
    """Persistent buffers and recorded launches of forward-only rollouts of one shape.

    A rollout that nothing will differentiate needs no tape and no fresh arrays: the inputs are
    copied into these buffers and the recorded launches replayed, which takes a one-step call
    from ~300 to ~60 us on the CPU (Warp array allocation and argument packing dominated it).
    The last ``MAX_SHAPES`` shapes are kept; a lock serialises calls sharing one.
    """

    MAX_SHAPES = 4
    _cache: OrderedDict = OrderedDict()
    _cache_lock = threading.Lock()

    @classmethod
    def get(cls, key, make) -> "_Workspace":
        with cls._cache_lock:
            ws = cls._cache.pop(key, None) or make()
            cls._cache[key] = ws
            while len(cls._cache) > cls.MAX_SHAPES:
                cls._cache.popitem(last=False)
            return ws

    def __init__(self, derive, kernel, sizes, scalars, dtype, torch_device, device):
        W, T, nq, nv, nu, ncol, npar, nder = sizes
        self.lock = threading.Lock()
        self.Q, self.QD, self.U, self.P, self.D = (torch.empty(shape, dtype=dtype, device=torch_device) for shape in
                                                   ((T + 1, W, nq), (T + 1, W, nv), (T, W, ncol), (W, npar), (W, nder)))
        Q, QD, U, P, D = (wp.from_torch(t) for t in (self.Q, self.QD, self.U, self.P, self.D))
        self.device = device
        self.derive = wp.launch(derive, W, inputs=[P], outputs=[D], device=device, record_cmd=True)
        self.steps = record_worlds([(kernel, [Q, QD, U, P, D, 1, nu, k, *scalars]) for k in range(T)], W, device)

    def run(self, qpos, qvel, u, P):
        with self.lock, torch.no_grad(), runtime.torch_stream(qpos.device):
            self.Q[0].copy_(qpos)
            self.QD[0].copy_(qvel)
            self.U.copy_(u)
            self.P.copy_(P)
            self.derive.launch()
            self.steps()
            return self.Q.permute(1, 0, 2).clone(), self.QD.permute(1, 0, 2).clone()
