"""``ModelBuilder``: describe a multibody system; ``finalize`` it into a batched ``Model``.

Conventions follow MuJoCo, so the same MJCF means the same system:

* frames: every body has a position and a w-x-y-z unit quaternion relative to its
  parent (the world is body -1); lengths in m, masses in kg, inertias in kg m^2,
  angles in rad;
* a body's inertia is its mass, the centre of mass ``ipos`` in the body frame and the
  3x3 rotational inertia about the centre of mass in the body frame (from an explicit
  inertial or accumulated from its geoms' shapes and densities);
* joints: ``hinge`` (1 dof, rotation about ``axis`` through ``pos``), ``slide`` (1 dof,
  translation along ``axis``), ``free`` (6 dof: 3 positions + w-x-y-z quaternion in
  qpos, 6 velocities), or none (the body is welded to its parent).

Validation happens here, before anything runs: non-positive mass, inertia that is
not symmetric positive definite (or violates the triangle inequality), unknown joint
types, parents that do not exist, zero axes and malformed quaternions raise
``ValueError`` naming the body or joint.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from diffsim import runtime
from diffsim.rigid.model import JOINT_DOFS, JOINT_TYPES, Model, mat_to_quat, quat_to_mat

GEOM_TYPES = ("plane", "sphere", "capsule", "box", "cylinder")


def _unit_quat(name, q):
    q = np.asarray(q, dtype=np.float64)
    if q.shape != (4,) or not np.all(np.isfinite(q)) or np.linalg.norm(q) < 1e-12:
        raise ValueError(f"{name}: quaternion must be 4 finite numbers (w x y z), not all zero, got {q}")
    return q / np.linalg.norm(q)


def _vec3(name, v):
    v = np.asarray(v, dtype=np.float64)
    if v.shape != (3,) or not np.all(np.isfinite(v)):
        raise ValueError(f"{name} must be 3 finite numbers, got {v}")
    return v


LIMIT_STIFFNESS = 1e4  # N m/rad (or N/m): a joint limit's default penalty stiffness beyond its range
LIMIT_DAMPING = 10.0  # N m s/rad (or N s/m), active beyond the range


@dataclass
class Joint:
    name: str
    type: str
    axis: np.ndarray
    pos: np.ndarray
    damping: float = 0.0
    armature: float = 0.0
    range: tuple[float, float] | None = None  # soft limits (rad or m) for hinge and slide joints
    ref: float = 0.0  # joint position (rad or m) at which the body sits at its frame (MuJoCo's ref)
    stiffness: float = 0.0  # joint spring (N m/rad or N/m), pulling towards springref
    springref: float = 0.0
    limit_stiffness: float = LIMIT_STIFFNESS  # N m/rad or N/m beyond the range
    limit_damping: float = LIMIT_DAMPING  # N m s/rad or N s/m beyond the range
    solreflimit: tuple | None = None  # MuJoCo's, mapped to limit_stiffness/damping when given (ModelBuilder.finalize)
    solimplimit: tuple | None = None


@dataclass
class Geom:
    name: str
    type: str
    size: np.ndarray
    pos: np.ndarray
    quat: np.ndarray
    mass: float | None = None
    density: float = 1000.0
    friction: float = 1.0
    stiffness: float = 1e5  # N/m, soft contact normal stiffness
    damping: float = 100.0  # N s/m, soft contact normal damping (RK4-stable at dt = 1 ms for ~1 kg bodies)
    contype: int = 1  # MuJoCo's collision bitmasks: two geoms may touch if contype1 & conaffinity2 or
    conaffinity: int = 1  # contype2 & conaffinity1
    margin: float = 0.0  # m: contact forces start at this distance (a pair's margins add, as in MuJoCo >= 3.5)
    solref: tuple | None = None  # MuJoCo's (timeconst s, dampratio) or direct (-stiffness, -damping); with solimp,
    solimp: tuple | None = None  # replaces stiffness and damping (see ModelBuilder.contact_penalties)
    condim: int = 3  # 1: frictionless, 3: sliding friction
    priority: int = 0  # MuJoCo's pair rule: the higher priority's parameters win, else solmix-weighted mixing
    solmix: float = 1.0


@dataclass
class Body:
    name: str
    parent: int
    pos: np.ndarray
    quat: np.ndarray
    mass: float | None = None
    ipos: np.ndarray | None = None
    inertia: np.ndarray | None = None  # 3x3 about the COM, body frame
    joints: list[Joint] = field(default_factory=list)
    geoms: list[Geom] = field(default_factory=list)
    frame: bool = False  # a massless frame carrying one of several joints of one MJCF body


@dataclass
class Actuator:
    """A motor on a joint (``gear[0]`` torque/force per unit control) or on a site (``gear`` is a
    6-vector: force and torque per unit control in the site frame, applied at the site)."""
    name: str
    joint: str | None
    gear: np.ndarray
    ctrlrange: tuple[float, float] | None = None
    site: str | None = None


@dataclass
class Site:
    name: str
    body: int
    pos: np.ndarray
    quat: np.ndarray


def shape_mass_inertia(geom: Geom) -> tuple[float, np.ndarray]:
    """Mass and inertia (about the geom centre, geom frame) of a solid shape, as MuJoCo computes them."""
    s = geom.size
    if geom.type == "sphere":
        vol = 4.0 / 3.0 * np.pi * s[0] ** 3
    elif geom.type == "box":
        vol = 8.0 * s[0] * s[1] * s[2]
    elif geom.type == "cylinder":
        vol = np.pi * s[0] ** 2 * 2.0 * s[1]
    elif geom.type == "capsule":
        vol = np.pi * s[0] ** 2 * 2.0 * s[1] + 4.0 / 3.0 * np.pi * s[0] ** 3
    else:
        return 0.0, np.zeros((3, 3))
    mass = geom.mass if geom.mass is not None else geom.density * vol
    if geom.type == "sphere":
        i = 0.4 * mass * s[0] ** 2
        return mass, np.diag([i, i, i])
    if geom.type == "box":
        a, b, c = 2 * s
        return mass, np.diag([b * b + c * c, a * a + c * c, a * a + b * b]) * mass / 12.0
    r, h = s[0], 2.0 * s[1]
    if geom.type == "cylinder":
        ix = mass * (r * r / 4 + h * h / 12)
        return mass, np.diag([ix, ix, mass * r * r / 2])
    # capsule: a cylinder and two hemispheres, mass split by volume
    mc = mass * (np.pi * r * r * h) / vol
    ms = mass - mc
    ix = mc * (r * r / 4 + h * h / 12) + ms * (2 * r * r / 5 + h * h / 4 + 3 * h * r / 8)
    return mass, np.diag([ix, ix, mc * r * r / 2 + ms * 2 * r * r / 5])


def _fluid_box(mass: float, inertia: np.ndarray):
    """(principal-frame quaternion w x y z in the body frame, half-sizes) of the box with this mass and inertia
    (MuJoCo: r_x = sqrt(3 / (2 m) (I_yy + I_zz - I_xx)), ...), or None for a massless body."""
    if not mass > 0:
        return None
    values, vectors = np.linalg.eigh(inertia)
    if np.linalg.det(vectors) < 0:
        vectors[:, 2] = -vectors[:, 2]
    half = [float(np.sqrt(max(1e-15, 1.5 / mass * (values[(k + 1) % 3] + values[(k + 2) % 3] - values[k]))))
            for k in range(3)]
    return tuple(map(float, mat_to_quat(vectors))), tuple(half)


def _sol(name, what, values, n):
    """solref (2 numbers: both > 0, or both <= 0 for the direct form) or solimp (up to 5: d0, d_width, width, midpoint,
    power; missing ones take MuJoCo's defaults), validated; None stays None."""
    if values is None:
        return None
    v = [float(x) for x in np.atleast_1d(np.asarray(values, dtype=np.float64))]
    default = MJ_SOLREF if what == "solref" else MJ_SOLIMP
    if not 1 <= len(v) <= n or not all(np.isfinite(v)):
        raise ValueError(f"{name!r}: {what} takes 1 to {n} finite numbers, got {values!r}")
    v = tuple(v + list(default[len(v):]))
    if what == "solref" and not (min(v) > 0 or max(v) <= 0):
        raise ValueError(f"{name!r}: solref must be (timeconst > 0, dampratio > 0) or (-stiffness, -damping) "
                         f"<= 0, got {v}")
    if what == "solimp" and not (0 <= v[0] < 1 and 0 < v[1] < 1 and v[2] >= 0):
        raise ValueError(f"{name!r}: solimp needs 0 <= d0 < 1, 0 < d_width < 1, width >= 0, got {v}")
    return v


PAIR_TYPES = {"sphere", "capsule"}  # body geoms that collide with each other, and each with a cylinder


def pair_supported(type1: str, type2: str) -> bool:
    """Whether two body geoms' contact is simulated: spheres and capsules with each other and with a cylinder."""
    if {type1, type2} <= PAIR_TYPES:
        return True
    other = type2 if type1 == "cylinder" else type1 if type2 == "cylinder" else None
    return other in PAIR_TYPES


MJ_SOLREF = (0.02, 1.0)  # MuJoCo's default contact solref and solimp
MJ_SOLIMP = (0.9, 0.95, 0.001, 0.5, 2.0)


def _tendon_dof(tendon, joint_dof, jtype, qadr, bodies, joint) -> tuple[int, int]:
    """(qpos index, dof index) of a fixed tendon's hinge or slide ``joint``."""
    if joint not in joint_dof:
        raise ValueError(f"tendon {tendon!r}: no joint named {joint!r}")
    b = next(i for i, body in enumerate(bodies) if body.joints and body.joints[0].name == joint)
    if JOINT_TYPES[jtype[b]] not in ("hinge", "slide"):
        raise ValueError(f"tendon {tendon!r}: joint {joint!r} must be a hinge or slide")
    return qadr[b], joint_dof[joint]


def _penalty(solref, solimp, mu, condim, A, timestep) -> tuple[float, float, float]:
    """(friction, K, B) of MuJoCo's contact row with these parameters and inverse weight ``A`` (see
    :meth:`ModelBuilder.contact_penalties`)."""
    d = min(max(solimp[1], 1e-4), 0.9999)
    if solref[0] > 0:
        tc = max(solref[0], 2 * timestep)  # MuJoCo's refsafe
        k, b = 1 / (d * d * tc * tc * solref[1] * solref[1]), 2 / (d * tc)
    else:
        k, b = -solref[0] / (d * d), -solref[1] / d
    return mu if condim > 1 else 0.0, d * d * k / ((1 - d) * A), d * b / (math.sqrt(1 - d) * A)


def _mix_pair(g1: Geom, g2: Geom) -> tuple:
    """MuJoCo's contact parameters of the pair (solref, solimp, friction, condim): the geom of higher priority
    gives them; at equal priority solref and solimp mix with weights solmix1 / (solmix1 + solmix2), friction and
    condim take the larger."""
    ref1, ref2 = g1.solref or MJ_SOLREF, g2.solref or MJ_SOLREF
    imp1, imp2 = g1.solimp or MJ_SOLIMP, g2.solimp or MJ_SOLIMP
    if g1.priority != g2.priority:
        g = g1 if g1.priority > g2.priority else g2
        return (g.solref or MJ_SOLREF, g.solimp or MJ_SOLIMP, g.friction, g.condim)
    w = g1.solmix / (g1.solmix + g2.solmix) if g1.solmix + g2.solmix > 0 else 0.5
    solref = tuple(w * a + (1 - w) * c for a, c in zip(ref1, ref2))
    solimp = tuple(w * a + (1 - w) * c for a, c in zip(imp1, imp2))
    return solref, solimp, max(g1.friction, g2.friction), max(g1.condim, g2.condim)


class ModelBuilder:
    """Collects bodies, joints, geoms and actuators of one world."""

    def __init__(self, gravity=(0.0, 0.0, -9.81), timestep: float = 0.002):
        self.gravity = _vec3("gravity", gravity)
        if not timestep > 0:
            raise ValueError(f"timestep must be > 0 (s), got {timestep!r}")
        self.timestep = float(timestep)
        self.bodies: list[Body] = []
        self.world_geoms: list[Geom] = []
        self.sites: dict[str, Site] = {}
        self.actuators: list[Actuator] = []
        self.ignored: tuple = ()  # set by the MJCF parser: accepted input with no physical effect
        self.integrator = "rk4"  # what the model asks for (Model.integrator); MJCF files set it
        self.tendons: list[tuple[str, list]] = []  # fixed tendons: (name, [(joint name, coef), ...])
        self.inertia_from_geoms = True  # bodies without an explicit inertial take their geoms' (MJCF: "auto")
        self.total_mass: float | None = None  # MJCF settotalmass: scale every mass and inertia to this total
        self.fluid: tuple = ()  # (density, viscosity) of the medium (MuJoCo's inertia-box fluid model)

    def add_body(self, parent: int = -1, pos=(0, 0, 0), quat=(1, 0, 0, 0), name: str | None = None,
                 frame: bool = False) -> int:
        """A body at ``pos``/``quat`` in its parent's frame. ``frame=True`` makes a massless frame that only
        carries a joint: a body with several joints (MJCF allows them) is a chain of such frames, one joint
        each, at the body's own frame, ending in the body itself with the last joint, so every joint moves
        what follows it as MuJoCo composes a body's joints in order."""
        name = name or f"body{len(self.bodies)}"
        if not (-1 <= parent < len(self.bodies)):
            raise ValueError(f"body {name!r}: parent {parent} does not exist (bodies so far: {len(self.bodies)}; "
                             f"-1 is the world)")
        self.bodies.append(Body(name, parent, _vec3(f"body {name!r} pos", pos), _unit_quat(f"body {name!r}", quat),
                                frame=bool(frame)))
        return len(self.bodies) - 1

    def _body(self, body: int) -> Body:
        if not (0 <= body < len(self.bodies)):
            raise ValueError(f"body index {body} does not exist")
        return self.bodies[body]

    def add_joint(self, body: int, type: str = "hinge", axis=(0, 0, 1), pos=(0, 0, 0), damping: float = 0.0,
                  armature: float = 0.0, name: str | None = None, range=None, ref: float = 0.0,
                  stiffness: float = 0.0, springref: float = 0.0, limit_stiffness: float = LIMIT_STIFFNESS,
                  limit_damping: float = LIMIT_DAMPING, solreflimit=None, solimplimit=None) -> None:
        """``range=(low, high)`` (rad or m) adds a soft limit: a smooth one-sided spring-damper beyond it,
        ``limit_stiffness`` and ``limit_damping``, or MuJoCo's ``solreflimit``/``solimplimit`` mapped to them as
        contacts are (:meth:`contact_penalties`, with the dof's ``invweight0``).
        ``ref`` (rad or m, hinge and slide): the joint position at which the body sits at its frame (MuJoCo's
        ``ref``); positions, ranges and limits are in those coordinates. ``stiffness`` adds a joint spring
        ``-stiffness (q - springref)`` (hinge and slide, as MuJoCo's)."""
        b = self._body(body)
        name = name or f"{b.name}_joint{len(b.joints)}"
        if type not in JOINT_TYPES:
            raise ValueError(f"joint {name!r}: unknown type {type!r}; supported: {JOINT_TYPES}")
        axis = _vec3(f"joint {name!r} axis", axis)
        if np.linalg.norm(axis) < 1e-12:
            raise ValueError(f"joint {name!r}: axis must be non-zero")
        if damping < 0 or armature < 0:
            raise ValueError(f"joint {name!r}: damping and armature must be >= 0, got {damping}, {armature}")
        if type == "free" and (b.joints or b.parent != -1):
            raise ValueError(f"joint {name!r}: a free joint must be the only joint of a body attached to the world")
        if len(b.joints) >= 1:
            raise ValueError(f"body {b.name!r}: one joint per body is supported; joint {name!r} would be the second")
        if range is not None:
            if type == "free":
                raise ValueError(f"joint {name!r}: a free joint cannot have a range")
            if not (len(range) == 2 and np.all(np.isfinite(range)) and range[0] < range[1]):
                raise ValueError(f"joint {name!r}: range must be (low, high) with low < high, got {range!r}")
            range = (float(range[0]), float(range[1]))
        if not np.isfinite(ref) or (ref != 0 and type == "free"):
            raise ValueError(f"joint {name!r}: ref must be a finite number (hinge or slide), got {ref!r}")
        if not (np.isfinite(stiffness) and stiffness >= 0 and np.isfinite(springref)) or (stiffness and type == "free"):
            raise ValueError(f"joint {name!r}: stiffness must be >= 0 (hinge or slide) and springref finite, got "
                             f"{stiffness!r}, {springref!r}")
        for what, v in (("limit_stiffness", limit_stiffness), ("limit_damping", limit_damping)):
            if not (np.isfinite(v) and v >= 0):
                raise ValueError(f"joint {name!r}: {what} must be a finite number >= 0, got {v!r}")
        b.joints.append(Joint(name, type, axis / np.linalg.norm(axis), _vec3(f"joint {name!r} pos", pos),
                              float(damping), float(armature), range, float(ref), float(stiffness),
                              float(springref), float(limit_stiffness), float(limit_damping),
                              _sol(name, "solref", solreflimit, 2), _sol(name, "solimp", solimplimit, 5)))

    def set_inertial(self, body: int, mass: float, pos=(0, 0, 0), inertia=None, quat=(1, 0, 0, 0)) -> None:
        """Explicit inertia: ``inertia`` is the diagonal (3,) in the frame ``quat``, or a full (3, 3) matrix."""
        b = self._body(body)
        if not (np.isfinite(mass) and mass > 0):
            raise ValueError(f"body {b.name!r}: mass must be > 0 (kg), got {mass!r}")
        inertia = np.zeros(3) if inertia is None else np.asarray(inertia, dtype=np.float64)
        if inertia.shape == (3,):
            if np.any(inertia < 0):
                raise ValueError(f"body {b.name!r}: principal inertia must be >= 0, got {inertia}")
            R = quat_to_mat(_unit_quat(f"body {b.name!r} inertial", quat))
            inertia = R @ np.diag(inertia) @ R.T
        b.mass, b.ipos, b.inertia = float(mass), _vec3(f"body {b.name!r} inertial pos", pos), inertia

    def add_geom(self, body: int, type: str, size, pos=(0, 0, 0), quat=(1, 0, 0, 0), mass: float | None = None,
                 density: float = 1000.0, friction: float = 1.0, name: str | None = None, stiffness: float = 1e5,
                 damping: float = 100.0, contype: int = 1, conaffinity: int = 1, margin: float = 0.0,
                 solref=None, solimp=None, condim: int = 3, priority: int = 0, solmix: float = 1.0) -> None:
        """A shape on ``body`` (-1 = the world). Sizes as MuJoCo: sphere (r,), capsule/cylinder (r, half-length),
        box (half-extents). ``friction`` (Coulomb), ``stiffness`` (N/m) and ``damping`` (N s/m) set the soft contact;
        ``contype``/``conaffinity`` filter pairs as MuJoCo's bitmasks and ``margin`` (m) is added to the contact
        distance. ``solref``/``solimp`` (MuJoCo's), when given, set stiffness and damping instead (see
        :meth:`contact_penalties`), with ``condim`` (1 frictionless, 3 sliding friction), ``priority`` and ``solmix``.
        Body geoms touch every plane their bitmasks allow; between body geoms spheres and capsules collide with each
        other and with cylinders (see :meth:`contact_pairs`)."""
        b = self._body(body) if body >= 0 else None
        owner = b.name if b else "world"
        name = name or f"{owner}_geom"
        if type not in GEOM_TYPES:
            raise ValueError(f"geom {name!r}: unknown type {type!r}; supported: {GEOM_TYPES}")
        if mass is not None and not mass >= 0:
            raise ValueError(f"geom {name!r}: mass must be >= 0, got {mass!r}")
        if not density >= 0:
            raise ValueError(f"geom {name!r}: density must be >= 0, got {density!r}")
        for what, v in (("friction", friction), ("stiffness", stiffness), ("damping", damping), ("margin", margin)):
            if not (np.isfinite(v) and v >= 0):
                raise ValueError(f"geom {name!r}: {what} must be a finite number >= 0, got {v!r}")
        size = np.asarray(size, dtype=np.float64)
        need = {"sphere": 1, "capsule": 2, "cylinder": 2, "box": 3, "plane": 0}[type]
        if size.size < need or not np.all(np.isfinite(size)) or np.any(size[:need] <= 0):
            raise ValueError(f"geom {name!r}: a {type} needs {need} positive size values, got {size.tolist()}")
        geom = Geom(name, type, size, _vec3(f"geom {name!r} pos", pos), _unit_quat(f"geom {name!r}", quat), mass,
                    density, friction, float(stiffness), float(damping), int(contype), int(conaffinity), float(margin),
                    _sol(name, "solref", solref, 2), _sol(name, "solimp", solimp, 5), int(condim), int(priority),
                    float(solmix))
        if condim not in (1, 3):
            raise ValueError(f"geom {name!r}: condim must be 1 (frictionless) or 3 (sliding friction), got {condim!r}; "
                             "torsional and rolling friction (4, 6) are not modelled")
        if b is not None:
            b.geoms.append(geom)
        elif type == "plane":
            self.world_geoms.append(geom)
        else:
            raise ValueError(f"geom {name!r}: only planes can be attached to the world for now")

    def add_fixed_tendon(self, name: str, joints) -> None:
        """An inert fixed tendon: length ``sum coef q_joint`` over hinge/slide ``joints`` ``[(name, coef), ...]``
        (m or rad), reported by :func:`diffsim.rigid.kinematics.tendon_state`; it exerts no force."""
        if not joints:
            raise ValueError(f"tendon {name!r}: needs at least one joint")
        for joint, coef in joints:
            if not np.isfinite(coef):
                raise ValueError(f"tendon {name!r}: coef must be finite, got {coef!r}")
        self.tendons.append((name, [(j, float(c)) for j, c in joints]))

    def add_site(self, body: int, name: str, pos=(0, 0, 0), quat=(1, 0, 0, 0)) -> None:
        """A named frame on ``body`` (actuators can push there)."""
        self._body(body)
        if name in self.sites:
            raise ValueError(f"site {name!r} is defined twice")
        self.sites[name] = Site(name, body, _vec3(f"site {name!r} pos", pos), _unit_quat(f"site {name!r}", quat))

    def add_actuator(self, joint: str | None = None, gear=1.0, ctrlrange=None, name: str | None = None,
                     site: str | None = None) -> None:
        """A motor on ``joint`` (gear: scalar) or on ``site`` (gear: 6 numbers, force then torque, site frame)."""
        label = name or joint or site
        if (joint is None) == (site is None):
            raise ValueError(f"actuator {label!r}: give exactly one of joint= or site=")
        g = np.zeros(6)
        gear = np.atleast_1d(np.asarray(gear, dtype=np.float64))
        if not np.all(np.isfinite(gear)) or gear.size > 6:
            raise ValueError(f"actuator {label!r}: gear must be 1 to 6 finite numbers, got {gear.tolist()}")
        g[:gear.size] = gear
        if joint is not None:
            joints = {j.name: j for b in self.bodies for j in b.joints}
            if joint not in joints:
                raise ValueError(f"actuator {label!r}: no joint named {joint!r} (joints: {sorted(joints)})")
            if joints[joint].type == "free":
                raise ValueError(f"actuator {label!r}: motors on free joints are not supported; use a site")
        elif site not in self.sites:
            raise ValueError(f"actuator {label!r}: no site named {site!r} (sites: {sorted(self.sites)})")
        if ctrlrange is not None and not ctrlrange[0] <= ctrlrange[1]:
            raise ValueError(f"actuator {label!r}: ctrlrange must be (low, high) with low <= high")
        self.actuators.append(Actuator(label, joint, g, ctrlrange, site))

    # -----------------------------------------------------------------------------------------------
    def body_inertia(self, b: Body) -> tuple[float, np.ndarray, np.ndarray]:
        """(mass, COM in the body frame, 3x3 inertia about the COM in the body frame), scaled so that all
        bodies weigh ``total_mass`` when it is set."""
        mass, com, inertia = self._own_inertia(b)
        if self.total_mass is not None:
            total = sum(self._own_inertia(body)[0] for body in self.bodies)
            if not total > 0:
                raise ValueError(f"total mass {self.total_mass} asked for (settotalmass), but the bodies weigh 0")
            scale = self.total_mass / total
            mass, inertia = mass * scale, inertia * scale
        return mass, com, inertia

    def _own_inertia(self, b: Body) -> tuple[float, np.ndarray, np.ndarray]:
        if b.mass is not None:
            return b.mass, b.ipos, b.inertia
        if not self.inertia_from_geoms:
            return 0.0, np.zeros(3), np.zeros((3, 3))
        parts = []
        for g in b.geoms:
            m, i_local = shape_mass_inertia(g)
            if m > 0:
                R = quat_to_mat(g.quat)
                parts.append((m, g.pos, R @ i_local @ R.T))
        mass = sum(p[0] for p in parts)
        if mass <= 0:
            return 0.0, np.zeros(3), np.zeros((3, 3))
        com = sum(p[0] * p[1] for p in parts) / mass
        inertia = np.zeros((3, 3))
        for m, pos, i in parts:  # parallel-axis theorem
            d = pos - com
            inertia += i + m * (d @ d * np.eye(3) - np.outer(d, d))
        return mass, com, inertia

    def validate(self) -> None:
        for b in self.bodies:
            mass, _, inertia = self.body_inertia(b)
            if b.frame:
                if mass != 0 or b.geoms:
                    raise ValueError(f"body {b.name!r}: a joint frame carries no mass or geoms")
                continue
            if b.joints and not mass > 0:
                raise ValueError(f"body {b.name!r}: a moving body needs mass > 0 (kg), got {mass}")
            if mass > 0:
                if not np.allclose(inertia, inertia.T, atol=1e-12):
                    raise ValueError(f"body {b.name!r}: inertia matrix is not symmetric")
                ev = np.linalg.eigvalsh(inertia)
                if ev[0] <= 0:
                    raise ValueError(f"body {b.name!r}: inertia is not positive definite (eigenvalues {ev})")
                if ev[0] + ev[1] < ev[2] * (1 - 1e-9):
                    raise ValueError(f"body {b.name!r}: inertia violates the triangle inequality (eigenvalues {ev})")

    def weld_body(self, b: int) -> int:
        """The body ``b`` moves with: itself if it has a joint, else that of its parent (-1: the world).
        A massless joint frame belongs to the body it carries (see :meth:`add_body`)."""
        while b >= 0 and not self.bodies[b].joints:
            b = self.bodies[b].parent
        return b

    def mjcf_parent(self, b: int) -> int:
        """``b``'s parent in the MJCF tree: the first ancestor that is not a joint frame (-1: the world)."""
        p = self.bodies[b].parent
        while p >= 0 and self.bodies[p].frame:
            p = self.bodies[p].parent
        return p

    def contact_pairs(self) -> tuple[list, list]:
        """``(supported, unsupported)`` pairs of body geoms ``(g1, g2)`` (indices in the order of
        ``Model.geoms``) that MuJoCo would collide: bitmasks pass, different weld bodies, not both static, not
        parent and child. Pairs of spheres and capsules, and of either with a cylinder, are simulated
        (``supported``, see :func:`pair_supported`)."""
        geoms = [(i, g) for i, body in enumerate(self.bodies) for g in body.geoms if g.type != "plane"]
        weld = [self.weld_body(i) for i in range(len(self.bodies))]
        supported, unsupported = [], []
        for a in range(len(geoms)):
            for c in range(a + 1, len(geoms)):
                (b1, g1), (b2, g2) = geoms[a], geoms[c]
                w1, w2 = weld[b1], weld[b2]
                if not (g1.contype & g2.conaffinity or g2.contype & g1.conaffinity) or w1 == w2 or max(w1, w2) < 0:
                    continue
                p1 = self.weld_body(self.mjcf_parent(w1)) if w1 >= 0 else -1
                p2 = self.weld_body(self.mjcf_parent(w2)) if w2 >= 0 else -1
                if (p1 == w2 and w2 >= 0) or (p2 == w1 and w1 >= 0):
                    continue
                (supported if pair_supported(g1.type, g2.type) else unsupported).append((a, c))
        return supported, unsupported

    def contact_penalties(self, invweight: np.ndarray) -> list[tuple[float, float, float]]:
        """(friction, stiffness N/m, damping N s/m) per body geom (``Model.geoms`` order) for geoms whose
        contacts are given as MuJoCo's ``solref``/``solimp``, from the pair with the plane(s) it touches.

        MuJoCo's soft contact of one row with impedance ``d``, reference stiffness ``k`` and damping ``b``
        (``k = 1/(d_w^2 timeconst^2 dampratio^2)``, ``b = 2/(d_w timeconst)``, timeconst at least 2 timesteps)
        and regulariser ``R = (1-d)/d A`` (``A`` the body's ``invweight0``) rests at the penetration
        ``(1-d) A f / (d^2 k)`` under a force ``f``. The penalty spring ``K = d^2 k / ((1-d) A)`` rests at the
        same penetration for any load, and ``B = d b / (sqrt(1-d) A)`` keeps the damping ratio. ``d`` is
        solimp's ``d_width`` (its value beyond ``width``); pair parameters mix as MuJoCo's (priority, then
        solmix-weighted solref/solimp, the larger friction and condim). ``invweight`` is
        :func:`~diffsim.rigid.kinematics.body_invweight0` (nbody, 2) at qpos0."""
        geoms = [(i, g) for i, body in enumerate(self.bodies) for g in body.geoms if g.type != "plane"]
        out = []
        for i, g in geoms:
            if g.solref is None and g.solimp is None:
                out.append((g.friction, g.stiffness, g.damping))
                continue
            mixed = {_mix_pair(g, p) for p in self.world_geoms
                     if g.contype & p.conaffinity or p.contype & g.conaffinity}
            if len(mixed) > 1:
                raise ValueError(f"geom {g.name!r}: touches planes with different contact parameters {sorted(mixed)}; "
                                 "one set per geom is supported")
            solref, solimp, mu, condim = mixed.pop() if mixed else _mix_pair(g, g)
            A = float(invweight[i, 0])
            if not A > 0:  # a static body: it touches no plane (and its pairs use the other body's weight)
                out.append((g.friction, 0.0, 0.0))
                continue
            out.append(_penalty(solref, solimp, mu, condim, A, self.timestep))
        return out

    def pair_penalties(self, pairs, invweight: np.ndarray) -> list[tuple[float, float, float]]:
        """(friction, stiffness, damping) per body-geom pair, as :meth:`contact_penalties` with the pair's mixed
        parameters and ``A`` the sum of the two bodies' ``invweight0``; pairs of geoms without solref/solimp
        average the two geoms' values."""
        geoms = [(i, g) for i, body in enumerate(self.bodies) for g in body.geoms if g.type != "plane"]
        out = []
        for a, c in pairs:
            (b1, g1), (b2, g2) = geoms[a], geoms[c]
            if g1.solref is None and g1.solimp is None and g2.solref is None and g2.solimp is None:
                out.append(tuple(0.5 * (x + y) for x, y in zip((g1.friction, g1.stiffness, g1.damping),
                                                               (g2.friction, g2.stiffness, g2.damping))))
                continue
            out.append(_penalty(*_mix_pair(g1, g2), float(invweight[b1, 0] + invweight[b2, 0]), self.timestep))
        return out

    def finalize(self, num_worlds: int = 1, device: str | None = None, dtype=None) -> Model:
        """Validate and build the batched :class:`~diffsim.rigid.model.Model` (``num_worlds`` copies). Geoms with
        ``solref``/``solimp`` get their penalty stiffness and damping from :meth:`contact_penalties`, which needs
        the model's ``body_invweight0`` at qpos0 (computed on a one-world model first)."""
        model = self._finalize(num_worlds, device, dtype)
        geoms = [g for body in self.bodies for g in body.geoms if g.type != "plane"]
        touching = {g for pair in model.geom_pairs for g in pair} | {
            i for i, margins in enumerate(model.geom_plane_margin) if any(m is not None for m in margins)}
        limited = [b for b, body in enumerate(self.bodies) if body.joints and body.joints[0].range is not None and (
            body.joints[0].solreflimit is not None or body.joints[0].solimplimit is not None)]
        solref_contacts = any(geoms[i].solref is not None or geoms[i].solimp is not None for i in touching)
        if not (limited or solref_contacts):
            return model
        # MuJoCo's constants at qpos0, from one one-world model: the mass matrix and Jacobians run the
        # generated kinematics module once
        from diffsim.rigid.kinematics import body_invweight0, jacobians, mass_matrix
        from diffsim.rigid.state import default_state

        one = self._finalize(1, device, dtype)
        q0 = default_state(one).qpos
        jac = jacobians(one, q0)
        minv = torch.linalg.inv(mass_matrix(one, q0, jac))
        if limited:  # a hinge or slide dof's invweight0 is its entry of M^-1
            values = model.dof_limit[0].clone()
            for b in limited:
                j, dof = self.bodies[b].joints[0], model.dof_adr[b]
                _, k, c = _penalty(j.solreflimit or MJ_SOLREF, j.solimplimit or MJ_SOLIMP, 0.0, 1,
                                   float(minv[0, dof, dof]), self.timestep)
                values[dof] = torch.tensor([k, c], dtype=values.dtype)
            model.dof_limit = values.unsqueeze(0).repeat(num_worlds, 1, 1).contiguous()
        if solref_contacts:
            invweight = body_invweight0(one, q0, jac, minv)[0].double().cpu().numpy()
            for name, values in (("geom_contact", self.contact_penalties(invweight)),
                                 ("pair_contact", self.pair_penalties(model.geom_pairs, invweight))):
                like = getattr(model, name)
                values = torch.tensor(values, dtype=like.dtype, device=like.device).reshape(1, -1, 3)
                setattr(model, name, values.repeat(num_worlds, 1, 1).contiguous())
        return model

    def _finalize(self, num_worlds: int = 1, device: str | None = None, dtype=None) -> Model:
        self.validate()
        b = self
        if not isinstance(num_worlds, int) or num_worlds < 1:
            raise ValueError(f"num_worlds must be an int >= 1, got {num_worlds!r}")
        dev = runtime.resolve_device(device)
        dtype = dtype or runtime.DEFAULT_DTYPE
        nb = len(b.bodies)
        jtype, qadr, dadr = [], [], []
        nq = nv = 0
        jpos, jaxis, damping, armature, joint_dof, ranges, limited = [], [], [], [], {}, [], []
        stiffness, springref, limit = [], [], []
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
                stiffness += [j.stiffness] * jv
                springref += [j.springref] * jv
                limit += [(j.limit_stiffness, j.limit_damping)] * jv
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
        pairs = b.contact_pairs()[0]
        plane_margin = tuple(tuple(g.margin + p.margin if (g.contype & p.conaffinity or p.contype & g.conaffinity)
                                   and b.weld_body(i) >= 0 else None for p in b.world_geoms) for i, g in geoms)

        def rep(x, shape):
            t = torch.as_tensor(np.asarray(x, dtype=np.float64).reshape(shape), dtype=dtype, device=dev)
            return t.unsqueeze(0).repeat(num_worlds, *([1] * len(shape))).contiguous()

        return Model(
            num_worlds=num_worlds, timestep=b.timestep,
            body_names=tuple(body.name for body in b.bodies), body_parent=tuple(body.parent for body in b.bodies),
            body_frame=tuple(body.frame for body in b.bodies),
            fluid=tuple(float(x) for x in b.fluid), fluid_box=tuple(_fluid_box(m, i) for m, _, i in inert) if b.fluid
            else (),
            joint_ref=tuple(body.joints[0].ref if body.joints else 0.0 for body in b.bodies),
            joint_type=tuple(jtype), qpos_adr=tuple(qadr), dof_adr=tuple(dadr), nq=nq, nv=nv,
            actuator_dof=tuple(joint_dof[a.joint] if a.joint else -1 for a in b.actuators),
            actuator_site=tuple(None if a.site is None else
                                (b.sites[a.site].body, tuple(map(float, b.sites[a.site].pos)),
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
            dof_stiffness=rep(stiffness, (nv,)), dof_springref=rep(springref, (nv,)),
            dof_sprung=tuple(k > 0 for k in stiffness), dof_limit=rep(limit, (nv, 2)),
            geom_contact=rep([[g.friction, g.stiffness, g.damping] for _, g in geoms], (len(geoms), 3)),
            geoms=tuple((i, g.type, tuple(g.size), tuple(g.pos), tuple(g.quat)) for i, g in geoms),
            planes=tuple(planes), geom_plane_margin=plane_margin, geom_pairs=tuple(pairs),
            pair_margin=tuple(geoms[a][1].margin + geoms[c][1].margin for a, c in pairs),
            pair_contact=rep(self.pair_penalties(pairs, None) if not any(
                geoms[i][1].solref is not None or geoms[i][1].solimp is not None for pair in pairs for i in pair)
                else [(0.0, 0.0, 0.0)] * len(pairs), (len(pairs), 3)),
            ignored=tuple(b.ignored), integrator=b.integrator, tendons=tuple(
                (name, tuple((*_tendon_dof(name, joint_dof, jtype, qadr, b.bodies, j), c) for j, c in joints))
                for name, joints in b.tendons),
            sites=tuple((st.name, st.body, tuple(map(float, st.pos)), tuple(map(float, st.quat)))
                        for st in b.sites.values()), device=dev)
