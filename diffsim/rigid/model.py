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
``dof_stiffness``      (W, nv)               joint spring (N m/rad or N/m); used for sprung dofs only
``dof_springref``      (W, nv)               the spring's rest position (rad or m)
``dof_limit``          (W, nv, 2)            soft limit beyond the range: stiffness (N m/rad or N/m),
                                             damping (N m s/rad or N s/m); used for limited dofs only
``pair_contact``       (W, npair, 3)         per colliding body-geom pair (``geom_pairs``): friction,
                                             stiffness (N/m), damping (N s/m)
=====================  ====================  ====================================================

Geometry (``geoms``: body, type, size, pose in the body frame) and the world planes
(``planes``: unit normal, offset) are topology: fixed at build time.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import torch

JOINT_TYPES = ("hinge", "slide", "free")  # ``Model.joint_type`` indexes this tuple
JOINT_DOFS = {"hinge": (1, 1), "slide": (1, 1), "free": (7, 6)}  # (nq, nv)
FRICTION_SMOOTHING = 1e-2  # m/s: default Model.friction_smoothing
STRUCTURES = ("auto", "generated", "loops")  # ``Model.structure``: how the dynamics run (diffsim.rigid.loops)


def quat_to_mat(q) -> np.ndarray:
    """3x3 rotation matrix of a unit w-x-y-z quaternion (NumPy)."""
    w, x, y, z = q
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                     [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                     [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])


def mat_to_quat(R) -> np.ndarray:
    """w-x-y-z unit quaternion of a rotation matrix (Shepperd's method, w >= 0)."""
    tr = np.trace(R)
    if tr > 0:
        w = math.sqrt(1.0 + tr) / 2
        q = np.array([w, (R[2, 1] - R[1, 2]) / (4 * w), (R[0, 2] - R[2, 0]) / (4 * w), (R[1, 0] - R[0, 1]) / (4 * w)])
    else:
        i = int(np.argmax(np.diag(R)))
        j, k = (i + 1) % 3, (i + 2) % 3
        r = math.sqrt(1.0 + R[i, i] - R[j, j] - R[k, k])
        q = np.zeros(4)
        q[0] = (R[k, j] - R[j, k]) / (2 * r)
        q[1 + i], q[1 + j], q[1 + k] = r / 2, (R[j, i] + R[i, j]) / (2 * r), (R[k, i] + R[i, k]) / (2 * r)
        q = q if q[0] >= 0 else -q
    return q / np.linalg.norm(q)


PARAM_NAMES = ("body_pos", "body_quat", "body_mass", "body_ipos", "body_inertia", "joint_pos", "joint_axis",
               "dof_damping", "dof_armature", "actuator_gear", "gravity", "geom_contact", "dof_range",
               "dof_stiffness", "dof_springref", "pair_contact", "dof_limit")


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
    dof_stiffness: torch.Tensor
    dof_springref: torch.Tensor
    pair_contact: torch.Tensor
    dof_limit: torch.Tensor
    dof_limited: tuple = ()  # per dof: True where a soft limit applies
    dof_sprung: tuple = ()  # per dof: True where a joint spring applies (a stiffness was given)
    geoms: tuple = ()  # (body, type, size tuple, pos tuple, quat tuple)
    planes: tuple = ()  # (normal tuple, offset): the half-space n.x >= offset is free
    geom_plane_margin: tuple = ()  # per body geom, per plane: the pair's contact margin (m), None where the pair
    # does not collide (contype/conaffinity); () = every pair at margin 0
    geom_pairs: tuple = ()  # (g1, g2) body-geom pairs that collide (spheres and capsules, each also with cylinders)
    pair_margin: tuple = ()  # per pair: its contact margin (m), the sum of the two geoms'
    body_frame: tuple = ()  # per body: True for a massless frame carrying one of a body's several joints
    fluid: tuple = ()  # (density kg/m^3, viscosity Pa s) of MuJoCo's inertia-box fluid model; () for none
    fluid_box: tuple = ()  # per body: (principal-frame quat w x y z, half-sizes (m)) of its equivalent inertia box,
    # fixed when the model is built (from the build-time masses and inertias), or None for a massless body
    joint_ref: tuple = ()  # per body: its hinge/slide joint's reference position (rad or m; the body is at its
    # frame when qpos equals it, as MuJoCo's ``ref``), 0 for none
    ignored: tuple = ()  # what the MJCF file said that changes nothing here (drawing only), with its line
    tendons: tuple = ()  # inert fixed tendons: (name, ((qpos index, dof index, coef), ...)); no force
    sites: tuple = ()  # named frames: (name, body, position (m) and quaternion (w x y z) in the body frame)
    integrator: str = "rk4"  # the integrator the model asks for (MJCF <option integrator>: MuJoCo's default is
    # Euler); rollout's ``integrator`` argument decides what runs
    friction_smoothing: float = FRICTION_SMOOTHING  # m/s: Coulomb friction is -mu fn vt / sqrt(|vt|^2 + eps^2)
    # with eps this slip speed (compiled into the dynamics). Smaller is closer to Coulomb's law; larger slows the
    # growth of a rollout's gradient through sliding contacts (a stiff damping of mu fn / eps per contact)
    structure: str = "auto"  # how the dynamics run: "generated" (straight-line code per model: fastest to run,
    # compile time grows with the model), "loops" (one compiled module for every model, diffsim.rigid.loops) or
    # "auto" (loops for large models)
    device: str = "cpu"

    @property
    def nbody(self) -> int:
        return len(self.body_parent)

    @property
    def nu(self) -> int:
        return len(self.actuator_dof)

    def expand(self, num_worlds: int) -> "Model":
        """This one-world model as ``num_worlds`` worlds sharing its parameters (expanded views, so gradients
        reach this model's tensors); its parameters are range-checked here, once per change."""
        if self.num_worlds != 1:
            raise ValueError(f"expand needs a one-world model, this one has {self.num_worlds} worlds")
        self.check_params()
        fields = {k: getattr(self, k).expand(num_worlds, *getattr(self, k).shape[1:]) for k in PARAM_NAMES}
        model = dataclasses.replace(self, num_worlds=num_worlds, **fields)
        object.__setattr__(model, "_checked", model._params_key())
        return model

    def _params_key(self):
        return tuple((id(t), t._version) for t in (getattr(self, k) for k in PARAM_NAMES))

    def check_params(self) -> None:
        """Raise ``ValueError`` naming the parameter, world and index when a per-world physical parameter is
        out of its range: NaN/inf anywhere, a moving body's mass <= 0 (kg), a welded body's mass < 0, a
        negative inertia diagonal, damping, armature, friction, contact stiffness or damping < 0, a
        limited dof's range with low >= high. ``rollout`` calls it; a check runs again only after a
        parameter tensor was replaced or changed in place."""
        key = self._params_key()
        if getattr(self, "_checked", None) == key:
            return
        frames = self.body_frame or (False,) * self.nbody
        moving = torch.tensor([jt >= 0 and not f for jt, f in zip(self.joint_type, frames)],
                              device=self.body_mass.device)

        def fail(name, values, mask, rule):
            w, *idx = (int(i) for i in mask.nonzero()[0])
            raise ValueError(f"{name}[world {w}, index {tuple(idx)}] must be {rule}, got {float(values[(w, *idx)])}")

        with torch.no_grad():
            for name in PARAM_NAMES:
                values = getattr(self, name)
                bad = ~torch.isfinite(values)
                if bool(bad.any()):
                    fail(name, values, bad, "finite")
            inertia = self.body_inertia.diagonal(dim1=-2, dim2=-1)
            limited = torch.tensor(self.dof_limited or [False] * self.nv, dtype=torch.bool, device=moving.device)
            width = self.dof_range[..., 1] - self.dof_range[..., 0]
            rules = [("body_mass", self.body_mass, (self.body_mass <= 0) & moving, "> 0 (kg) for a body with a joint"),
                     ("body_mass", self.body_mass, self.body_mass < 0, ">= 0 (kg)"),
                     ("body_inertia", inertia, inertia < 0, ">= 0 on its diagonal"),
                     ("dof_damping", self.dof_damping, self.dof_damping < 0, ">= 0"),
                     ("dof_stiffness", self.dof_stiffness, self.dof_stiffness < 0, ">= 0"),
                     ("dof_armature", self.dof_armature, self.dof_armature < 0, ">= 0"),
                     ("geom_contact", self.geom_contact, self.geom_contact < 0,
                      ">= 0 (friction, stiffness N/m, damping N s/m)"),
                     ("dof_limit", self.dof_limit, self.dof_limit < 0, ">= 0 (stiffness, damping)"),
                     ("pair_contact", self.pair_contact, self.pair_contact < 0,
                      ">= 0 (friction, stiffness N/m, damping N s/m)"),
                     ("dof_range", width, (width <= 0) & limited, "(low, high) with low < high: high - low > 0")]
            for name, values, bad, rule in rules:
                if bool(bad.any()):
                    fail(name, values, bad, rule)
        object.__setattr__(self, "_checked", key)

TOPOLOGY_FIELDS = tuple(f.name for f in dataclasses.fields(Model)
                        if f.name not in PARAM_NAMES + ("num_worlds", "timestep", "device", "ignored", "integrator",
                                                        "tendons", "sites", "structure"))
"""The fields fixed at build time that the generated dynamics code depends on (see ``codegen.topology``)."""
