"""``Model``: the constants of a multibody system, replicated over ``num_worlds`` worlds.

Topology (parents, joint types, qpos/qvel addresses) is shared by all worlds and
fixed at build time. Physical parameters are torch tensors with a leading world
axis, so every world can differ (domain randomisation) and any of them may require
grad (system identification):

=====================  ====================  ====================================================
name                   shape                 meaning (units, frame)
=====================  ====================  ====================================================
``body_pos``           (W, nb, 3)            body origin in the parent frame (m)
``body_quat``          (W, nb, 4)            body orientation in the parent frame (w x y z)
``body_mass``          (W, nb)               mass (kg)
``body_ipos``          (W, nb, 3)            centre of mass in the body frame (m)
``body_inertia``       (W, nb, 3, 3)         inertia about the COM in the body frame (kg m^2)
``joint_pos``          (W, nb, 3)            joint anchor in the body frame (m)
``joint_axis``         (W, nb, 3)            joint axis in the body frame (unit)
``dof_damping``        (W, nv)               viscous damping (N m s/rad or N s/m)
``dof_armature``       (W, nv)               armature inertia added to the mass matrix diagonal
``actuator_gear``      (W, nu, 6)            per unit control: joint motors use [0] (N m or N);
                                             site motors a force and a torque in the site frame
``gravity``            (W, 3)                gravity (m/s^2), world frame (z up in MJCF)
``geom_contact``       (W, ng, 3)            per body geom: friction coefficient, contact stiffness
                                             (N/m), contact damping (N s/m)
``dof_range``          (W, nv, 2)            soft joint limits (rad or m); used for limited dofs only
=====================  ====================  ====================================================

Geometry (``geoms``: body, type, size, pose in the body frame) and the world planes
(``planes``: unit normal, offset) are topology: fixed at build time.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from diffsim import runtime
from diffsim.rigid.builder import JOINT_DOFS, JOINT_TYPES, ModelBuilder, quat_to_mat

PARAM_NAMES = ("body_pos", "body_quat", "body_mass", "body_ipos", "body_inertia", "joint_pos", "joint_axis",
               "dof_damping", "dof_armature", "actuator_gear", "gravity", "geom_contact", "dof_range")


@dataclass
class Model:
    num_worlds: int
    timestep: float
    body_names: tuple
    body_parent: tuple  # -1 = world
    joint_type: tuple  # per body: index into JOINT_TYPES, or -1 for a welded body
    qpos_adr: tuple
    dof_adr: tuple
    nq: int
    nv: int
    actuator_dof: tuple  # dof of a joint motor, -1 for a site motor
    actuator_site: tuple  # (body, pos, quat) of a site motor, None for a joint motor
    actuator_ctrlrange: tuple
    body_pos: torch.Tensor
    body_quat: torch.Tensor
    body_mass: torch.Tensor
    body_ipos: torch.Tensor
    body_inertia: torch.Tensor
    joint_pos: torch.Tensor
    joint_axis: torch.Tensor
    dof_damping: torch.Tensor
    dof_armature: torch.Tensor
    actuator_gear: torch.Tensor
    gravity: torch.Tensor
    geom_contact: torch.Tensor
    dof_range: torch.Tensor
    dof_limited: tuple = ()  # per dof: True where a soft limit applies
    geoms: tuple = ()  # (body, type, size tuple, pos tuple, quat tuple)
    planes: tuple = ()  # (normal tuple, offset): the half-space n.x >= offset is free
    device: str = "cpu"

    @property
    def nbody(self) -> int:
        return len(self.body_parent)

    @property
    def nu(self) -> int:
        return len(self.actuator_dof)

    @classmethod
    def from_builder(cls, b: ModelBuilder, num_worlds: int = 1, device: str | None = None, dtype=None) -> "Model":
        if not isinstance(num_worlds, int) or num_worlds < 1:
            raise ValueError(f"num_worlds must be an int >= 1, got {num_worlds!r}")
        dev = runtime.resolve_device(device)
        dtype = dtype or runtime.DEFAULT_DTYPE
        nb = len(b.bodies)
        jtype, qadr, dadr = [], [], []
        nq = nv = 0
        jpos, jaxis, damping, armature, joint_dof, ranges, limited = [], [], [], [], {}, [], []
        for body in b.bodies:
            if body.joints:
                j = body.joints[0]
                jtype.append(JOINT_TYPES.index(j.type))
                qadr.append(nq)
                dadr.append(nv)
                joint_dof[j.name] = nv
                jq, jv = JOINT_DOFS[j.type]
                nq, nv = nq + jq, nv + jv
                jpos.append(j.pos)
                jaxis.append(j.axis)
                damping += [j.damping] * jv
                armature += [j.armature] * jv
                ranges += [j.range or (0.0, 0.0)] * jv
                limited += [j.range is not None] * jv
            else:
                jtype.append(-1)
                qadr.append(-1)
                dadr.append(-1)
                jpos.append(np.zeros(3))
                jaxis.append(np.array([0.0, 0.0, 1.0]))
        inert = [b.body_inertia(body) for body in b.bodies]
        geoms = [(i, g) for i, body in enumerate(b.bodies) for g in body.geoms if g.type != "plane"]
        planes = []
        for g in b.world_geoms:
            n = quat_to_mat(g.quat) @ np.array([0.0, 0.0, 1.0])
            planes.append((tuple(n), float(n @ g.pos)))

        def rep(x, shape):
            t = torch.as_tensor(np.asarray(x, dtype=np.float64).reshape(shape), dtype=dtype, device=dev)
            return t.unsqueeze(0).repeat(num_worlds, *([1] * len(shape))).contiguous()

        return cls(
            num_worlds=num_worlds, timestep=b.timestep,
            body_names=tuple(body.name for body in b.bodies), body_parent=tuple(body.parent for body in b.bodies),
            joint_type=tuple(jtype), qpos_adr=tuple(qadr), dof_adr=tuple(dadr), nq=nq, nv=nv,
            actuator_dof=tuple(joint_dof[a.joint] if a.joint else -1 for a in b.actuators),
            actuator_site=tuple(None if a.site is None else (b.sites[a.site].body, tuple(map(float, b.sites[a.site].pos)),
                                                             tuple(map(float, b.sites[a.site].quat)))
                                for a in b.actuators),
            actuator_ctrlrange=tuple(a.ctrlrange for a in b.actuators),
            body_pos=rep([body.pos for body in b.bodies], (nb, 3)),
            body_quat=rep([body.quat for body in b.bodies], (nb, 4)),
            body_mass=rep([m for m, _, _ in inert], (nb,)),
            body_ipos=rep([c for _, c, _ in inert], (nb, 3)),
            body_inertia=rep([i for _, _, i in inert], (nb, 3, 3)),
            joint_pos=rep(jpos, (nb, 3)), joint_axis=rep(jaxis, (nb, 3)),
            dof_damping=rep(damping, (nv,)), dof_armature=rep(armature, (nv,)),
            actuator_gear=rep([a.gear for a in b.actuators], (len(b.actuators), 6)),
            gravity=rep(b.gravity, (3,)),
            dof_range=rep(ranges, (nv, 2)), dof_limited=tuple(limited),
            geom_contact=rep([[g.friction, g.stiffness, g.damping] for _, g in geoms], (len(geoms), 3)),
            geoms=tuple((i, g.type, tuple(g.size), tuple(g.pos), tuple(g.quat)) for i, g in geoms),
            planes=tuple(planes), device=dev)


TOPOLOGY_FIELDS = tuple(f.name for f in dataclasses.fields(Model)
                        if f.name not in PARAM_NAMES + ("num_worlds", "timestep", "device"))
"""The fields fixed at build time that the generated dynamics code depends on (see ``codegen.topology``)."""


def load_mjcf(path_or_xml: str, num_worlds: int = 1, device: str | None = None, dtype=None,
              timestep: float | None = None) -> Model:
    """Build a :class:`Model` from an MJCF file or string; ``timestep`` overrides the file's."""
    from diffsim.rigid.mjcf import parse_mjcf

    builder = parse_mjcf(path_or_xml)
    if timestep is not None:
        if not timestep > 0:
            raise ValueError(f"timestep must be > 0 (s), got {timestep!r}")
        builder.timestep = float(timestep)
    return builder.finalize(num_worlds=num_worlds, device=device, dtype=dtype)
