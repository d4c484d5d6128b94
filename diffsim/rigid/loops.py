"""The rigid-body dynamics as loops over model arrays: one Warp module for every model.

:mod:`diffsim.rigid.codegen` writes each model's dynamics as straight-line code, the fastest form to run and
the slowest to compile: its compile time grows with the number of (dof, ancestor dof) pairs and contacts (cold,
on a 2-core Xeon: Ant 71 s with gradients, Humanoid over 15 minutes). Here the same dynamics -- the same
formulas, in the same order -- loop over the bodies, dofs, contacts and factorisation steps of a model
described by arrays, so one module per scalar type serves every model and compiles once.

Data (per model, built on the host by :class:`Program`, once per topology): an int array ``T`` (a header of sizes
and section offsets, then per-body, per-dof and per-contact sections), a float array ``C`` (contact points, planes
and pair segments in body frames, joint reference positions) and the factorisation's operations ``O``. Per
world, the parameters ``P`` and their derived constants ``D`` are those of the generated code (same layout), so a
model runs either way on the same buffers.

Scratch: Warp's adjoint of a loop whose iterations hand values to one another is only correct when those
values go through arrays (a loop's body is replayed per iteration, its array stores are not). So every
intermediate lives in ``X`` (4 RK4 stages, worlds, ``T[NX]`` values): per stage its state and rates, per body
its kinematics and composite-rigid-body sums, per dof its motion subspace, and the mass matrix, forces and
``L^T D L`` factorisation as a straight list of two-operand operations (each writes a new value, none is
overwritten). ``X`` holds one step and is shared by all: a step's adjoint kernel first replays the functions
the step calls, which recomputes ``X`` for that step, and the adjoint of each store clears the gradient
element it reads (Warp 1.19), so ``X``'s gradient is back to zero for the step before.

Supported: hinge, slide and free joints, welded bodies, damping, armature, joint springs and soft limits,
joint motors, contacts of spheres, capsules and boxes with planes and of sphere/capsule pairs, and the linearly
implicit step (``step_implicit``: the plane contacts' and limits' ``hd B + hd^2 K`` added to the mass matrix through
each contact point's Jacobian, kept per contact in ``X``). Models that
need more (site motors, fluid drag, cylinders) use the generated code (:func:`supports` says which).
"""
from __future__ import annotations

import numpy as np
import warp as wp

from diffsim import runtime
from diffsim.rigid import codegen
from diffsim.rigid.model import FRICTION_SMOOTHING, STRUCTURES

# --- header of T: sizes, then the offsets of T's sections and of X's regions, then the parameter offsets
_HEADER = ("NB", "NQ", "NV", "NU", "NX", "NCP", "NPAIR", "NOPS",
           "T_PARENT", "T_JTYPE", "T_QADR", "T_DADR", "T_DOFBODY", "T_DOFKIND", "T_DOFCOMP", "T_DOFQADR",
           "T_DOFFLAG", "T_ACTDOF", "T_MSTART", "T_MANC", "T_MSLOT", "T_FSLOT", "T_QASLOT", "T_CP",
           "T_PAIR", "T_BODYDOF",
           "X_Q", "X_V", "X_KQ", "X_KV", "X_BODY", "X_DOF", "X_VAL", "X_CP",
           "C_REF",
           "P_BODY_POS", "P_BODY_MASS", "P_BODY_IPOS", "P_BODY_INERTIA", "P_JOINT_POS", "P_DOF_DAMPING",
           "P_DOF_ARMATURE", "P_ACTUATOR_GEAR", "P_GRAVITY", "P_GEOM_CONTACT", "P_DOF_RANGE", "P_DOF_STIFFNESS",
           "P_DOF_SPRINGREF", "P_PAIR_CONTACT", "P_DOF_LIMIT")
H = {name: i for i, name in enumerate(_HEADER)}

# per body in X: pose, COM, world inertia, velocities and their rates at qacc = 0, joint axis and anchor,
# then the composite (subtree) mass, first moment, inertia, force and torque about the first body's COM
B_X, B_R, B_C, B_I, B_OM, B_V, B_AL, B_ACC, B_AX, B_RJ = 0, 3, 12, 15, 24, 27, 30, 33, 36, 39
B_TM, B_TH, B_TJ, B_TF, B_TN = 42, 43, 46, 55, 58
BODY_STRIDE = 61
DOF_STRIDE = 6  # per dof: angular and linear motion subspace about the point org
CP_STRIDE = 3  # per geom-plane contact point in T: body, geom, offset into C (local point 3, reach, normal 3,
# plane offset)
PAIR_STRIDE = 4  # per geom pair in T: body 1, body 2, pair index, offset into C (u0, u1, w0, w1, reach, radius 2)
CP_X_STRIDE = 12  # per geom-plane contact point in X (implicit step): its world point, then hd B + hd^2 K (3 x 3)
FLAG_LIMITED, FLAG_SPRUNG = 1, 2

_SOURCE = '''"""diffsim.rigid.loops: the rigid-body dynamics of any model, as loops over its arrays."""
import warp as wp

wp.set_module_options({options})

S = wp.{scalar}
V3 = wp.types.vector(3, S)
M33 = wp.types.matrix((3, 3), S)
Q4 = wp.types.quaternion(S)
{header}
E0 = wp.constant(V3(S(1.0), S(0.0), S(0.0)))
E1 = wp.constant(V3(S(0.0), S(1.0), S(0.0)))
E2 = wp.constant(V3(S(0.0), S(0.0), S(1.0)))
ID3 = wp.constant(M33(S(1.0), S(0.0), S(0.0), S(0.0), S(1.0), S(0.0), S(0.0), S(0.0), S(1.0)))
{helpers}

@wp.func
def ld3(X: wp.array3d(dtype=S), s: int, w: int, o: int):
    return V3(X[s, w, o], X[s, w, o + 1], X[s, w, o + 2])


@wp.func
def st3(X: wp.array3d(dtype=S), s: int, w: int, o: int, v: V3):
    X[s, w, o] = v[0]
    X[s, w, o + 1] = v[1]
    X[s, w, o + 2] = v[2]


@wp.func
def add3(X: wp.array3d(dtype=S), s: int, w: int, o: int, v: V3):
    wp.atomic_add(X, s, w, o, v[0])
    wp.atomic_add(X, s, w, o + 1, v[1])
    wp.atomic_add(X, s, w, o + 2, v[2])


@wp.func
def ld33(X: wp.array3d(dtype=S), s: int, w: int, o: int):
    return M33(X[s, w, o], X[s, w, o + 1], X[s, w, o + 2], X[s, w, o + 3], X[s, w, o + 4], X[s, w, o + 5],
               X[s, w, o + 6], X[s, w, o + 7], X[s, w, o + 8])


@wp.func
def st33(X: wp.array3d(dtype=S), s: int, w: int, o: int, m: M33):
    for i in range(3):
        for j in range(3):
            X[s, w, o + 3 * i + j] = m[i, j]


@wp.func
def add33(X: wp.array3d(dtype=S), s: int, w: int, o: int, m: M33):
    for i in range(3):
        for j in range(3):
            wp.atomic_add(X, s, w, o + 3 * i + j, m[i, j])


@wp.func
def p3(P: wp.array2d(dtype=S), w: int, o: int):
    return V3(P[w, o], P[w, o + 1], P[w, o + 2])


@wp.func
def c3(C: wp.array(dtype=S), o: int):
    return V3(C[o], C[o + 1], C[o + 2])


@wp.func
def body_kinematics(b: int, X: wp.array3d(dtype=S), s: int, w: int, T: wp.array(dtype=int), C: wp.array(dtype=S),
                    P: wp.array2d(dtype=S), D: wp.array2d(dtype=S), pi: int):
    """Body b's pose, COM, world inertia, velocity and (at qacc = 0) its rates, and its own inertial force,
    from its parent's (stored before: parents come first) and the stage's state; codegen._body_lines."""
    p = T[T[T_PARENT] + b]
    jt = T[T[T_JTYPE] + b]
    a = T[T[T_QADR] + b]
    d = T[T[T_DADR] + b]
    ob = T[X_BODY] + BODY_STRIDE * b
    oq = T[X_Q]
    ov = T[X_V]
    zero = V3(S(0.0), S(0.0), S(0.0))
    wpar = zero
    vpar = zero
    alpar = zero
    apar = zero
    cpar = zero
    Rpar = ID3
    xpar = zero
    if p >= 0:
        op = T[X_BODY] + BODY_STRIDE * p
        wpar = ld3(X, s, w, op + B_OM)
        vpar = ld3(X, s, w, op + B_V)
        alpar = ld3(X, s, w, op + B_AL)
        apar = ld3(X, s, w, op + B_ACC)
        cpar = ld3(X, s, w, op + B_C)
        Rpar = ld33(X, s, w, op + B_R)
        xpar = ld3(X, s, w, op + B_X)
    base = DERIVED_PER_BODY * b
    Rl = M33(D[pi, base], D[pi, base + 1], D[pi, base + 2], D[pi, base + 3], D[pi, base + 4], D[pi, base + 5],
             D[pi, base + 6], D[pi, base + 7], D[pi, base + 8])
    axis = V3(D[pi, base + 9], D[pi, base + 10], D[pi, base + 11])
    R0 = Rpar @ Rl
    x0 = xpar + Rpar @ p3(P, pi, T[P_BODY_POS] + 3 * b)
    jp = p3(P, pi, T[P_JOINT_POS] + 3 * b)
    ax = R0 @ axis
    r = x0 + R0 @ jp
    R = R0
    x = x0
    if jt == JOINT_FREE:
        x = V3(X[s, w, oq + a], X[s, w, oq + a + 1], X[s, w, oq + a + 2])
        R = wp.quat_to_matrix(wp.normalize(Q4(X[s, w, oq + a + 4], X[s, w, oq + a + 5], X[s, w, oq + a + 6],
                                              X[s, w, oq + a + 3])))
    elif jt == JOINT_HINGE:
        R = R0 @ wp.quat_to_matrix(wp.quat_from_axis_angle(axis, X[s, w, oq + a] - C[T[C_REF] + b]))
        x = r - R @ jp
    elif jt == JOINT_SLIDE:
        x = x0 + ax * (X[s, w, oq + a] - C[T[C_REF] + b])
    c = x + R @ p3(P, pi, T[P_BODY_IPOS] + 3 * b)
    io = T[P_BODY_INERTIA] + 9 * b
    Ib = M33(P[pi, io], P[pi, io + 1], P[pi, io + 2], P[pi, io + 3], P[pi, io + 4], P[pi, io + 5], P[pi, io + 6],
             P[pi, io + 7], P[pi, io + 8])
    I = R @ Ib @ wp.transpose(R)
    m = P[pi, T[P_BODY_MASS] + b]
    rho = c - cpar
    om = wpar
    v = vpar + wp.cross(wpar, rho)
    al = alpar
    acc = apar + wp.cross(alpar, rho) + wp.cross(wpar, v - vpar)
    if jt == JOINT_HINGE:
        qd = X[s, w, ov + d]
        om = wpar + ax * qd
        v = vpar + wp.cross(wpar, rho) + qd * wp.cross(ax, c - r)
        vr = vpar + wp.cross(wpar, r - cpar)
        adot = wp.cross(wpar, ax)
        al = alpar + qd * adot
        acc = (apar + wp.cross(alpar, rho) + wp.cross(wpar, v - vpar)
               + qd * (wp.cross(adot, c - r) + wp.cross(ax, v - vr)))
    elif jt == JOINT_SLIDE:
        qd = X[s, w, ov + d]
        v = vpar + wp.cross(wpar, rho) + ax * qd
        acc = apar + wp.cross(alpar, rho) + wp.cross(wpar, v - vpar) + qd * wp.cross(wpar, ax)
    elif jt == JOINT_FREE:
        om = R @ V3(X[s, w, ov + d + 3], X[s, w, ov + d + 4], X[s, w, ov + d + 5])
        v = V3(X[s, w, ov + d], X[s, w, ov + d + 1], X[s, w, ov + d + 2]) + wp.cross(om, c - x)
        al = zero
        acc = wp.cross(om, wp.cross(om, c - x))
    st3(X, s, w, ob + B_X, x)
    st33(X, s, w, ob + B_R, R)
    st3(X, s, w, ob + B_C, c)
    st33(X, s, w, ob + B_I, I)
    st3(X, s, w, ob + B_OM, om)
    st3(X, s, w, ob + B_V, v)
    st3(X, s, w, ob + B_AL, al)
    st3(X, s, w, ob + B_ACC, acc)
    st3(X, s, w, ob + B_AX, ax)
    st3(X, s, w, ob + B_RJ, r)
    return m


@wp.func
def body_own(b: int, m: S, X: wp.array3d(dtype=S), s: int, w: int, T: wp.array(dtype=int), P: wp.array2d(dtype=S),
             pi: int):
    """Body b's own share of the composite sums about org (the first body's COM); contacts and the children's
    shares are added to them later."""
    ob = T[X_BODY] + BODY_STRIDE * b
    org = ld3(X, s, w, T[X_BODY] + B_C)
    c = ld3(X, s, w, ob + B_C)
    I = ld33(X, s, w, ob + B_I)
    om = ld3(X, s, w, ob + B_OM)
    F = m * (ld3(X, s, w, ob + B_ACC) - p3(P, pi, T[P_GRAVITY]))
    Tq = I @ ld3(X, s, w, ob + B_AL) + wp.cross(om, I @ om)
    cr = c - org
    X[s, w, ob + B_TM] = m
    st3(X, s, w, ob + B_TH, m * cr)
    st33(X, s, w, ob + B_TJ, I + m * (wp.dot(cr, cr) * ID3 - wp.outer(cr, cr)))
    st3(X, s, w, ob + B_TF, F)
    st3(X, s, w, ob + B_TN, Tq + wp.cross(cr, F))


@wp.func
def push_force(b: int, f: V3, point: V3, X: wp.array3d(dtype=S), s: int, w: int, T: wp.array(dtype=int)):
    """An external force f at a world point on body b: subtracted from what the dofs must supply."""
    ob = T[X_BODY] + BODY_STRIDE * b
    org = ld3(X, s, w, T[X_BODY] + B_C)
    add3(X, s, w, ob + B_TF, -f)
    add3(X, s, w, ob + B_TN, -wp.cross(point - org, f))


@wp.func
def plane_contact(i: int, X: wp.array3d(dtype=S), s: int, w: int, T: wp.array(dtype=int), C: wp.array(dtype=S),
                  P: wp.array2d(dtype=S), pi: int, hd: S, implicit: int):
    """Plane contact point i's force on its body; ``implicit`` != 0: linearised for a step of size hd
    (codegen's ``contact_force_implicit``), its point and ``hd B + hd^2 K`` stored for
    :func:`implicit_contact_terms`."""
    e = T[T_CP] + CP_STRIDE * i
    b = T[e]
    g = T[e + 1]
    o = T[e + 2]
    ob = T[X_BODY] + BODY_STRIDE * b
    x = ld3(X, s, w, ob + B_X)
    R = ld33(X, s, w, ob + B_R)
    n = c3(C, o + 4)
    pc = x + R @ c3(C, o) - C[o + 3] * n
    vel = ld3(X, s, w, ob + B_V) + wp.cross(ld3(X, s, w, ob + B_OM), pc - ld3(X, s, w, ob + B_C))
    gp = T[P_GEOM_CONTACT] + 3 * g
    f = V3(S(0.0), S(0.0), S(0.0))
    if implicit != 0:
        f, cm = contact_force_implicit(pc, vel, n, C[o + 7], P[pi, gp], P[pi, gp + 1], P[pi, gp + 2], hd)
        oc = T[X_CP] + CP_X_STRIDE * i
        st3(X, s, w, oc, pc)
        st33(X, s, w, oc + 3, cm)
    else:
        f = contact_force(pc, vel, n, C[o + 7], P[pi, gp], P[pi, gp + 1], P[pi, gp + 2])
    push_force(b, f, pc, X, s, w, T)


@wp.func
def pair_contact(i: int, X: wp.array3d(dtype=S), s: int, w: int, T: wp.array(dtype=int), C: wp.array(dtype=S),
                 P: wp.array2d(dtype=S), pi: int):
    e = T[T_PAIR] + PAIR_STRIDE * i
    b1 = T[e]
    b2 = T[e + 1]
    pr = T[P_PAIR_CONTACT] + 3 * T[e + 2]
    o = T[e + 3]
    o1 = T[X_BODY] + BODY_STRIDE * b1
    o2 = T[X_BODY] + BODY_STRIDE * b2
    x1 = ld3(X, s, w, o1 + B_X)
    R1 = ld33(X, s, w, o1 + B_R)
    x2 = ld3(X, s, w, o2 + B_X)
    R2 = ld33(X, s, w, o2 + B_R)
    s1, s2 = closest_points(x1 + R1 @ c3(C, o), x1 + R1 @ c3(C, o + 3), x2 + R2 @ c3(C, o + 6),
                            x2 + R2 @ c3(C, o + 9))
    dd = s2 - s1
    nn = dd / wp.sqrt(wp.dot(dd, dd) + S(1e-18))
    pc = s1 + C[o + 12] * nn
    vrel = ((ld3(X, s, w, o1 + B_V) + wp.cross(ld3(X, s, w, o1 + B_OM), pc - ld3(X, s, w, o1 + B_C)))
            - (ld3(X, s, w, o2 + B_V) + wp.cross(ld3(X, s, w, o2 + B_OM), pc - ld3(X, s, w, o2 + B_C))))
    f = contact_force(pc, vrel, -nn, wp.dot(-nn, s2) + C[o + 13], P[pi, pr], P[pi, pr + 1], P[pi, pr + 2])
    push_force(b1, f, pc, X, s, w, T)
    push_force(b2, -f, pc, X, s, w, T)


@wp.func
def implicit_contact_terms(i: int, X: wp.array3d(dtype=S), s: int, w: int, T: wp.array(dtype=int),
                           C: wp.array(dtype=S)):
    """M_ij += J_i . (iC J_j) for plane contact point i, iC = hd B + hd^2 K, over every pair of dofs i <= j moving its
    body (codegen._implicit_contact_terms); nothing beyond the contact cutoff, where iC is zero."""
    e = T[T_CP] + CP_STRIDE * i
    o = T[e + 2]
    d = T[T[T_BODYDOF] + T[e]]
    oc = T[X_CP] + CP_X_STRIDE * i
    pc = ld3(X, s, w, oc)
    if d >= 0 and wp.dot(c3(C, o + 4), pc) < C[o + 7] + S({cutoff}):
        iC = ld33(X, s, w, oc + 3)
        r = pc - ld3(X, s, w, T[X_BODY] + B_C)
        for e1 in range(T[T[T_MSTART] + d], T[T[T_MSTART] + d + 1]):  # d and its ancestors: the dofs moving it
            j = T[T[T_MANC] + e1]
            oj = T[X_DOF] + DOF_STRIDE * j
            cj = iC @ (wp.cross(ld3(X, s, w, oj), r) + ld3(X, s, w, oj + 3))
            for e2 in range(T[T[T_MSTART] + j], T[T[T_MSTART] + j + 1]):
                oi = T[X_DOF] + DOF_STRIDE * T[T[T_MANC] + e2]
                ji = wp.cross(ld3(X, s, w, oi), r) + ld3(X, s, w, oi + 3)
                wp.atomic_add(X, s, w, T[X_VAL] + T[T[T_MSLOT] + e2], wp.dot(ji, cj))


@wp.func
def implicit_limit_terms(j: int, X: wp.array3d(dtype=S), s: int, w: int, T: wp.array(dtype=int),
                         P: wp.array2d(dtype=S), pi: int, hd: S):
    """Dof j's soft limit linearised for a step of size hd: M_jj += hd b + hd^2 k, f_j -= hd k qd_j."""
    if (T[T[T_DOFFLAG] + j] & FLAG_LIMITED) != 0:
        lr = T[P_DOF_RANGE] + 2 * j
        ll = T[P_DOF_LIMIT] + 2 * j
        lb, lk = limit_derivatives(X[s, w, T[X_Q] + T[T[T_DOFQADR] + j]], P[pi, lr], P[pi, lr + 1], P[pi, ll],
                                   P[pi, ll + 1])
        ov = T[X_VAL]
        wp.atomic_add(X, s, w, ov + T[T[T_MSLOT] + T[T[T_MSTART] + j + 1] - 1], hd * lb + hd * hd * lk)
        wp.atomic_add(X, s, w, ov + T[T[T_FSLOT] + j], -hd * lk * X[s, w, T[X_V] + j])


@wp.func
def dof_subspace(j: int, X: wp.array3d(dtype=S), s: int, w: int, T: wp.array(dtype=int)):
    """Store dof j's motion subspace (angular, linear) about org; codegen._motion_subspace."""
    b = T[T[T_DOFBODY] + j]
    kind = T[T[T_DOFKIND] + j]
    k = T[T[T_DOFCOMP] + j]
    ob = T[X_BODY] + BODY_STRIDE * b
    org = ld3(X, s, w, T[X_BODY] + B_C)
    sw = V3(S(0.0), S(0.0), S(0.0))
    sv = sw
    if kind == JOINT_HINGE:
        sw = ld3(X, s, w, ob + B_AX)
        sv = wp.cross(ld3(X, s, w, ob + B_RJ) - org, sw)
    elif kind == JOINT_SLIDE:
        sv = ld3(X, s, w, ob + B_AX)
    elif kind == DOF_FREE_LIN:
        if k == 0:
            sv = E0
        elif k == 1:
            sv = E1
        else:
            sv = E2
    else:
        R = ld33(X, s, w, ob + B_R)
        sw = V3(R[0, k], R[1, k], R[2, k])
        sv = wp.cross(ld3(X, s, w, ob + B_X) - org, sw)
    od = T[X_DOF] + DOF_STRIDE * j
    st3(X, s, w, od, sw)
    st3(X, s, w, od + 3, sv)


@wp.func
def mass_entry(i: int, j: int, slot: int, Lm: V3, pm: V3, X: wp.array3d(dtype=S), s: int, w: int,
               T: wp.array(dtype=int), P: wp.array2d(dtype=S), pi: int, hd: S):
    oi = T[X_DOF] + DOF_STRIDE * i
    val = wp.dot(ld3(X, s, w, oi), Lm) + wp.dot(ld3(X, s, w, oi + 3), pm)
    if i == j:
        val = val + P[pi, T[P_DOF_ARMATURE] + i] + hd * P[pi, T[P_DOF_DAMPING] + i]
    X[s, w, T[X_VAL] + slot] = val


@wp.func
def dof_force(j: int, X: wp.array3d(dtype=S), s: int, w: int, T: wp.array(dtype=int), P: wp.array2d(dtype=S),
              pi: int):
    """Store dof j's mass-matrix column over its ancestors and its generalised force (without motors)."""
    b = T[T[T_DOFBODY] + j]
    ob = T[X_BODY] + BODY_STRIDE * b
    od = T[X_DOF] + DOF_STRIDE * j
    sw = ld3(X, s, w, od)
    sv = ld3(X, s, w, od + 3)
    tm = X[s, w, ob + B_TM]
    th = ld3(X, s, w, ob + B_TH)
    Lm = ld33(X, s, w, ob + B_TJ) @ sw + wp.cross(th, sv)
    pm = tm * sv + wp.cross(sw, th)
    bias = wp.dot(sw, ld3(X, s, w, ob + B_TN)) + wp.dot(sv, ld3(X, s, w, ob + B_TF))
    qd = X[s, w, T[X_V] + j]
    f = -P[pi, T[P_DOF_DAMPING] + j] * qd
    flag = T[T[T_DOFFLAG] + j]
    q = X[s, w, T[X_Q] + T[T[T_DOFQADR] + j]]
    if (flag & FLAG_SPRUNG) != 0:
        f = f - P[pi, T[P_DOF_STIFFNESS] + j] * (q - P[pi, T[P_DOF_SPRINGREF] + j])
    if (flag & FLAG_LIMITED) != 0:
        lr = T[P_DOF_RANGE] + 2 * j
        ll = T[P_DOF_LIMIT] + 2 * j
        f = f + joint_limit(q, qd, P[pi, lr], P[pi, lr + 1], P[pi, ll], P[pi, ll + 1])
    X[s, w, T[X_VAL] + T[T[T_FSLOT] + j]] = f - bias
    return Lm, pm


# Replays. The adjoint of a loop replays each iteration's calls before reversing it; these calls only store into X,
# which the step kernel's own replay has already recomputed (and their adjoints recompute what they need), so
# their replay does nothing -- or returns what the enclosing loop needs. This also keeps the replayed atomic adds
# from adding twice.
@wp.func_replay(add3)
def replay_add3(X: wp.array3d(dtype=S), s: int, w: int, o: int, v: V3):
    pass


@wp.func_replay(add33)
def replay_add33(X: wp.array3d(dtype=S), s: int, w: int, o: int, m: M33):
    pass


@wp.func_replay(body_kinematics)
def replay_body_kinematics(b: int, X: wp.array3d(dtype=S), s: int, w: int, T: wp.array(dtype=int),
                           C: wp.array(dtype=S), P: wp.array2d(dtype=S), D: wp.array2d(dtype=S), pi: int):
    return P[pi, T[P_BODY_MASS] + b]


@wp.func_replay(body_own)
def replay_body_own(b: int, m: S, X: wp.array3d(dtype=S), s: int, w: int, T: wp.array(dtype=int),
                    P: wp.array2d(dtype=S), pi: int):
    pass


@wp.func_replay(plane_contact)
def replay_plane_contact(i: int, X: wp.array3d(dtype=S), s: int, w: int, T: wp.array(dtype=int),
                         C: wp.array(dtype=S), P: wp.array2d(dtype=S), pi: int, hd: S, implicit: int):
    pass


@wp.func_replay(implicit_contact_terms)
def replay_implicit_contact_terms(i: int, X: wp.array3d(dtype=S), s: int, w: int, T: wp.array(dtype=int),
                                  C: wp.array(dtype=S)):
    pass


@wp.func_replay(implicit_limit_terms)
def replay_implicit_limit_terms(j: int, X: wp.array3d(dtype=S), s: int, w: int, T: wp.array(dtype=int),
                                P: wp.array2d(dtype=S), pi: int, hd: S):
    pass


@wp.func_replay(pair_contact)
def replay_pair_contact(i: int, X: wp.array3d(dtype=S), s: int, w: int, T: wp.array(dtype=int),
                        C: wp.array(dtype=S), P: wp.array2d(dtype=S), pi: int):
    pass


@wp.func_replay(dof_subspace)
def replay_dof_subspace(j: int, X: wp.array3d(dtype=S), s: int, w: int, T: wp.array(dtype=int)):
    pass


@wp.func_replay(mass_entry)
def replay_mass_entry(i: int, j: int, slot: int, Lm: V3, pm: V3, X: wp.array3d(dtype=S), s: int, w: int,
                      T: wp.array(dtype=int), P: wp.array2d(dtype=S), pi: int, hd: S):
    pass


@wp.func
def qacc(X: wp.array3d(dtype=S), s: int, w: int, T: wp.array(dtype=int), C: wp.array(dtype=S),
         O: wp.array(dtype=wp.vec4i), P: wp.array2d(dtype=S), D: wp.array2d(dtype=S), U: wp.array3d(dtype=S),
         k: int, nu: int, pi: int, hd: S, implicit: int):
    """Stage s's accelerations into X[s, w, X_KV:]: M^-1 (f - c) as codegen's qacc, with hd the step of
    implicit joint damping (0 for an explicit evaluation); ``implicit`` != 0: the plane contacts and joint limits
    linearly implicit too (codegen's ``dynamics_implicit``)."""
    for b in range(T[NB]):
        m = body_kinematics(b, X, s, w, T, C, P, D, pi)
        body_own(b, m, X, s, w, T, P, pi)
    for i in range(T[NCP]):
        plane_contact(i, X, s, w, T, C, P, pi, hd, implicit)
    for i in range(T[NPAIR]):
        pair_contact(i, X, s, w, T, C, P, pi)
    for bb in range(T[NB] - 1):  # children (higher index) into parents, leaves first
        b = T[NB] - 1 - bb
        p = T[T[T_PARENT] + b]
        if p >= 0:
            ob = T[X_BODY] + BODY_STRIDE * b
            op = T[X_BODY] + BODY_STRIDE * p
            wp.atomic_add(X, s, w, op + B_TM, X[s, w, ob + B_TM])
            add3(X, s, w, op + B_TH, ld3(X, s, w, ob + B_TH))
            add33(X, s, w, op + B_TJ, ld33(X, s, w, ob + B_TJ))
            add3(X, s, w, op + B_TF, ld3(X, s, w, ob + B_TF))
            add3(X, s, w, op + B_TN, ld3(X, s, w, ob + B_TN))
    for j in range(T[NV]):
        dof_subspace(j, X, s, w, T)
        Lm, pm = dof_force(j, X, s, w, T, P, pi)
        for e in range(T[T[T_MSTART] + j], T[T[T_MSTART] + j + 1]):
            mass_entry(T[T[T_MANC] + e], j, T[T[T_MSLOT] + e], Lm, pm, X, s, w, T, P, pi, hd)
    if implicit != 0:
        for i in range(T[NCP]):
            implicit_contact_terms(i, X, s, w, T, C)
        for j in range(T[NV]):
            implicit_limit_terms(j, X, s, w, T, P, pi, hd)
    for a in range(nu):
        d = T[T[T_ACTDOF] + a]
        if d >= 0:
            wp.atomic_add(X, s, w, T[X_VAL] + T[T[T_FSLOT] + d], P[pi, T[P_ACTUATOR_GEAR] + 6 * a] * U[k, w, a])
    ov = T[X_VAL]
    for i in range(T[NOPS]):  # (out, a, b, c): out = a - b c; (-out - 1, a, b, 0): out = a / b
        f = O[i]
        if f[0] >= 0:
            X[s, w, ov + f[0]] = X[s, w, ov + f[1]] - X[s, w, ov + f[2]] * X[s, w, ov + f[3]]
        else:
            X[s, w, ov - f[0] - 1] = X[s, w, ov + f[1]] / X[s, w, ov + f[2]]
    for j in range(T[NV]):
        X[s, w, T[X_KV] + j] = X[s, w, ov + T[T[T_QASLOT] + j]]


@wp.func
def qpos_rate(X: wp.array3d(dtype=S), s: int, w: int, T: wp.array(dtype=int)):
    """Stage s's dq/dt into X[s, w, X_KQ:]; a free joint's quaternion as a 4-vector, 0.5 q * (0, w_local)."""
    oq = T[X_Q]
    ov = T[X_V]
    okq = T[X_KQ]
    for b in range(T[NB]):
        jt = T[T[T_JTYPE] + b]
        a = T[T[T_QADR] + b]
        d = T[T[T_DADR] + b]
        if jt == JOINT_HINGE or jt == JOINT_SLIDE:
            X[s, w, okq + a] = X[s, w, ov + d]
        elif jt == JOINT_FREE:
            for i in range(3):
                X[s, w, okq + a + i] = X[s, w, ov + d + i]
            dq = S(0.5) * (Q4(X[s, w, oq + a + 4], X[s, w, oq + a + 5], X[s, w, oq + a + 6], X[s, w, oq + a + 3])
                           * Q4(X[s, w, ov + d + 3], X[s, w, ov + d + 4], X[s, w, ov + d + 5], S(0.0)))
            X[s, w, okq + a + 3] = dq[3]
            X[s, w, okq + a + 4] = dq[0]
            X[s, w, okq + a + 5] = dq[1]
            X[s, w, okq + a + 6] = dq[2]


@wp.func
def stage_state(X: wp.array3d(dtype=S), s: int, r: int, w: int, T: wp.array(dtype=int), Q: wp.array3d(dtype=S),
                QD: wp.array3d(dtype=S), k: int, ch: S):
    """Stage s's state: the step's initial state plus ch times stage r's rates (r < 0: the initial state)."""
    for i in range(T[NQ]):
        y = Q[k, w, i]
        if r >= 0:
            y = y + ch * X[r, w, T[X_KQ] + i]
        X[s, w, T[X_Q] + i] = y
    for i in range(T[NV]):
        y = QD[k, w, i]
        if r >= 0:
            y = y + ch * X[r, w, T[X_KV] + i]
        X[s, w, T[X_V] + i] = y


@wp.kernel
def step_rk4(Q: wp.array3d(dtype=S), QD: wp.array3d(dtype=S), U: wp.array3d(dtype=S), P: wp.array2d(dtype=S),
             D: wp.array2d(dtype=S), T: wp.array(dtype=int), C: wp.array(dtype=S), O: wp.array(dtype=wp.vec4i),
             X: wp.array3d(dtype=S), pw: int, nu: int, k: int, h: S, b0: S, b1: S, b2: S, b3: S, w0: int):
    # classic RK4 on (qpos, qvel), quaternions as 4-vectors (matches MuJoCo's mjINT_RK4 and codegen's step_rk4)
    w = wp.tid() + w0
    pi = w * pw
    stage_state(X, 0, -1, w, T, Q, QD, k, S(0.0))
    qpos_rate(X, 0, w, T)
    qacc(X, 0, w, T, C, O, P, D, U, k, nu, pi, S(0.0), 0)
    stage_state(X, 1, 0, w, T, Q, QD, k, S(0.5) * h)
    qpos_rate(X, 1, w, T)
    qacc(X, 1, w, T, C, O, P, D, U, k, nu, pi, S(0.0), 0)
    stage_state(X, 2, 1, w, T, Q, QD, k, S(0.5) * h)
    qpos_rate(X, 2, w, T)
    qacc(X, 2, w, T, C, O, P, D, U, k, nu, pi, S(0.0), 0)
    stage_state(X, 3, 2, w, T, Q, QD, k, h)
    qpos_rate(X, 3, w, T)
    qacc(X, 3, w, T, C, O, P, D, U, k, nu, pi, S(0.0), 0)
    for i in range(T[NQ]):
        o = T[X_KQ] + i
        Q[k + 1, w, i] = Q[k, w, i] + h * (b0 * X[0, w, o] + b1 * X[1, w, o] + b2 * X[2, w, o] + b3 * X[3, w, o])
    for i in range(T[NV]):
        o = T[X_KV] + i
        QD[k + 1, w, i] = QD[k, w, i] + h * (b0 * X[0, w, o] + b1 * X[1, w, o] + b2 * X[2, w, o]
                                             + b3 * X[3, w, o])


@wp.func
def euler_step(Q: wp.array3d(dtype=S), QD: wp.array3d(dtype=S), U: wp.array3d(dtype=S), P: wp.array2d(dtype=S),
               D: wp.array2d(dtype=S), T: wp.array(dtype=int), C: wp.array(dtype=S), O: wp.array(dtype=wp.vec4i),
               X: wp.array3d(dtype=S), pi: int, nu: int, k: int, h: S, w: int, implicit: int):
    # MuJoCo's Euler: qd' = qd + h (M + h diag(damping))^-1 f(q, qd); q' = q + h qd' (exponential map for
    # quaternions); implicit != 0: linearly implicit in the plane contacts and joint limits too
    stage_state(X, 0, -1, w, T, Q, QD, k, S(0.0))
    qacc(X, 0, w, T, C, O, P, D, U, k, nu, pi, h, implicit)
    for i in range(T[NV]):
        QD[k + 1, w, i] = QD[k, w, i] + h * X[0, w, T[X_KV] + i]
    for b in range(T[NB]):
        jt = T[T[T_JTYPE] + b]
        a = T[T[T_QADR] + b]
        d = T[T[T_DADR] + b]
        if jt == JOINT_HINGE or jt == JOINT_SLIDE:
            Q[k + 1, w, a] = Q[k, w, a] + h * QD[k + 1, w, d]
        elif jt == JOINT_FREE:
            for i in range(3):
                Q[k + 1, w, a + i] = Q[k, w, a + i] + h * QD[k + 1, w, d + i]
            qn = quat_integrate(Q4(Q[k, w, a + 4], Q[k, w, a + 5], Q[k, w, a + 6], Q[k, w, a + 3]),
                                V3(QD[k + 1, w, d + 3], QD[k + 1, w, d + 4], QD[k + 1, w, d + 5]), h)
            Q[k + 1, w, a + 3] = qn[3]
            Q[k + 1, w, a + 4] = qn[0]
            Q[k + 1, w, a + 5] = qn[1]
            Q[k + 1, w, a + 6] = qn[2]


@wp.kernel
def step_euler(Q: wp.array3d(dtype=S), QD: wp.array3d(dtype=S), U: wp.array3d(dtype=S), P: wp.array2d(dtype=S),
               D: wp.array2d(dtype=S), T: wp.array(dtype=int), C: wp.array(dtype=S), O: wp.array(dtype=wp.vec4i),
               X: wp.array3d(dtype=S), pw: int, nu: int, k: int, h: S, b0: S, b1: S, b2: S, b3: S, w0: int):
    w = wp.tid() + w0
    euler_step(Q, QD, U, P, D, T, C, O, X, w * pw, nu, k, h, w, 0)


@wp.kernel
def step_implicit(Q: wp.array3d(dtype=S), QD: wp.array3d(dtype=S), U: wp.array3d(dtype=S), P: wp.array2d(dtype=S),
                  D: wp.array2d(dtype=S), T: wp.array(dtype=int), C: wp.array(dtype=S), O: wp.array(dtype=wp.vec4i),
                  X: wp.array3d(dtype=S), pw: int, nu: int, k: int, h: S, b0: S, b1: S, b2: S, b3: S, w0: int):
    w = wp.tid() + w0
    euler_step(Q, QD, U, P, D, T, C, O, X, w * pw, nu, k, h, w, 1)


@wp.kernel
def kinematics(Q: wp.array2d(dtype=S), QD: wp.array2d(dtype=S), P: wp.array2d(dtype=S), D: wp.array2d(dtype=S),
               T: wp.array(dtype=int), C: wp.array(dtype=S), X: wp.array3d(dtype=S), contacts: int,
               OUT: wp.array3d(dtype=S), L: wp.array2d(dtype=S)):
    """Per body: pose, COM, velocities and (contacts != 0) its contacts' force and torque about the world origin
    (codegen.BODY_KINEMATICS values); per dof its joint-limit force (codegen's kinematics kernel)."""
    w = wp.tid()
    for i in range(T[NQ]):
        X[0, w, T[X_Q] + i] = Q[w, i]
    for i in range(T[NV]):
        X[0, w, T[X_V] + i] = QD[w, i]
    zero = V3(S(0.0), S(0.0), S(0.0))
    for b in range(T[NB]):
        body_kinematics(b, X, 0, w, T, C, P, D, w)
        ob = T[X_BODY] + BODY_STRIDE * b
        st3(X, 0, w, ob + B_TF, zero)
        st3(X, 0, w, ob + B_TN, zero)
    if contacts != 0:
        for i in range(T[NCP]):
            plane_contact(i, X, 0, w, T, C, P, w, S(0.0), 0)
        for i in range(T[NPAIR]):
            pair_contact(i, X, 0, w, T, C, P, w)
    org = ld3(X, 0, w, T[X_BODY] + B_C)
    for b in range(T[NB]):
        ob = T[X_BODY] + BODY_STRIDE * b
        R = ld33(X, 0, w, ob + B_R)
        tf = ld3(X, 0, w, ob + B_TF)
        f = -tf
        tq = -(ld3(X, 0, w, ob + B_TN) + wp.cross(org, tf))
        for k in range(3):
            OUT[w, b, k] = X[0, w, ob + B_X + k]
            OUT[w, b, 12 + k] = X[0, w, ob + B_C + k]
            OUT[w, b, 15 + k] = X[0, w, ob + B_OM + k]
            OUT[w, b, 18 + k] = X[0, w, ob + B_V + k]
            OUT[w, b, 21 + k] = f[k]
            OUT[w, b, 24 + k] = tq[k]
            for j in range(3):
                OUT[w, b, 3 + 3 * k + j] = R[k, j]
    for j in range(T[NV]):
        lf = S(0.0)
        if (T[T[T_DOFFLAG] + j] & FLAG_LIMITED) != 0:
            q = X[0, w, T[X_Q] + T[T[T_DOFQADR] + j]]
            lr = T[P_DOF_RANGE] + 2 * j
            ll = T[P_DOF_LIMIT] + 2 * j
            lf = joint_limit(q, X[0, w, T[X_V] + j], P[w, lr], P[w, lr + 1], P[w, ll], P[w, ll + 1])
        L[w, j] = lf


@wp.kernel
def derive(P: wp.array2d(dtype=S), D: wp.array2d(dtype=S), T: wp.array(dtype=int), oquat: int, oaxis: int):
    """Per world: each body's rotation in its parent frame and unit joint axis (codegen._derive)."""
    w = wp.tid()
    for b in range(T[NB]):
        q = oquat + 4 * b
        Rl = wp.quat_to_matrix(wp.normalize(Q4(P[w, q + 1], P[w, q + 2], P[w, q + 3], P[w, q])))
        a = wp.normalize(p3(P, w, oaxis + 3 * b))
        base = DERIVED_PER_BODY * b
        for i in range(3):
            for j in range(3):
                D[w, base + 3 * i + j] = Rl[i, j]
        for i in range(3):
            D[w, base + 9 + i] = a[i]
'''


def _helpers(friction_smoothing: float) -> str:
    """The generated code's contact and limit functions, shared word for word (codegen's header)."""
    src = codegen._HEADER
    start = src.index("@wp.func\ndef softplus")
    body = src[start:]
    return body.format(depth_smoothing=codegen.CONTACT_DEPTH_SMOOTHING, force_smoothing=codegen.CONTACT_FORCE_SMOOTHING,
                       cutoff=codegen.CONTACT_CUTOFF, friction_smoothing=float(friction_smoothing))


def source(scalar: str, friction_smoothing: float = FRICTION_SMOOTHING) -> str:
    consts = dict(H)
    consts.update(B_X=B_X, B_R=B_R, B_C=B_C, B_I=B_I, B_OM=B_OM, B_V=B_V, B_AL=B_AL, B_ACC=B_ACC, B_AX=B_AX,
                  B_RJ=B_RJ, B_TM=B_TM, B_TH=B_TH, B_TJ=B_TJ, B_TF=B_TF, B_TN=B_TN, BODY_STRIDE=BODY_STRIDE,
                  DOF_STRIDE=DOF_STRIDE, CP_STRIDE=CP_STRIDE, CP_X_STRIDE=CP_X_STRIDE, PAIR_STRIDE=PAIR_STRIDE,
                  FLAG_LIMITED=FLAG_LIMITED, FLAG_SPRUNG=FLAG_SPRUNG, JOINT_HINGE=codegen.HINGE,
                  JOINT_SLIDE=codegen.SLIDE, JOINT_FREE=codegen.FREE, DOF_FREE_LIN=codegen.FREE_LIN,
                  DERIVED_PER_BODY=codegen.DERIVED_PER_BODY)
    header = "\n".join(f"{k} = wp.constant({v})" for k, v in consts.items())
    return _SOURCE.format(options=runtime.rigid_module_options(), scalar=scalar, header=header,
                          helpers=_helpers(friction_smoothing), cutoff=codegen.CONTACT_CUTOFF)


_MODULES: dict = {}


def module(scalar: str, friction_smoothing: float = FRICTION_SMOOTHING):
    """The loops module for ``scalar`` ("float32" or "float64") and a model's ``friction_smoothing`` (m/s),
    imported once per process."""
    key = (scalar, float(friction_smoothing), runtime.rigid_optimization_level())  # the level is in the source
    if key not in _MODULES:
        _MODULES[key], _ = runtime.import_generated(source(*key[:2]), "rigid", "loops")
    return _MODULES[key]


def supports(model) -> str | None:
    """None if this module can simulate ``model``, else what it lacks."""
    if any(site is not None for site in model.actuator_site):
        return "site motors"
    if model.fluid:
        return "fluid drag"
    if any(g[1] not in ("sphere", "capsule", "box") for g in model.geoms) and model.planes:
        kinds = sorted({g[1] for g in model.geoms} - {"sphere", "capsule", "box"})
        return f"contacts of {', '.join(kinds)} geoms"
    for g1, g2 in model.geom_pairs:
        if {model.geoms[g1][1], model.geoms[g2][1]} - {"sphere", "capsule"}:
            return "pair contacts other than sphere/capsule"
    return None


class Program:
    """A model's ``T`` (int32) and ``C`` (float64) arrays, its ``L^T D L`` operations ``O`` (one int32 4-vector
    each) and its scratch size ``nx`` per stage and world."""

    def __init__(self, model):
        missing = supports(model)
        if missing:
            raise ValueError(f"the loops form does not support {missing}; use the generated form")
        nb, nq, nv, nu = model.nbody, model.nq, model.nv, model.nu
        layout = codegen.Layout(nb, nv, nu, len(model.geoms), len(model.geom_pairs))
        dof_body, kinds, comps = [], [], []
        body_dofs = [[] for _ in range(nb)]
        for b in range(nb):
            jt, d = model.joint_type[b], model.dof_adr[b]
            if jt in (codegen.HINGE, codegen.SLIDE):
                dof_body.append(b), kinds.append(jt), comps.append(0)
                body_dofs[b].append(d)
            elif jt == codegen.FREE:
                for k in range(6):
                    dof_body.append(b), kinds.append(codegen.FREE_LIN if k < 3 else codegen.FREE_ROT)
                    comps.append(k % 3)
                    body_dofs[b].append(d + k)
        order = np.argsort([model.dof_adr[b] for b in dof_body], kind="stable")  # dofs are numbered parents first
        assert list(order) == list(range(nv)), "dof addresses must follow the bodies"
        anc = codegen.dof_ancestors(model, {i: (dof_body[i], kinds[i], comps[i]) for i in range(nv)}, body_dofs)
        # value slots: mass-matrix entries, forces, then one new slot per factorisation/solve operation
        slot = {}
        mstart, manc, mslot = [0], [], []
        for j in range(nv):
            for i in anc[j] + [j]:
                slot[("M", i, j)] = len(slot)
                manc.append(i), mslot.append(slot[("M", i, j)])
            mstart.append(len(manc))
        fslot = []
        for i in range(nv):
            slot[("f", i)] = len(slot)
            fslot.append(slot[("f", i)])
        nval = len(slot)
        ops = []

        def new(kind, a, b, c=0):
            nonlocal nval
            ops.append((kind, nval, a, b, c))
            nval += 1
            return nval - 1

        # the same elimination as codegen._sparse_ldl_solve
        cur = {(i, j): slot[("M", i, j)] for j in range(nv) for i in anc[j] + [j]}
        dg, L = {}, {}
        for k in reversed(range(nv)):
            dg[k] = cur[(k, k)]
            for i in anc[k]:
                L[(k, i)] = new(1, cur[(i, k)], dg[k])
            for a, i in enumerate(anc[k]):
                for j in anc[k][a:]:
                    cur[(i, j)] = new(0, cur[(i, j)], L[(k, i)], cur[(j, k)])
        xs = {i: fslot[i] for i in range(nv)}
        for k in reversed(range(nv)):
            for i in anc[k]:
                xs[i] = new(0, xs[i], L[(k, i)], xs[k])
        qa = {}
        for k in range(nv):
            v = new(1, xs[k], dg[k])
            for i in anc[k]:
                v = new(0, v, L[(k, i)], qa[i])
            qa[k] = v
        # contacts
        C = [float(model.joint_ref[b]) if model.joint_ref else 0.0 for b in range(nb)]
        cps = []
        for gi, (b, gtype, size, pos, quat) in enumerate(model.geoms):
            points, radius = codegen._contact_points(model, gi) if model.planes else ([], 0.0)
            for pi_, (normal, offset) in enumerate(model.planes):
                margin = model.geom_plane_margin[gi][pi_] if model.geom_plane_margin else 0.0
                if margin is None:
                    continue
                for lp in points:
                    cps.append((b, gi, len(C)))
                    C += [*map(float, lp), float(radius + margin), *map(float, normal), float(offset)]
        pairs = []
        for pi_, (g1, g2) in enumerate(model.geom_pairs):
            (b1, s1), (b2, s2) = (model.geoms[g1][i] for i in (0, 2)), (model.geoms[g2][i] for i in (0, 2))
            reach = float(s1[0]) + (float(model.pair_margin[pi_]) if model.pair_margin else 0.0)
            a0, a1 = codegen._segment(model.geoms[g1])
            c0, c1 = codegen._segment(model.geoms[g2])
            pairs.append((b1, b2, pi_, len(C)))
            C += [*map(float, a0), *map(float, a1), *map(float, c0), *map(float, c1), reach, float(s2[0])]
        flags = [(FLAG_LIMITED if model.dof_limited and model.dof_limited[i] else 0)
                 | (FLAG_SPRUNG if model.dof_sprung and model.dof_sprung[i] else 0) for i in range(nv)]
        dof_qadr = [model.qpos_adr[dof_body[i]] + (comps[i] if kinds[i] in (codegen.HINGE, codegen.SLIDE) else 0)
                    for i in range(nv)]
        sections = [("T_PARENT", list(model.body_parent)), ("T_JTYPE", list(model.joint_type)),
                    ("T_QADR", list(model.qpos_adr)), ("T_DADR", list(model.dof_adr)), ("T_DOFBODY", dof_body),
                    ("T_DOFKIND", kinds), ("T_DOFCOMP", comps), ("T_DOFQADR", dof_qadr), ("T_DOFFLAG", flags),
                    ("T_ACTDOF", list(model.actuator_dof) or [0]), ("T_MSTART", mstart), ("T_MANC", manc),
                    ("T_MSLOT", mslot), ("T_FSLOT", fslot), ("T_QASLOT", [qa[i] for i in range(nv)]),
                    ("T_CP", [x for c in cps for x in c] or [0]),
                    ("T_PAIR", [x for p in pairs for x in p] or [0]),
                    ("T_BODYDOF", [(codegen._dofs_moving(model, b, body_dofs, anc) or [-1])[-1] for b in range(nb)])]
        head = {"NB": nb, "NQ": nq, "NV": nv, "NU": nu, "NCP": len(cps), "NPAIR": len(pairs), "NOPS": len(ops),
                "C_REF": 0}
        for name in ("body_pos", "body_mass", "body_ipos", "body_inertia", "joint_pos", "dof_damping",
                     "dof_armature", "actuator_gear", "gravity", "geom_contact", "dof_range", "dof_stiffness",
                     "dof_springref", "pair_contact", "dof_limit"):
            head["P_" + name.upper()] = layout.offset[name]
        xo = 0
        for name, n in (("X_Q", nq), ("X_V", nv), ("X_KQ", nq), ("X_KV", nv), ("X_BODY", BODY_STRIDE * nb),
                        ("X_DOF", DOF_STRIDE * nv), ("X_VAL", nval), ("X_CP", CP_X_STRIDE * len(cps))):
            head[name] = xo
            xo += n
        head["NX"] = xo
        t = [0] * len(_HEADER)
        for name, values in sections:
            head[name] = len(t)
            t += values
        for name, v in head.items():
            t[H[name]] = v
        self.T = np.asarray(t, dtype=np.int32)
        self.C = np.asarray(C, dtype=np.float64)
        self.O = np.asarray([(out, a, b, c) if kind == 0 else (-out - 1, a, b, 0) for kind, out, a, b, c in ops]
                            or [(0, 0, 0, 0)], dtype=np.int32)
        self.nx = xo
        self.nops = len(ops)
        self.layout = layout
        self.quat_offset = layout.offset["body_quat"]
        self.axis_offset = layout.offset["joint_axis"]
        self._arrays = {}

    def arrays(self, dtype, device) -> tuple:
        """``T``, ``C`` and the operations ``O`` as Warp arrays on ``device`` (``C`` in the torch ``dtype``'s
        precision), made once."""
        key = (str(dtype), str(device))
        if key not in self._arrays:
            scalar = runtime.warp_scalar(dtype)
            self._arrays[key] = (wp.array(self.T, dtype=int, device=device),
                                 wp.array(self.C.astype(np.float64 if scalar is wp.float64 else np.float32),
                                          dtype=scalar, device=device),
                                 wp.array(self.O, dtype=wp.vec4i, device=device))
        return self._arrays[key]


_PROGRAMS: dict = {}


def program(model, topo: tuple | None = None) -> Program:
    """``model``'s :class:`Program`, built once per topology."""
    topo = codegen.topology(model) if topo is None else topo
    if topo not in _PROGRAMS:
        _PROGRAMS[topo] = Program(model)
    return _PROGRAMS[topo]


def use_loops(model, topo: tuple | None = None) -> bool:
    """Whether ``model`` runs as loops: ``model.structure`` "loops" (an error if unsupported), "generated", or
    "auto" -- loops for models whose generated code would be large (see :func:`generated_size`), when
    supported. ``topo``: ``codegen.topology(model)`` if the caller has it (the answer is cached per topology)."""
    structure = model.structure
    if structure not in STRUCTURES:
        raise ValueError(f"model.structure must be one of {STRUCTURES}, got {structure!r}")
    if structure == "generated":
        return False
    topo = codegen.topology(model) if topo is None else topo
    if topo not in _CHOICE:
        missing = supports(model)
        _CHOICE[topo] = (missing, missing is None and generated_size(model) > AUTO_LOOPS_ABOVE)
    missing, large = _CHOICE[topo]
    if structure == "loops":
        if missing:
            raise ValueError(f"model.structure='loops' does not support {missing}; use 'generated' or 'auto'")
        return True
    return large


_CHOICE: dict = {}  # topology -> (what the loops lack or None, whether the generated code would be large)
AUTO_LOOPS_ABOVE = 300


def generated_size(model) -> int:
    """A measure of the generated code's size: (dof, ancestor dof) pairs plus contact points (a pair counts
    two)."""
    prog = program(model)
    return int(prog.T[H["NOPS"]] + prog.T[H["NCP"]] + 2 * prog.T[H["NPAIR"]])

