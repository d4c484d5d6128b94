"""``rollout``: simulate T steps of every world, differentiably, like ``mujoco.rollout``.

    qpos_traj, qvel_traj = rollout(model, qpos, qvel, ctrl, integrator="rk4")

``qpos (W, nq)``, ``qvel (W, nv)``, ``ctrl (W, T, nu)`` in; ``(W, T+1, nq)`` and
``(W, T+1, nv)`` out, the initial state included. Units and signs are MuJoCo's for the
same MJCF. Controls are clamped to each actuator's ``ctrlrange`` as MuJoCo does.
``integrator="rk4"`` is MuJoCo's RK4; ``"euler"`` is MuJoCo's Euler: semi-implicit (positions
advance with the new velocities) and implicit in joint damping, ``qvel' = qvel + h (M + h
diag(damping))^-1 f``, which keeps strongly damped joints stable at large steps. ``"implicit_contacts"`` is that
Euler step made linearly implicit in the plane contacts and joint limits as well (backward Euler linearised
about the current state; in both structures, generated code and loops):
``qvel' = qvel + h (M + h D + h B + h^2 K)^-1 f(q + h qvel)`` with ``B``, ``K`` the contacts' and limits'
damping and stiffness mapped through their Jacobians (symmetric: the friction's dependence on the normal force is
left out) and ``f(q + h qvel)`` their forces extrapolated to the step's end to first order; its rest states are
the explicit steps', and stiff contacts stay stable at steps several times larger. Contacts between two bodies
(``geom_pairs``) stay explicit.
Gradients flow to ``qpos``, ``qvel``, ``ctrl`` and every physical parameter tensor of
the model that requires grad (``model.body_mass``, ``model.dof_damping``, ...).

How it runs: a call that no gradient can reach (grad mode off, or no input and no model parameter
requiring grad) uses the model's dynamics module compiled without adjoint kernels, which compiles in about a
quarter of the time; one that needs gradients uses the full module. Each call runs in a :class:`_Workspace`
of its shape (topology, module, dtype, device, worlds, steps, integrator, timestep): persistent trajectory
and parameter buffers, one recorded Warp launch per step (on the CPU, blocks of worlds on all cores through
:mod:`diffsim.parallel`) and, once a gradient is asked for, the recorded adjoint launches in reverse. A call copies its
inputs in and replays the launches; the backward replays the adjoints (Warp's generated adjoint
of each step kernel). Workspaces are pooled per shape: a call takes one whose last call's graph
is gone, or a new one while the pools stay within ``_Workspace.MAX_CACHED_BYTES``; past that it
reuses the least recently used one, and the backward of the call it displaced first re-runs that
call's forward from its saved inputs (checkpointing, in effect). A rollout larger than
``_Workspace.MAX_WORKSPACE_BYTES`` gets a workspace of its own that lives only as long as its
outputs' graph, so nothing big is held after use.
"""
from __future__ import annotations

import threading
import weakref
from collections import OrderedDict

import torch
import warp as wp

from diffsim import runtime
from diffsim.ode.tableaus import RK4
from diffsim.parallel import record_worlds
from diffsim.rigid import codegen, loops
from diffsim.rigid.model import PARAM_NAMES, Model

INTEGRATORS = ("rk4", "euler", "implicit_contacts")


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
    """See the module docstring. ``timestep`` (s) overrides the model's. ``recompute`` is accepted for
    compatibility and changes nothing: a call keeps only its inputs for the backward (its trajectory
    lives in a pooled workspace and is recomputed if the workspace was reused meanwhile)."""
    if integrator not in INTEGRATORS:
        raise ValueError(f"integrator must be one of {INTEGRATORS}, got {integrator!r}")
    W, nq, nv, nu = model.num_worlds, model.nq, model.nv, model.nu
    dtype = qpos.dtype if isinstance(qpos, torch.Tensor) else None
    if dtype not in runtime.SUPPORTED_DTYPES:
        raise TypeError(f"qpos must be a float32 or float64 tensor, got {dtype}")
    if not isinstance(ctrl, torch.Tensor) or ctrl.dim() != 3:
        got = tuple(ctrl.shape) if isinstance(ctrl, torch.Tensor) else type(ctrl).__name__
        raise ValueError(f"ctrl must be a tensor of shape (W, T, nu) = ({W}, T, {nu}), got {got}")
    T = ctrl.shape[1]
    _check("qpos", qpos, (W, nq), dtype)
    _check("qvel", qvel, (W, nv), dtype)
    _check("ctrl", ctrl, (W, T, nu), dtype)
    h = model.timestep if timestep is None else float(timestep)
    if not h > 0:
        raise ValueError(f"timestep must be > 0 (s), got {timestep!r}")
    model.check_params()
    topo = codegen.topology(model)
    P = flat_params(model).to(dtype)
    grad = torch.is_grad_enabled() and any(x.requires_grad for x in (qpos, qvel, ctrl, P))
    scalar = "float64" if dtype == torch.float64 else "float32"
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
    if loops.use_loops(model, topo):
        dyn, program = loops.module(scalar, model.friction_smoothing), loops.program(model, topo)
    else:
        part = "dynamics_implicit" if integrator == "implicit_contacts" else "dynamics"
        dyn, program = codegen.load_for_call(model, scalar, topo, part, grad), None
    key = (topo, dtype, str(qpos.device), W, T, integrator, h, dyn.__name__)

    def make():
        # the generated implicit module's Euler step is the linearly implicit one; the loops have a kernel of its own
        kernel = (dyn.step_rk4 if integrator == "rk4" else
                  dyn.step_implicit if integrator == "implicit_contacts" and program is not None else dyn.step_euler)
        scalars = [S(h), *(S(x) for x in RK4.b)]
        return _Workspace(dyn, kernel, (W, T, nq, nv, nu, u.shape[2], P.shape[1], codegen.num_derived(model)),
                          scalars, dtype, qpos.device, program)

    nbytes = qpos.element_size() * (W * (T + 1) * (nq + nv) + u.numel() + P.numel()
                                    + (4 * W * program.nx if program is not None else 0))  # X: 4 stages
    Q, QD = _Rollout.apply(_Workspace.get(key, make, nbytes), qpos, qvel, u, P)
    return Q.permute(1, 0, 2), QD.permute(1, 0, 2)


class _Token:
    """Identifies one rollout call; weakly referenced by the workspace that holds its trajectory."""

    __slots__ = ("__weakref__",)


class _Rollout(torch.autograd.Function):
    @staticmethod
    def forward(ctx, ws, qpos, qvel, u, P):
        inputs = tuple(t.detach() for t in (qpos, qvel, u, P))
        ctx.ws, ctx.token = ws, _Token()
        ctx.save_for_backward(*inputs)
        with ws.lock:
            ws.forward(inputs, ctx.token)
            return ws.Q.clone(), ws.QD.clone()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, gQ, gQD):
        ws = ctx.ws
        with ws.lock:
            grads = ws.backward(ctx.saved_tensors, ctx.token, gQ, gQD)
        return (None, *(g if need else None for g, need in zip(grads, ctx.needs_input_grad[1:])))


class _Workspace:
    """Persistent buffers and recorded launches (forward, and adjoint once needed) of rollouts of one shape.

    Reusing them spares each call Warp's array allocation (slow for arrays with gradients) and
    argument packing, which dominated short rollouts (one env step, ``rigid.step``). ``holds`` weakly
    references the token of the call whose trajectory the buffers hold: once that call's graph is
    gone (or it had none) the workspace is free. Pools per shape, least recently used first, within
    ``MAX_CACHED_BYTES`` in all (gradient buffers counted); a lock serialises the calls sharing one.
    """

    MAX_WORKSPACE_BYTES = 64 * 2 ** 20
    MAX_CACHED_BYTES = 256 * 2 ** 20
    _cache: OrderedDict = OrderedDict()  # key -> [workspace, ...], least recently used first
    _cache_lock = threading.Lock()

    @classmethod
    def cached_bytes(cls) -> int:
        return sum(ws.nbytes for pool in cls._cache.values() for ws in pool)

    @classmethod
    def get(cls, key, make, nbytes: int) -> "_Workspace":
        """A free workspace of ``key`` from its pool, a new one, or (pools full) the least recently used one."""
        if nbytes > cls.MAX_WORKSPACE_BYTES:
            return make()
        with cls._cache_lock:
            pool = cls._cache.pop(key, [])
            ws = next((w for w in pool if w.free()), None)
            if ws is not None:
                pool.remove(ws)
            else:
                need = sum(w.nbytes for w in pool) + 2 * nbytes
                while cls._cache and cls.cached_bytes() + need > cls.MAX_CACHED_BYTES:
                    cls._cache.popitem(last=False)  # other shapes, least recently used first
                if pool and need > cls.MAX_CACHED_BYTES:
                    ws = pool.pop(0)  # every workspace of this shape is held: the oldest call will recompute
                else:
                    ws = make()
            pool.append(ws)
            cls._cache[key] = pool
            return ws

    def __init__(self, dyn, kernel, sizes, scalars, dtype, torch_device, program=None):
        """``dyn``: the generated module of the model, or the loops module with the model's ``program``
        (:class:`diffsim.rigid.loops.Program`), whose steps also take its arrays and a scratch array."""
        W, T, nq, nv, nu, ncol, npar, nder = sizes
        self.lock = threading.Lock()
        self.holds = None  # weak reference to the token of the call whose trajectory the buffers hold
        shapes = dict(Q=(T + 1, W, nq), QD=(T + 1, W, nv), U=(T, W, ncol), P=(W, npar), D=(W, nder))
        if program is not None:
            shapes["X"] = (4, W, program.nx)
        self.bufs = {k: torch.zeros(v, dtype=dtype, device=torch_device) for k, v in shapes.items()}
        self.nbytes = 2 * sum(t.numel() * t.element_size() for t in self.bufs.values())  # with their gradients
        self.Q, self.QD = self.bufs["Q"], self.bufs["QD"]
        self.device = runtime.resolve_device(str(torch_device))
        self.W, self.derive_kernel = W, dyn.derive
        if program is None:
            self.derive_extra = []
            self.launches = lambda A: [(kernel, [A["Q"], A["QD"], A["U"], A["P"], A["D"], 1, nu, k, *scalars])
                                       for k in range(T)]
        else:
            Tarr, Carr, Oarr = program.arrays(dtype, self.device)
            self.derive_extra = [Tarr, program.quat_offset, program.axis_offset]

            # every step re-uses the scratch X: its forward rewrites it, and the adjoint of the step recomputes it
            # (Warp replays the functions a kernel calls) and clears its gradient (the adjoint of each store)
            self.launches = lambda A: [(kernel, [A["Q"], A["QD"], A["U"], A["P"], A["D"], Tarr, Carr, Oarr, A["X"],
                                                 1, nu, k, *scalars]) for k in range(T)]
        A = {k: wp.from_torch(t) for k, t in self.bufs.items()}
        self.derive = wp.launch(self.derive_kernel, W, inputs=[A["P"], A["D"], *self.derive_extra],
                                device=self.device, record_cmd=True)
        self.steps = record_worlds(self.launches(A), W, self.device)
        self.grads = None  # gradient buffers and the recorded adjoints, made on the first backward

    def forward(self, inputs, token) -> None:
        qpos, qvel, u, P = inputs
        with torch.no_grad(), runtime.torch_stream(qpos.device):
            self.Q[0].copy_(qpos)
            self.QD[0].copy_(qvel)
            self.bufs["U"].copy_(u)
            self.bufs["P"].copy_(P)
            self.derive.launch()
            self.steps()
        self.holds = weakref.ref(token)

    def free(self) -> bool:
        """Whether no live graph needs this workspace's trajectory."""
        return self.holds is None or self.holds() is None

    def _record_adjoints(self) -> None:
        self.grads = {k: torch.zeros_like(t) for k, t in self.bufs.items()}
        A = {k: wp.from_torch(t, requires_grad=True, grad=wp.from_torch(self.grads[k])) for k, t in self.bufs.items()}
        self.adjoint_steps = record_worlds(self.launches(A), self.W, self.device, adjoint=True)
        extra = self.derive_extra
        self.adjoint_derive = wp.launch(self.derive_kernel, self.W, inputs=[A["P"], A["D"], *extra],
                                        adj_inputs=[A["P"].grad, A["D"].grad, *(None for _ in extra)], adjoint=True,
                                        device=self.device, record_cmd=True)

    def backward(self, inputs, token, gQ, gQD):
        """Gradients w.r.t. ``(qpos, qvel, u, P)`` given those of the trajectories."""
        if self.free() or self.holds() is not token:  # another call used the buffers since: re-run this one
            self.forward(inputs, token)
        if self.grads is None:
            self._record_adjoints()
        G = self.grads
        with torch.no_grad(), runtime.torch_stream(inputs[0].device):
            for name, g in G.items():  # the trajectories' take the incoming gradients, the rest start at zero
                incoming = {"Q": gQ, "QD": gQD}.get(name)
                if incoming is None:
                    g.zero_()
                else:
                    g.copy_(incoming)
            self.adjoint_steps()
            self.adjoint_derive.launch()
            return G["Q"][0].clone(), G["QD"][0].clone(), G["U"].clone(), G["P"].clone()
