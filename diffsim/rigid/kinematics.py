"""Body poses and velocities of a :class:`~diffsim.rigid.model.Model` at given states, and MuJoCo's
``body_invweight0``.

``body_kinematics(model, qpos, qvel)`` runs the generated ``kinematics`` kernel (the forward kinematics
code the dynamics use, in a module of its own, compiled without adjoints unless a gradient is needed) and
returns, per world and body, in the world frame: the body frame's origin ``xpos`` (W, nbody, 3, m) and
rotation ``xmat`` (W, nbody, 3, 3), the centre of mass ``xipos`` (W, nbody, 3, m), the angular velocity
``angvel`` (W, nbody, 3, rad/s), the COM's linear velocity ``linvel`` (W, nbody, 3, m/s); with
``contacts=True`` also the total force ``contact_force`` (W, nbody, 3, N) the body's contacts exert on it and
its torque about the world origin ``contact_torque`` (W, nbody, 3, N m) (:func:`contact_wrench` turns these two
into MuJoCo's ``cfrc_ext`` layout); and each dof's joint-limit force ``limit_force`` (W, nv; N or N m, zero
where unlimited; MuJoCo's ``qfrc_constraint`` of a model whose only constraints are limits). Differentiable
w.r.t. the states and the model's parameters. Bodies are the model's (``model.body_names``), the massless joint
frames of multi-joint MJCF bodies included.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
import warp as wp

from diffsim import runtime
from diffsim.bridge import warp_apply
from diffsim.rigid import codegen, loops
from diffsim.rigid.model import PARAM_NAMES, Model
from diffsim.rigid.rollout import _check, flat_params


@dataclass
class BodyKinematics:
    xpos: torch.Tensor
    xmat: torch.Tensor
    xipos: torch.Tensor
    angvel: torch.Tensor
    linvel: torch.Tensor
    contact_force: torch.Tensor | None
    contact_torque: torch.Tensor | None
    limit_force: torch.Tensor


def body_kinematics(model: Model, qpos: torch.Tensor, qvel: torch.Tensor | None = None,
                    contacts: bool = False) -> BodyKinematics:
    """See the module docstring. ``qpos`` (W, nq) and ``qvel`` (W, nv, zero if None) of one dtype. ``contacts``:
    also evaluate every contact (``contact_force``, ``contact_torque``; ``None`` otherwise) -- its own compiled
    module, large for models with many geom pairs (Humanoid)."""
    W, nb = model.num_worlds, model.nbody
    dtype = qpos.dtype if isinstance(qpos, torch.Tensor) else None
    if dtype not in runtime.SUPPORTED_DTYPES:
        raise TypeError(f"qpos must be a float32 or float64 tensor, got {dtype}")
    qvel = torch.zeros(W, model.nv, dtype=dtype, device=qpos.device) if qvel is None else qvel
    _check("qpos", qpos, (W, model.nq), dtype)
    _check("qvel", qvel, (W, model.nv), dtype)
    model.check_params()
    grad = torch.is_grad_enabled() and (qpos.requires_grad or qvel.requires_grad or any(
        getattr(model, name).requires_grad for name in PARAM_NAMES))
    device = runtime.resolve_device(str(qpos.device))
    nder = codegen.num_derived(model)
    scalar = "float64" if dtype == torch.float64 else "float32"
    topo = codegen.topology(model)
    if loops.use_loops(model, topo):  # the one module of every model, with the model's arrays and a scratch row
        mod, program = loops.module(scalar, model.friction_smoothing), loops.program(model, topo)
        Tarr, Carr, _ = program.arrays(dtype, device)
        derive_extra = [Tarr, program.quat_offset, program.axis_offset]

        def extra(P):
            scratch = wp.zeros((1, W, program.nx), dtype=P.dtype, device=device, requires_grad=True)
            return [Tarr, Carr, scratch, int(contacts)]
    else:
        mod = codegen.load_for_call(model, scalar, topo, "kinematics_contacts" if contacts else "kinematics", grad)
        derive_extra = []

        def extra(P):
            return []

    def fn(q, qd, P):
        D = wp.zeros((W, nder), dtype=P.dtype, device=device, requires_grad=True)
        X = wp.zeros((W, nb, codegen.BODY_KINEMATICS), dtype=P.dtype, device=device, requires_grad=True)
        L = wp.zeros((W, model.nv), dtype=P.dtype, device=device, requires_grad=True)
        wp.launch(mod.derive, W, inputs=[P, D, *derive_extra], device=device)
        wp.launch(mod.kinematics, W, inputs=[q, qd, P, D, *extra(P), X, L], device=device)
        return X, L

    P = flat_params(model).to(dtype).expand(W, -1)
    X, L = warp_apply(fn, qpos, qvel, P)
    return BodyKinematics(X[..., 0:3], X[..., 3:12].reshape(W, nb, 3, 3), X[..., 12:15], X[..., 15:18], X[..., 18:21],
                          X[..., 21:24] if contacts else None, X[..., 24:27] if contacts else None, L)


def site_xpos(model: Model, kin: BodyKinematics, name: str) -> torch.Tensor:
    """World position ``(W, 3)`` (m) of the named site (MuJoCo's ``site_xpos``) from ``kin`` of ``model``."""
    site = next((s for s in model.sites if s[0] == name), None)
    if site is None:
        raise ValueError(f"name must be one of the model's sites {[s[0] for s in model.sites]}, got {name!r}")
    _, body, pos, _ = site
    local = torch.tensor(pos, dtype=kin.xpos.dtype, device=kin.xpos.device)
    return kin.xpos[:, body] + kin.xmat[:, body] @ local


@functools.lru_cache(maxsize=64)
def _same_tree(body_parent: tuple) -> torch.Tensor:
    """``(nb, nb)`` bool: whether two bodies hang from the same root body."""
    roots = []
    for b in range(len(body_parent)):
        r = b
        while body_parent[r] >= 0:
            r = body_parent[r]
        roots.append(r)
    return torch.tensor([[ra == rb for rb in roots] for ra in roots])


def contact_wrench(model: Model, kin: BodyKinematics) -> torch.Tensor:
    """MuJoCo's ``cfrc_ext`` layout for this engine's contacts: per world and body ``(W, nbody, 6)``, the torque
    (N m) and force (N) the body's contacts exert on it, world axes, the torque taken about the centre of mass of
    the body's whole tree (the subtree of its root body; MuJoCo's com-based frame). ``kin`` from
    ``body_kinematics(..., contacts=True)``."""
    if kin.contact_force is None:
        raise ValueError("kin must come from body_kinematics(..., contacts=True)")
    torque = kin.contact_torque - torch.linalg.cross(_tree_com(model, kin), kin.contact_force, dim=-1)
    return torch.cat([torque, kin.contact_force], dim=-1)


def _tree_com(model: Model, kin: BodyKinematics) -> torch.Tensor:
    """Per world and body ``(W, nbody, 3)``: the centre of mass of the body's whole tree (MuJoCo's
    ``subtree_com`` of its root body)."""
    same_tree = _same_tree(model.body_parent).to(kin.xipos.dtype).to(kin.xipos.device)  # (nb, nb)
    mass = model.body_mass.to(kin.xipos.dtype).expand(kin.xipos.shape[0], -1)  # (W, nb)
    tree_mass = mass @ same_tree.T  # (W, nb): the mass of body b's tree
    return torch.einsum("ab,wb,wbk->wak", same_tree, mass, kin.xipos) / tree_mass.unsqueeze(-1)


def com_inertia(model: Model, kin: BodyKinematics) -> torch.Tensor:
    """MuJoCo's ``cinert``: per world and body ``(W, nbody, 10)``, the body's inertia about the centre of mass of
    its tree (kg m^2; xx, yy, zz, xy, xz, yz, world axes), its mass times its COM's offset from that point
    (kg m) and its mass (kg). ``kin`` from :func:`body_kinematics`."""
    W, nb = kin.xipos.shape[:2]
    dif = kin.xipos - _tree_com(model, kin)
    mass = model.body_mass.to(dif.dtype).expand(W, nb)
    inertia = kin.xmat @ model.body_inertia.to(dif.dtype).expand(W, nb, 3, 3) @ kin.xmat.transpose(-1, -2)
    eye = torch.eye(3, dtype=dif.dtype, device=dif.device)
    inertia = inertia + mass[..., None, None] * ((dif * dif).sum(-1)[..., None, None] * eye
                                                  - dif.unsqueeze(-1) * dif.unsqueeze(-2))
    upper = torch.stack([inertia[..., 0, 0], inertia[..., 1, 1], inertia[..., 2, 2], inertia[..., 0, 1],
                         inertia[..., 0, 2], inertia[..., 1, 2]], dim=-1)
    return torch.cat([upper, mass.unsqueeze(-1) * dif, mass.unsqueeze(-1)], dim=-1)


def com_velocity(model: Model, kin: BodyKinematics) -> torch.Tensor:
    """MuJoCo's ``cvel``: per world and body ``(W, nbody, 6)``, the body's angular velocity (rad/s) and the
    velocity (m/s) of its point at the centre of mass of its tree, world axes. ``kin`` from
    :func:`body_kinematics` (with ``qvel``)."""
    at = kin.linvel + torch.linalg.cross(kin.angvel, _tree_com(model, kin) - kin.xipos, dim=-1)
    return torch.cat([kin.angvel, at], dim=-1)


def jacobians(model: Model, qpos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(Jv, Jw, xmat)`` at ``qpos``: the Jacobians (W, nbody, 3, nv) of each body's COM velocity and angular
    velocity (world frame) w.r.t. qvel, and the body rotations (W, nbody, 3, 3). Velocities are linear in
    qvel, so column i is :func:`body_kinematics` at qvel = e_i."""
    W, nv = model.num_worlds, model.nv
    columns = []
    for i in range(nv):
        e = torch.zeros(W, nv, dtype=qpos.dtype, device=qpos.device)
        e[:, i] = 1.0
        columns.append(body_kinematics(model, qpos, e))
    Jv = torch.stack([k.linvel for k in columns], dim=-1)
    Jw = torch.stack([k.angvel for k in columns], dim=-1)
    return Jv, Jw, columns[0].xmat


def mass_matrix(model: Model, qpos: torch.Tensor, jac: tuple | None = None) -> torch.Tensor:
    """The joint-space inertia matrix (W, nv, nv) at ``qpos``, armature included:
    ``sum_b m_b Jv_b^T Jv_b + Jw_b^T R_b I_b R_b^T Jw_b`` (``jac``: :func:`jacobians` at ``qpos`` if known)."""
    W, nv, nb = model.num_worlds, model.nv, model.nbody
    Jv, Jw, R = jacobians(model, qpos) if jac is None else jac
    inertia = R @ model.body_inertia.to(qpos.dtype).expand(W, nb, 3, 3) @ R.transpose(-1, -2)
    mass = model.body_mass.to(qpos.dtype).expand(W, nb)
    M = torch.einsum("wb,wbki,wbkj->wij", mass, Jv, Jv) + torch.einsum("wbki,wbkl,wblj->wij", Jw, inertia, Jw)
    return M + torch.diag_embed(model.dof_armature.to(qpos.dtype).expand(W, nv))


def body_invweight0(model: Model, qpos: torch.Tensor, jac: tuple | None = None,
                    minv: torch.Tensor | None = None) -> torch.Tensor:
    """MuJoCo's ``body_invweight0`` at ``qpos`` (usually qpos0), shape (W, nbody, 2): per body, the mean
    diagonal of ``J M^-1 J^T`` for the translation of its COM (1/kg) and for its rotation (1/(kg m^2)), with
    MuJoCo's special cases: zero for a body no dof moves; ``(1/mass, 0)`` for a body on the world moved only
    by slide joints and carrying no other body; one of the two taken for the other where it is zero.
    ``jac`` (:func:`jacobians`) and ``minv`` (the inverse of :func:`mass_matrix`) at ``qpos``, if known."""
    jac = jacobians(model, qpos) if jac is None else jac
    Jv, Jw, _ = jac
    Minv = (torch.linalg.inv(mass_matrix(model, qpos, jac)) if minv is None else minv).unsqueeze(1)
    tran = torch.einsum("wbki,wbij,wbkj->wb", Jv, Minv, Jv) / 3
    rot = torch.einsum("wbki,wbij,wbkj->wb", Jw, Minv, Jw) / 3
    tran, rot = torch.where((tran < MIN_VAL) & (rot > MIN_VAL), rot, tran), torch.where(
        (rot < MIN_VAL) & (tran > MIN_VAL), tran, rot)
    frames = model.body_frame or (False,) * model.nbody
    parent = model.body_parent
    for b in range(model.nbody):
        chain, p = [b], parent[b]  # b and the joint frames above it (one MJCF body)
        while p >= 0 and frames[p]:
            chain.append(p)
            p = parent[p]
        childless = not any(parent[c] == b for c in range(model.nbody))
        if not frames[b] and p < 0 and childless and all(model.joint_type[c] == codegen.SLIDE for c in chain):
            tran[:, b] = 1.0 / model.body_mass[:, b].to(tran.dtype).clamp(min=MIN_VAL)
            rot[:, b] = 0.0
    return torch.stack([tran, rot], dim=-1)


MIN_VAL = 1e-15  # MuJoCo's mjMINVAL


def tendon_state(model: Model, qpos: torch.Tensor, qvel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Length (W, ntendon; m or rad) and its rate of every fixed tendon (``model.tendons``): MuJoCo's
    ``ten_length = sum coef q`` and ``ten_velocity = sum coef qvel`` (differentiable)."""
    W = qpos.shape[0]
    if not model.tendons:
        empty = qpos.new_zeros(W, 0)
        return empty, empty
    length = torch.stack([sum(c * qpos[:, a] for a, _, c in joints) for _, joints in model.tendons], dim=1)
    velocity = torch.stack([sum(c * qvel[:, d] for _, d, c in joints) for _, joints in model.tendons], dim=1)
    return length, velocity
