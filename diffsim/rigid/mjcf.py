"""MJCF import (a subset of MuJoCo's XML) into a :class:`ModelBuilder`.

Supported: ``<mujoco>`` with ``<include file>`` (relative to the including file), ``<compiler angle
inertiafromgeom settotalmass autolimits>`` (MuJoCo's meanings),
``<option timestep gravity density viscosity>`` (MuJoCo's inertia-box fluid model),
``<default>`` classes as MuJoCo resolves them (nested classes inherit from their parent; an element takes its
``class``, else the nearest enclosing body's ``childclass``, else the top-level defaults) for ``joint``, ``geom``,
``motor`` and ``site``, ``<worldbody>`` with nested ``<body pos childclass>``, every orientation form MuJoCo has
(``quat``, ``euler``, ``axisangle``, ``xyaxes``, ``zaxis``) on bodies, geoms, sites and inertials, ``<inertial pos
mass diaginertia fullinertia quat>``, ``<joint type=hinge|slide|free axis pos damping armature range limited
ref stiffness springref>`` (soft limits; several joints in one body compose in order, as MuJoCo's do),
``<freejoint>``, ``<geom type=plane|sphere|capsule|box|cylinder size pos
quat euler fromto mass density friction>``, ``<site name pos quat>`` and ``<actuator><motor joint|site gear
ctrlrange>``. Accepted without physical effect, and listed with their lines in ``Model.ignored`` so that nothing
is dropped from view: ``<camera>``, ``<light>``, the top-level ``<size>``, ``<visual>``, ``<statistic>``,
``<asset>``, ``<custom>``, geoms' ``rgba``, ``material`` and ``group``, the compiler's file and drawing options,
the settings of MuJoCo's constraint solver in ``<option>`` (``iterations``, ``solver``, ``tolerance``, ...),
empty ``<default>`` entries, ``<inertial>`` elements that ``inertiafromgeom='true'`` overrides, and world
geoms that touch no body geom under MuJoCo's ``contype``/``conaffinity`` rule. Joints' ``ref`` is MuJoCo's (the
body sits at its frame when the joint's position equals it); ``stiffness`` and ``springref`` make a joint spring.
Anything
else raises ``ValueError`` naming the file, line and element, so a model is never silently simplified.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import xml.etree.ElementTree as ET
from xml.parsers import expat

import numpy as np

from diffsim.rigid.builder import ModelBuilder
from diffsim.rigid.model import FRICTION_SMOOTHING, STRUCTURES, Model, mat_to_quat

_IGNORED = {"camera", "light"}  # elements inside bodies with no physics here: listed in ``Model.ignored``
_IGNORED_TOP = {"size", "visual", "statistic", "asset", "custom"}  # top-level elements with no physics here
# settings of MuJoCo's constraint solver, which this engine does not use (its contacts and limits are penalties)
_SOLVER_OPTIONS = {"iterations", "solver", "tolerance", "ls_iterations", "ls_tolerance", "noslip_iterations",
                   "noslip_tolerance", "mpr_iterations", "mpr_tolerance", "ccd_iterations", "ccd_tolerance",
                   "sdf_iterations", "sdf_initpoints", "jacobian"}
_IGNORED_GEOM_ATTRS = {"rgba", "material", "group", "user"}  # geom attributes that only draw or annotate it
_IGNORED_COMPILER_ATTRS = {"meshdir", "texturedir", "assetdir", "discardvisual"}  # files and drawing only
_DEFAULT_KINDS = ("joint", "geom", "motor", "site", "tendon")  # what a default class may set here
_ORIENTATIONS = ("quat", "euler", "axisangle", "xyaxes", "zaxis")  # MuJoCo's ways to give a frame's orientation
_BODY_ATTRS = {"name", "pos", "childclass", *_ORIENTATIONS}


class _Element(ET.Element):
    """An element that remembers the file (``source``) and line (``line``) it starts on."""

    line = 0
    source = "<string>"


def _parse_xml(text: str, source: str = "<string>", seen: tuple = ()) -> ET.Element:
    """Parse MJCF text into elements carrying their file and line, with every ``<include file=...>`` replaced by
    the children of the included file's ``<mujoco>`` (paths relative to the including file's folder)."""
    builder = ET.TreeBuilder(element_factory=_Element)
    parser = expat.ParserCreate()

    def start(tag, attrs):
        el = builder.start(tag, attrs)
        el.line, el.source = parser.CurrentLineNumber, source

    parser.StartElementHandler = start
    parser.EndElementHandler = builder.end
    try:
        parser.Parse(text, True)
    except expat.ExpatError as exc:
        raise ValueError(f"{source}: MJCF is not well-formed XML: {exc}") from exc
    root = builder.close()
    folder = os.path.dirname(source) if source != "<string>" else os.getcwd()
    for parent in list(root.iter()):
        for i, child in reversed(list(enumerate(parent))):
            if child.tag != "include":
                continue
            where = f"{source}:{child.line}"
            if set(child.attrib) != {"file"}:
                raise ValueError(f"{where}: <include> takes exactly one attribute, file")
            path = os.path.normpath(os.path.join(folder, child.get("file")))
            if path in seen or path == source:
                raise ValueError(f"{where}: <include file={child.get('file')!r}> includes itself")
            if not os.path.exists(path):
                raise ValueError(f"{where}: <include>: file not found: {path}")
            with open(path) as f:
                included = _parse_xml(f.read(), path, seen + (source,))
            if included.tag != "mujoco":
                raise ValueError(f"{path}:{included.line}: an included file's root must be <mujoco>")
            parent[i:i + 1] = list(included)
    return root


def _floats(s, n=None, what=""):
    vals = [float(x) for x in s.split()]
    if n is not None and len(vals) != n:
        raise ValueError(f"{what}: expected {n} numbers, got {s!r}")
    return np.array(vals)


def _euler_to_quat(e):
    """Intrinsic x-y-z Euler angles (MuJoCo's default eulerseq) to a w-x-y-z quaternion."""
    q = np.array([1.0, 0, 0, 0])
    for angle, axis in zip(e, np.eye(3)):
        r = np.concatenate([[math.cos(angle / 2)], math.sin(angle / 2) * axis])
        q = _qmul(q, r)
    return q


def _qmul(a, b):
    w1, x1, y1, z1 = a
    w2, x2, y2, z2 = b
    return np.array([w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2, w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
                     w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2, w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2])


def _z_to(d):
    """Quaternion rotating +z onto the unit vector ``d``."""
    z = np.array([0.0, 0.0, 1.0])
    c = float(z @ d)
    if c < -1 + 1e-12:
        return np.array([0.0, 1.0, 0.0, 0.0])
    axis = np.cross(z, d)
    q = np.concatenate([[1.0 + c], axis])
    return q / np.linalg.norm(q)


class _Parser:
    def __init__(self, root, source: str = "<string>", unsupported_contacts: str = "raise"):
        if unsupported_contacts not in ("raise", "ignore"):
            raise ValueError(f"unsupported_contacts must be 'raise' or 'ignore', got {unsupported_contacts!r}")
        self.unsupported_contacts = unsupported_contacts
        self.degrees = True
        self.classes = {"main": {kind: {} for kind in _DEFAULT_KINDS}}  # class -> element kind -> attributes
        self.builder = ModelBuilder()
        self.builder.integrator = "euler"  # MuJoCo's default when <option> does not say
        self.root = root
        self.source = source
        self.ignored: list[str] = []
        self.inertiafromgeom, self.autolimits = "auto", True
        self.body_geoms: list[tuple[int, int]] = []  # (contype, conaffinity) of every geom on a body
        self.world_geoms: list = []  # deferred until every body geom is known (see world_contacts)
        self.geom_elements: dict = {}  # id of a body geom -> its element

    def where(self, el) -> str:
        return f"{getattr(el, 'source', self.source)}:{getattr(el, 'line', 0)}"

    def fail(self, el, message: str):
        raise ValueError(f"{self.where(el)}: {message}")

    @contextlib.contextmanager
    def at(self, el):
        """Prefix a ``ValueError`` raised while building ``el`` with its file and line."""
        try:
            yield
        except ValueError as exc:
            if str(exc).startswith(getattr(el, "source", self.source) + ":"):
                raise
            raise ValueError(f"{self.where(el)}: {exc}") from exc

    def ignore(self, el, what: str):
        self.ignored.append(f"{what} (line {getattr(el, 'line', 0)})")

    def angle(self, v):
        return v * math.pi / 180 if self.degrees else v

    def frame(self, el, what):
        """Position and w-x-y-z orientation from any one of MuJoCo's forms: quat, euler, axisangle, xyaxes, zaxis."""
        with self.at(el):
            pos = _floats(el.get("pos", "0 0 0"), 3, f"{what} pos")
            given = [k for k in _ORIENTATIONS if el.get(k) is not None]
            if len(given) > 1:
                raise ValueError(f"{what}: give one orientation, got {given}")
            form = given[0] if given else "quat"
            if form == "euler":
                quat = _euler_to_quat(self.angle(_floats(el.get("euler"), 3, f"{what} euler")))
            elif form == "axisangle":
                v = _floats(el.get("axisangle"), 4, f"{what} axisangle")
                axis, angle = v[:3] / np.linalg.norm(v[:3]), self.angle(v[3])
                quat = np.concatenate([[math.cos(angle / 2)], math.sin(angle / 2) * axis])
            elif form == "xyaxes":
                v = _floats(el.get("xyaxes"), 6, f"{what} xyaxes")
                x = v[:3] / np.linalg.norm(v[:3])
                y = v[3:] - (v[3:] @ x) * x
                y = y / np.linalg.norm(y)
                quat = mat_to_quat(np.stack([x, y, np.cross(x, y)], 1))
            elif form == "zaxis":
                z = _floats(el.get("zaxis"), 3, f"{what} zaxis")
                quat = _z_to(z / np.linalg.norm(z))
            else:
                quat = _floats(el.get("quat", "1 0 0 0"), 4, f"{what} quat")
        return pos, quat

    def attrs(self, el, kind, childclass="main"):
        """``el``'s attributes over its class's defaults for ``kind`` (its ``class``, else the enclosing
        bodies' ``childclass``, else ``main``), as MuJoCo resolves them."""
        cls = el.get("class", childclass)
        if cls not in self.classes:
            self.fail(el, f"<{el.tag}>: unknown default class {cls!r} (defined: {sorted(self.classes)})")
        out = dict(self.classes[cls][kind])
        out.update({k: v for k, v in el.attrib.items() if k != "class"})
        return out

    def check_attrs(self, el, attrs, what: str, known, ignored=frozenset(), why: str = ""):
        """Refuse attributes outside ``known`` and ``ignored``; list the ``ignored`` ones present as ignored."""
        unknown = set(attrs) - set(known) - set(ignored)
        if unknown:
            self.fail(el, f"{what}: unsupported attributes {sorted(unknown)}")
        for attr in sorted(set(ignored) & set(attrs)):
            self.ignore(el, f"{what} {attr}{why}")

    def compiler(self, el):
        self.check_attrs(el, el.attrib, "<compiler>", {"angle", "inertiafromgeom", "coordinate", "settotalmass",
                                                       "autolimits"}, _IGNORED_COMPILER_ATTRS)
        if el.get("angle", "degree") not in ("degree", "radian"):
            self.fail(el, f"<compiler angle>: 'degree' or 'radian', got {el.get('angle')!r}")
        self.degrees = el.get("angle", "degree") == "degree"
        if el.get("coordinate", "local") != "local":
            self.fail(el, "<compiler coordinate='global'> is not supported")
        mode = el.get("inertiafromgeom", "auto")
        if mode not in ("auto", "true", "false"):
            self.fail(el, f"<compiler inertiafromgeom>: 'auto', 'true' or 'false', got {mode!r}")
        self.inertiafromgeom = mode
        self.builder.inertia_from_geoms = mode != "false"
        self.autolimits = el.get("autolimits", "true") == "true"
        if "settotalmass" in el.attrib:
            with self.at(el):
                total = float(el.get("settotalmass"))
            if total > 0:  # MuJoCo: a value <= 0 (the default -1) leaves the masses alone
                self.builder.total_mass = total

    def default(self, el, parent: str | None):
        """A ``<default>`` element (``class`` attribute, ``main`` at the top) inheriting from ``parent``."""
        name = el.get("class", "main" if parent is None else None)
        if name is None:
            self.fail(el, "a nested <default> needs a class attribute")
        if parent is not None:
            if name in self.classes:
                self.fail(el, f"<default class={name!r}> is defined twice")
            self.classes[name] = {kind: dict(v) for kind, v in self.classes[parent].items()}
        for d in el:
            if d.tag == "default":
                self.default(d, name)
            elif d.tag in _DEFAULT_KINDS:
                self.classes[name][d.tag].update(d.attrib)
            elif d.tag in _IGNORED or not d.attrib:
                self.ignore(d, f"<default> <{d.tag}>" + ("" if d.attrib else " (empty)"))
            else:
                self.fail(d, f"<default>: unsupported element <{d.tag}>")

    def run(self):
        if self.root.tag != "mujoco":
            self.fail(self.root, f"MJCF root element must be <mujoco>, got <{self.root.tag}>")
        for child in self.root:
            if child.tag == "compiler":
                self.compiler(child)
            elif child.tag == "option":
                self.check_attrs(child, child.attrib, "<option>", {"timestep", "gravity", "integrator", "density",
                                                                   "viscosity"}, _SOLVER_OPTIONS,
                                 " (constraint solver setting)")
                with self.at(child):
                    if "timestep" in child.attrib:
                        self.builder.timestep = float(child.get("timestep"))
                    if "gravity" in child.attrib:
                        self.builder.gravity = _floats(child.get("gravity"), 3, "option gravity")
                    fluid = float(child.get("density", 0.0)), float(child.get("viscosity", 0.0))
                    if min(fluid) < 0:
                        raise ValueError(f"<option>: density and viscosity must be >= 0, got {fluid}")
                    if max(fluid) > 0:
                        self.builder.fluid = fluid
                integrator = child.get("integrator", "Euler")
                if integrator not in ("Euler", "RK4"):
                    self.fail(child, f"<option integrator>: 'Euler' or 'RK4' are supported, got {integrator!r}")
                self.builder.integrator = integrator.lower()
                for sub in child:
                    self.fail(sub, f"<option>: unsupported element <{sub.tag}>")
            elif child.tag == "default":
                self.default(child, None)
            elif child.tag == "worldbody":
                self.worldbody(child)
            elif child.tag == "actuator":
                for a in child:
                    if a.tag != "motor":
                        self.fail(a, f"<actuator>: unsupported element <{a.tag}>; only <motor>")
                    at = self.attrs(a, "motor")
                    self.check_attrs(a, at, f"<motor {at.get('name', '')}>",
                                     {"joint", "site", "gear", "ctrlrange", "ctrllimited", "name"})
                    limited = "ctrlrange" in at and (at.get("ctrllimited") == "true" or (
                        self.autolimits and at.get("ctrllimited", "auto") == "auto"))
                    with self.at(a):
                        self.builder.add_actuator(at.get("joint"), _floats(at.get("gear", "1")),
                                                  tuple(_floats(at["ctrlrange"], 2, "ctrlrange")) if limited else None,
                                                  at.get("name"), site=at.get("site"))
            elif child.tag == "tendon":
                self.tendons(child)
            elif child.tag in _IGNORED_TOP:
                self.ignore(child, f"<{child.tag}>")
            else:
                self.fail(child, f"unsupported MJCF element <{child.tag}>")
        self.world_contacts()
        self.builder.ignored = tuple(self.ignored)
        return self.builder

    def world_contacts(self):
        """Add the world's geoms that may touch a body geom under MuJoCo's contype/conaffinity rule
        (``contype1 & conaffinity2 or contype2 & conaffinity1``); a world geom that can touch none has no
        physics here (no mass, no contact) and is listed as ignored. This engine collides every body geom with
        every plane, so a plane that only some body geoms may touch raises instead of colliding with all."""
        for el, name, gtype, (ct, ca), args, contact in self.world_geoms:
            touch = sum(bool(ct & bca or bct & ca) for bct, bca in self.body_geoms)
            if touch == 0:
                self.ignore(el, f"world geom {name!r} ({gtype}): touches no body geom (contype/conaffinity)")
            else:
                with self.at(el):
                    self.builder.add_geom(-1, *args, **contact)
        _, unsupported = self.builder.contact_pairs()
        geoms = [(g, self.geom_elements[id(g)]) for body in self.builder.bodies for g in body.geoms
                 if g.type != "plane"]
        if unsupported and self.unsupported_contacts == "ignore":
            for a, c in unsupported:
                (g1, el1), (g2, el2) = geoms[a], geoms[c]
                self.ignore(el1, f"contacts between {g1.type} {g1.name!r} and {g2.type} {g2.name!r} (line "
                                 f"{getattr(el2, 'line', 0)}): not simulated (unsupported_contacts='ignore')")
        elif unsupported:
            (g1, el1), (g2, el2) = geoms[unsupported[0][0]], geoms[unsupported[0][1]]
            self.fail(el1, f"{len(unsupported)} pairs of body geoms may touch under contype/conaffinity, e.g. "
                           f"{g1.type} {g1.name!r} and {g2.type} {g2.name!r} (line {getattr(el2, 'line', 0)}); "
                           "between body geoms only spheres and capsules (with each other or a cylinder) collide "
                           "here: exclude the others with contype/conaffinity, or load with "
                           "unsupported_contacts='ignore' to list them as ignored")

    def worldbody(self, wb):
        for el in wb:
            if el.tag == "body":
                self.body(el, -1, "main")
            elif el.tag == "geom":
                self.geom(el, -1, "main")
            elif el.tag in _IGNORED:
                self.ignore(el, f"<{el.tag}>")
            else:
                self.fail(el, f"<worldbody>: unsupported element <{el.tag}>")

    def body(self, el, parent, childclass):
        name = el.get("name")
        self.check_attrs(el, el.attrib, f"body {name!r}", _BODY_ATTRS)
        childclass = el.get("childclass", childclass)
        if childclass not in self.classes:
            self.fail(el, f"body {name!r}: unknown childclass {childclass!r} (defined: {sorted(self.classes)})")
        pos, quat = self.frame(el, f"body {name!r}")
        joints = [c for c in el if c.tag in ("joint", "freejoint")]
        # several joints: a massless frame per joint but the last, then the body itself (see ModelBuilder.add_body)
        for k, j in enumerate(joints[:-1]):
            with self.at(j):
                parent = self.builder.add_body(parent, pos, quat, f"{name}:{j.get('name', k)}", frame=True)
            self.joint(j, parent, childclass)
            pos, quat = np.zeros(3), np.array([1.0, 0, 0, 0])
        with self.at(el):
            b = self.builder.add_body(parent, pos, quat, name)
        if joints:
            self.joint(joints[-1], b, childclass)
        for child in el:
            if child.tag == "inertial":
                self.inertial(child, b)
            elif child.tag in ("joint", "freejoint"):
                continue
            elif child.tag == "geom":
                self.geom(child, b, childclass)
            elif child.tag == "site":
                pos, quat = self.frame(child, f"site {child.get('name')!r}")
                if child.get("name") is None:
                    continue  # an anonymous site cannot carry an actuator: no physics
                with self.at(child):
                    self.builder.add_site(b, child.get("name"), pos, quat)
            elif child.tag == "body":
                self.body(child, b, childclass)
            elif child.tag in _IGNORED:
                self.ignore(child, f"<{child.tag}> in body {name!r}")
            else:
                self.fail(child, f"body {name!r}: unsupported element <{child.tag}>")

    def tendons(self, el):
        """``<tendon>``: fixed tendons (a length ``sum coef_i q_i``) without stiffness, damping, limits or an
        actuator exert no force; they are kept for their length and velocity
        (:func:`diffsim.rigid.kinematics.tendon_state`). Spatial tendons and tendon physics raise."""
        for t in el:
            if t.tag != "fixed":
                self.fail(t, f"<tendon>: unsupported element <{t.tag}>; only inert <fixed> tendons")
            at = self.attrs(t, "tendon")
            name = at.get("name", f"tendon{len(self.builder.tendons)}")
            self.check_attrs(t, at, f"tendon {name!r}", {"name", "limited", "stiffness", "damping", "range",
                                                         "springlength"}, {"rgba", "width", "group"})
            physics = [k for k in ("stiffness", "damping") if float(at.get(k, 0)) != 0]
            if at.get("limited") == "true" or (self.autolimits and "range" in at and at.get("limited", "auto") ==
                                               "auto"):
                physics.append("limited range")
            if physics:
                self.fail(t, f"tendon {name!r}: tendon forces ({', '.join(physics)}) are not modelled; only inert "
                             "fixed tendons")
            joints = []
            for j in t:
                if j.tag != "joint":
                    self.fail(j, f"tendon {name!r}: unsupported element <{j.tag}>")
                self.check_attrs(j, j.attrib, f"tendon {name!r} joint", {"joint", "coef"})
                with self.at(j):
                    joints.append((j.get("joint"), float(j.get("coef", 1.0))))
            with self.at(t):
                self.builder.add_fixed_tendon(name, joints)

    def joint(self, el, b, childclass):
        at = self.attrs(el, "joint", childclass)
        jtype = "free" if el.tag == "freejoint" else at.get("type", "hinge")
        self.check_attrs(el, at, f"joint {at.get('name', '')!r}", {"type", "axis", "pos", "damping", "armature",
                                                                   "name", "range", "limited", "stiffness", "ref",
                                                                   "springref", "margin", "solreflimit",
                                                                   "solimplimit"})
        limited = at.get("limited") == "true" or (
            self.autolimits and "range" in at and at.get("limited", "auto") == "auto")
        with self.at(el):
            rng = None
            if limited:
                rng = _floats(at["range"], 2, "joint range")
                if jtype == "hinge":
                    rng = np.array([self.angle(x) for x in rng])
                margin = float(at.get("margin", 0.0))  # MuJoCo: the limit acts within margin of the range's ends
                rng = rng + np.array([margin, -margin])
            ref, springref = float(at.get("ref", 0.0)), float(at.get("springref", 0.0))
            if jtype == "hinge":
                ref, springref = self.angle(ref), self.angle(springref)
            self.builder.add_joint(b, jtype, _floats(at.get("axis", "0 0 1"), 3, "joint axis"),
                                   _floats(at.get("pos", "0 0 0"), 3, "joint pos"),
                                   float(at.get("damping", 0.0)), float(at.get("armature", 0.0)),
                                   at.get("name"), None if rng is None else tuple(rng), ref,
                                   float(at.get("stiffness", 0.0)), springref,
                                   solreflimit=_floats(at.get("solreflimit", "0.02 1")) if limited else None,
                                   solimplimit=_floats(at.get("solimplimit", "0.9 0.95 0.001")) if limited else None)

    def inertial(self, el, b):
        if self.inertiafromgeom == "true":  # MuJoCo then takes every body's inertia from its geoms
            self.ignore(el, "<inertial> (inertiafromgeom='true')")
            return
        pos, quat = self.frame(el, "inertial")
        with self.at(el):
            mass = float(el.get("mass"))
            if el.get("fullinertia") is not None:
                xx, yy, zz, xy, xz, yz = _floats(el.get("fullinertia"), 6, "fullinertia")
                inertia = np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])
                self.builder.set_inertial(b, mass, pos, inertia)
            else:
                diag = _floats(el.get("diaginertia", "0 0 0"), 3, "diaginertia")
                self.builder.set_inertial(b, mass, pos, diag, quat)

    def geom(self, el, b, childclass):
        at = self.attrs(el, "geom", childclass)
        self.check_attrs(el, at, f"geom {at.get('name', '')!r}", {*_ORIENTATIONS, "type", "size", "pos", "fromto",
                                                                  "mass", "density", "friction", "name", "contype",
                                                                  "conaffinity", "condim", "margin", "solref",
                                                                  "solimp", "priority", "solmix", "gap"},
                         _IGNORED_GEOM_ATTRS)
        if float(at.get("gap", 0.0)) != 0.0:
            self.fail(el, f"geom {at.get('name', '')!r}: gap (contacts detected before they act) is not modelled; "
                          "only gap = 0 is supported")
        gtype = at.get("type", "sphere")
        if "fromto" in at:
            with self.at(el):
                size = _floats(at.get("size", "0 0 0"))
                ft = _floats(at["fromto"], 6, "fromto")
            a, c = ft[:3], ft[3:]
            d = c - a
            length = np.linalg.norm(d)
            if not length > 0:
                self.fail(el, f"geom {at.get('name', '')!r}: fromto needs two different points, got {at['fromto']!r}")
            pos, quat = (a + c) / 2, _z_to(d / length)
            size = np.array([size[0], length / 2])
        else:
            with self.at(el):
                size = _floats(at.get("size", "0 0 0"))
            pos, quat = self.frame(el, f"geom {at.get('name', '')!r}")
        with self.at(el):
            friction = float(at.get("friction", "1").split()[0])
            mass = float(at["mass"]) if "mass" in at else None
            flags = (int(at.get("contype", 1)), int(at.get("conaffinity", 1)))
            args = (gtype, size, pos, quat, mass, float(at.get("density", 1000.0)), friction, at.get("name"))
            contact = dict(contype=flags[0], conaffinity=flags[1], margin=float(at.get("margin", 0.0)),
                           solref=_floats(at.get("solref", "0.02 1")),
                           solimp=_floats(at.get("solimp", "0.9 0.95 0.001")),
                           condim=int(at.get("condim", 3)), priority=int(at.get("priority", 0)),
                           solmix=float(at.get("solmix", 1.0)))
            if b < 0:
                self.world_geoms.append((el, at.get("name", ""), gtype, flags, args, contact))
                return
            self.body_geoms.append(flags)
            self.builder.add_geom(b, *args, **contact)
            self.geom_elements[id(self.builder.bodies[b].geoms[-1])] = el


def parse_mjcf(path_or_xml: str, unsupported_contacts: str = "raise") -> ModelBuilder:
    """Parse an MJCF file path or XML string into a :class:`ModelBuilder`. Body-geom pairs that MuJoCo would
    collide but this engine cannot (any but sphere-sphere) raise, or with ``unsupported_contacts="ignore"`` are
    listed in ``Model.ignored``."""
    text, source = path_or_xml, "<string>"
    if not path_or_xml.lstrip().startswith("<"):
        if not os.path.exists(path_or_xml):
            raise FileNotFoundError(f"MJCF file not found: {path_or_xml}")
        with open(path_or_xml) as f:
            text = f.read()
        source = path_or_xml
    return _Parser(_parse_xml(text, source), source, unsupported_contacts).run()


def load_mjcf(path_or_xml: str, num_worlds: int = 1, device: str | None = None, dtype=None,
              timestep: float | None = None, unsupported_contacts: str = "raise", structure: str = "auto",
              friction_smoothing: float = FRICTION_SMOOTHING) -> Model:
    """Build a :class:`Model` from an MJCF file or string; ``timestep`` overrides the file's (see
    :func:`parse_mjcf` for ``unsupported_contacts``); ``structure`` is how its dynamics run (``Model.structure``:
    "auto", "generated" or "loops"); ``friction_smoothing`` (m/s) the slip speed of its smooth Coulomb friction
    (``Model.friction_smoothing``)."""
    if structure not in STRUCTURES:
        raise ValueError(f"structure must be one of {STRUCTURES}, got {structure!r}")
    if isinstance(friction_smoothing, bool) or not isinstance(friction_smoothing, (int, float)) \
            or not 0 < friction_smoothing < math.inf:
        raise ValueError(f"friction_smoothing must be a finite slip speed > 0 (m/s), got {friction_smoothing!r}")
    builder = parse_mjcf(path_or_xml, unsupported_contacts)
    if timestep is not None:
        if not timestep > 0:
            raise ValueError(f"timestep must be > 0 (s), got {timestep!r}")
        builder.timestep = float(timestep)
    return dataclasses.replace(builder.finalize(num_worlds=num_worlds, device=device, dtype=dtype),
                               structure=structure, friction_smoothing=float(friction_smoothing))
