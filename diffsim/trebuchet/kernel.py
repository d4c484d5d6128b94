"""The batched trebuchet shot: one Warp thread per shot, all stages in one launch.

Each thread integrates its own shot through the stages

* ``GROUND`` -- the projectile slides on the ground (2 free coordinates; the sling
  angle follows the ground constraint), until the ground reaction vanishes;
* ``HANG``   -- the projectile swings in the sling (3 DOF), until the sling-end
  velocity points along the release angle;
* ``FLIGHT`` -- a point mass with quadratic drag relative to the wind, until it
  reaches the ground,

with a fixed step (Euler or RK4, per model) and events located on the cubic
Hermite interpolant of each step, exactly as OrdinaryDiffEq/DiffEqBase do for
Trebuchet.jl: sign test at the step end, then a 10-point scan, then a bracketing
root solve to machine precision. A stage state is a 6x5 matrix of dual numbers
(rows ``theta_a, theta_w, theta_s, omega_a, omega_w, omega_s``; in flight rows
``x, y, v_x, v_y``), so every thread also carries the exact derivatives of its
landing distance w.r.t. (wind, release angle, counterweight mass), including the
event-time sensitivities, which it obtains from the implicit-function theorem
``d theta*/dp = -(dg/dp) / (dg/dtheta)`` at each event. This is the discrete map
that the original differentiated with ForwardDiff.

Per-lane status codes are in ``STATUS``; a step cap ends lanes that never land.
"""
import dataclasses
import math

import warp as wp

from diffsim import runtime
from diffsim.ode.tableaus import RK4
from diffsim.trebuchet.constants import TrebuchetModel
from diffsim.trebuchet.dual import datan2, dconst, dcos, ddiv, dinv, dmul, dsin, dsq, dsqrt, mscale

GROUND, HANG, FLIGHT = 0, 1, 2
LANDED, TOO_LIGHT, NONPOSITIVE_MASS, STEP_CAP = 0, 1, 2, 3
STATUS = {LANDED: "landed", TOO_LIGHT: "too light to lift the arm", NONPOSITIVE_MASS: "counterweight mass <= 0",
          STEP_CAP: "step cap reached before landing"}


def _build(model: TrebuchetModel, S):
    D = wp.types.vector(5, S)
    M = wp.types.matrix((6, 5), S)
    J3 = wp.types.vector(3, S)
    P2 = wp.types.vector(2, S)
    R4 = wp.types.vector(4, S)

    Ll, Ls, Lw, Lp = model.long_arm, model.short_arm, model.weight_link, model.sling
    Lcg, mp, ma, g = model.arm_cg, model.projectile_mass, model.arm_mass, model.gravity
    IA, IW = model.inertias_used
    hp, kd, dt = model.pivot_height, model.drag_factor, model.dt
    I0 = IA + IW + ma * Lcg * Lcg
    theta0 = math.asin(hp / Ll)
    fd_liftoff, two_sided, use_rk4 = model.finite_difference_liftoff, model.two_sided_release, model.integrator == "rk4"
    rk_b = RK4.b

    @wp.func
    def sling_pos(U: M):
        ta = U[0]
        tas = U[0] + U[2]
        return (S(wp.static(-Ll)) * dsin(ta) - S(wp.static(Lp)) * dsin(tas),
                S(wp.static(Ll)) * dcos(ta) + S(wp.static(Lp)) * dcos(tas))

    @wp.func
    def sling_vel(U: M):
        ta = U[0]
        tas = U[0] + U[2]
        wa = U[3]
        was = U[3] + U[5]
        vx = S(wp.static(-Ll)) * dmul(wa, dcos(ta)) - S(wp.static(Lp)) * dmul(was, dcos(tas))
        vy = S(wp.static(-Ll)) * dmul(wa, dsin(ta)) - S(wp.static(Lp)) * dmul(was, dsin(tas))
        return vx, vy

    @wp.func
    def rhs_ground(U: M, mw: D):
        ta, tw, ts, wa, ww, ws = U[0], U[1], U[2], U[3], U[4], U[5]
        one = dconst(S(1.0), ta)
        sa, ca = dsin(ta), dcos(ta)
        sas, cas = dsin(ta + ts), dcos(ta + ts)
        ss, cs = dsin(ts), dcos(ts)
        sw, cw = dsin(tw), dcos(tw)
        saw = dsin(ta + tw)
        inv_s = dinv(sas)
        cot = dmul(cas, inv_s)
        K = cot + S(wp.static(Ll / Lp)) * dmul(ca, inv_s)
        Q = dmul(cot, dmul(ws, ws + S(2.0) * wa)) + dmul(K, dsq(wa))
        sa_s = dmul(sa, inv_s)
        m11 = (dconst(S(wp.static(I0)), ta) + S(wp.static(mp * Ll * Ll)) * (one - S(2.0) * dmul(sa_s, cs) + dsq(sa_s))
               + dmul(mw, dconst(S(wp.static(Ls * Ls + Lw * Lw)), ta) + S(wp.static(2.0 * Ls * Lw)) * cw))
        m12 = dconst(S(wp.static(IW)), ta) + S(wp.static(Lw)) * dmul(mw, dconst(S(wp.static(Lw)), ta)
                                                                      + S(wp.static(Ls)) * cw)
        m22 = dconst(S(wp.static(IW)), ta) + S(wp.static(Lw * Lw)) * mw
        r1 = (S(wp.static(g * Lcg * ma)) * sa + S(wp.static(Ll * Lp * mp)) * (dmul(ss, dsq(wa + ws)) + dmul(cs, Q))
              + S(wp.static(Ll * mp)) * dmul(sa_s, S(wp.static(Ll)) * dmul(ss, dsq(wa)) - S(wp.static(Lp)) * Q)
              - S(wp.static(g)) * dmul(mw, S(wp.static(Ls)) * sa + S(wp.static(Lw)) * saw)
              - S(wp.static(Ls * Lw)) * dmul(mw, dmul(sw, dsq(wa) - dsq(wa + ww))))
        r2 = S(wp.static(-Lw)) * dmul(mw, S(wp.static(g)) * saw + S(wp.static(Ls)) * dmul(sw, dsq(wa)))
        det = dmul(m11, m22) - dsq(m12)
        aa = ddiv(dmul(r1, m22) - dmul(m12, r2), det)
        aw = ddiv(dmul(m11, r2) - dmul(m12, r1), det)
        as_ = -Q - ddiv(dmul(S(wp.static(Ll)) * sa + S(wp.static(Lp)) * sas, aa), S(wp.static(Lp)) * sas)
        return wp.matrix_from_rows(wa, ww, ws, aa, aw, as_)

    @wp.func
    def rhs_hang(U: M, mw: D):
        ta, tw, ts, wa, ww, ws = U[0], U[1], U[2], U[3], U[4], U[5]
        sa, sas, ss, cs = dsin(ta), dsin(ta + ts), dsin(ts), dcos(ts)
        sw, cw, saw = dsin(tw), dcos(tw), dsin(ta + tw)
        m11 = (dconst(S(wp.static(I0)), ta)
               + S(wp.static(mp)) * (dconst(S(wp.static(Ll * Ll + Lp * Lp)), ta) + S(wp.static(2.0 * Ll * Lp)) * cs)
               + dmul(mw, dconst(S(wp.static(Ls * Ls + Lw * Lw)), ta) + S(wp.static(2.0 * Ls * Lw)) * cw))
        m12 = dconst(S(wp.static(IW)), ta) + S(wp.static(Lw)) * dmul(mw, dconst(S(wp.static(Lw)), ta)
                                                                      + S(wp.static(Ls)) * cw)
        m13 = S(wp.static(mp * Lp)) * (dconst(S(wp.static(Lp)), ta) + S(wp.static(Ll)) * cs)
        m22 = dconst(S(wp.static(IW)), ta) + S(wp.static(Lw * Lw)) * mw
        m33 = dconst(S(wp.static(mp * Lp * Lp)), ta)
        r1 = (S(wp.static(g * Lcg * ma)) * sa + S(wp.static(g * mp)) * (S(wp.static(Ll)) * sa + S(wp.static(Lp)) * sas)
              - S(wp.static(g)) * dmul(mw, S(wp.static(Ls)) * sa + S(wp.static(Lw)) * saw)
              - S(wp.static(Ll * Lp * mp)) * dmul(ss, dsq(wa) - dsq(wa + ws))
              - S(wp.static(Ls * Lw)) * dmul(mw, dmul(sw, dsq(wa) - dsq(wa + ww))))
        r2 = S(wp.static(-Lw)) * dmul(mw, S(wp.static(g)) * saw + S(wp.static(Ls)) * dmul(sw, dsq(wa)))
        r3 = S(wp.static(Lp * mp)) * (S(wp.static(g)) * sas - S(wp.static(Ll)) * dmul(ss, dsq(wa)))
        # M has m23 = 0: eliminate omega_w' and omega_s', solve for omega_a'.
        eff = m11 - ddiv(dsq(m12), m22) - ddiv(dsq(m13), m33)
        aa = ddiv(r1 - ddiv(dmul(m12, r2), m22) - ddiv(dmul(m13, r3), m33), eff)
        aw = ddiv(r2 - dmul(m12, aa), m22)
        as_ = ddiv(r3 - dmul(m13, aa), m33)
        return wp.matrix_from_rows(wa, ww, ws, aa, aw, as_)

    @wp.func
    def rhs_flight(U: M, wind: D):
        vx, vy = U[2], U[3]
        rx = vx - wind
        vr = dsqrt(dsq(rx) + dsq(vy))
        ax = S(wp.static(-kd)) * dmul(rx, vr)
        ay = dconst(S(wp.static(-g)), vx) - S(wp.static(kd)) * dmul(vy, vr)
        z = type(vx)()
        return wp.matrix_from_rows(vx, vy, ax, ay, z, z)

    @wp.func
    def rhs(stage: int, U: M, mw: D, wind: D):
        if stage == GROUND:
            return rhs_ground(U, mw)
        if stage == HANG:
            return rhs_hang(U, mw)
        return rhs_flight(U, wind)

    @wp.func
    def advance(stage: int, U: M, F: M, mw: D, wind: D):
        if wp.static(use_rk4):
            h = S(wp.static(dt))
            k2 = rhs(stage, U + (S(0.5) * h) * F, mw, wind)
            k3 = rhs(stage, U + (S(0.5) * h) * k2, mw, wind)
            k4 = rhs(stage, U + h * k3, mw, wind)
            return U + h * (S(wp.static(rk_b[0])) * F + S(wp.static(rk_b[1])) * k2
                            + S(wp.static(rk_b[2])) * k3 + S(wp.static(rk_b[3])) * k4)
        else:
            return U + S(wp.static(dt)) * F

    @wp.func
    def hermite(Un: M, Un1: M, Fn: M, Fn1: M, th: D):
        """Cubic Hermite interpolant of the step at (dual) fraction ``th``."""
        one = dconst(S(1.0), th)
        q = dmul(th, th - one)
        return (mscale(Un, one - th) + mscale(Un1, th) + mscale(Un1 - Un, dmul(q, one - S(2.0) * th))
                + mscale(Fn, S(wp.static(dt)) * dmul(q, th - one)) + mscale(Fn1, S(wp.static(dt)) * dmul(q, th)))

    @wp.func
    def ground_force(stage: int, Un: M, Ut: M, th: D, mw: D):
        """Ground reaction N and sling tension T on the projectile at the interpolated state ``Ut``."""
        phi = Ut[0] + Ut[2] - dconst(S(wp.static(math.pi)), th)
        ax = th
        if wp.static(fd_liftoff):
            # Trebuchet.jl: acceleration by finite difference from the step start.
            vx_t, vy_t = sling_vel(Ut)
            vx_n, vy_n = sling_vel(Un)
            ax = ddiv(vx_t - vx_n, S(wp.static(dt)) * th)
        else:
            F = rhs_ground(Ut, mw)
            ta, tas = Ut[0], Ut[0] + Ut[2]
            ax = (S(wp.static(-Ll)) * (dmul(F[3], dcos(ta)) - dmul(dsq(Ut[3]), dsin(ta)))
                  - S(wp.static(Lp)) * (dmul(F[3] + F[5], dcos(tas)) - dmul(dsq(Ut[3] + Ut[5]), dsin(tas))))
        T = S(wp.static(-mp)) * ddiv(ax, dsin(phi))
        N = dconst(S(wp.static(mp * g)), th) - dmul(T, dcos(phi))
        return N, T

    @wp.func
    def event_fn(stage: int, Un: M, Un1: M, Fn: M, Fn1: M, th: D, mw: D, r: D):
        """Event function g at fraction ``th`` of the step; its sign change ends the stage."""
        Ut = hermite(Un, Un1, Fn, Fn1, th)
        if stage == GROUND:
            N, T = ground_force(stage, Un, Ut, th, mw)
            return N
        if stage == HANG:
            vx, vy = sling_vel(Ut)
            return dsin(datan2(vy, vx) - r)
        return Ut[1] + dconst(S(wp.static(hp)), th)

    @wp.func
    def event_value(stage: int, Un: M, Un1: M, Fn: M, Fn1: M, th: S, mw: D, r: D):
        if wp.static(fd_liftoff):
            if stage == GROUND and th == S(0.0):
                return S(wp.static(mp * g))  # Trebuchet.jl's rule: no tension at the step start
        thd = D(th, S(0.0), S(0.0), S(0.0), S(1.0))
        return event_fn(stage, Un, Un1, Fn, Fn1, thd, mw, r)[0]

    @wp.func
    def forward_release(Ut: M, r: D):
        vx, vy = sling_vel(Ut)
        return wp.cos(wp.atan2(vy[0], vx[0]) - r[0]) > S(0.0)

    @wp.kernel(enable_backward=False, module="unique")
    def shoot(wind: wp.array(dtype=S), angle: wp.array(dtype=S), mass: wp.array(dtype=S),
              distance: wp.array(dtype=S), jac: wp.array(dtype=J3), status: wp.array(dtype=wp.int32),
              t_release: wp.array(dtype=S), release: wp.array(dtype=R4), t_land: wp.array(dtype=S),
              steps: wp.array(dtype=wp.int32),
              record: int, traj: wp.array2d(dtype=P2), max_steps: int):
        i = wp.tid()
        zero = S(0.0)
        w = D(wind[i], S(1.0), zero, zero, zero)
        a = angle[i]
        ca = wp.cos(a)
        dr = S(1.0)
        if ca < zero:
            dr = S(-1.0)
        r = D(wp.asin(wp.sin(a)), zero, dr, zero, zero)  # release angle folded into [-pi/2, pi/2]
        mw = D(mass[i], zero, zero, S(1.0), zero)
        ta0 = S(wp.static(0.5 * math.pi + theta0))
        z = D()
        U = wp.matrix_from_rows(D(ta0, zero, zero, zero, zero), D(-ta0, zero, zero, zero, zero),
                                D(S(wp.static(math.pi - theta0)), zero, zero, zero, zero), z, z, z)
        t_release[i] = zero
        release[i] = R4()
        if not (mass[i] > zero):
            px, py = sling_pos(U)
            distance[i] = px[0]
            jac[i] = J3()
            status[i] = NONPOSITIVE_MASS
            t_land[i] = zero
            steps[i] = 0
            return
        stage = int(GROUND)
        t = S(0.0)
        n = int(0)
        result = int(STEP_CAP)
        n_scan = int(9)
        while n < max_steps:
            if record != 0:
                if stage == FLIGHT:
                    traj[i, n] = P2(U[0][0], U[1][0])
                else:
                    px, py = sling_pos(U)
                    traj[i, n] = P2(px[0], py[0])
            Fn = rhs(stage, U, mw, w)
            Un1 = advance(stage, U, Fn, mw, w)
            Fn1 = rhs(stage, Un1, mw, w)
            n += 1
            # --- event detection: end-point sign test, then a 10-point scan (DiffEqBase) ---
            g0 = event_value(stage, U, Un1, Fn, Fn1, zero, mw, r)
            s0 = wp.sign(g0)
            lo = zero
            hi = S(1.0)
            found = s0 * wp.sign(event_value(stage, U, Un1, Fn, Fn1, S(1.0), mw, r)) <= zero
            k = int(1)
            while not found and k < n_scan:  # runtime bound: one copy of the event code, not eight
                thk = S(k) / S(9.0)
                if s0 * wp.sign(event_value(stage, U, Un1, Fn, Fn1, thk, mw, r)) < zero:
                    found = True
                    lo = S(k - 1) / S(9.0)
                    hi = thk
                k += 1
            if found:
                for it in range(80):  # bisection to adjacent floats; lo keeps the pre-event sign
                    mid = S(0.5) * (lo + hi)
                    if mid > lo and mid < hi:
                        if s0 * wp.sign(event_value(stage, U, Un1, Fn, Fn1, mid, mw, r)) > zero:
                            lo = mid
                        else:
                            hi = mid
                thd = D(lo, zero, zero, zero, zero)
                if lo > zero:
                    # implicit-function theorem: d theta*/dp = -(dg/dp) / (dg/dtheta)
                    G = event_fn(stage, U, Un1, Fn, Fn1, D(lo, zero, zero, zero, S(1.0)), mw, r)
                    if G[4] != zero:
                        thd = D(lo, -G[1] / G[4], -G[2] / G[4], -G[3] / G[4], zero)
                Ue = hermite(U, Un1, Fn, Fn1, thd)
                if wp.static(not two_sided):
                    if stage == HANG:
                        found = forward_release(Ue, r)
            if found:
                t_event = t + lo * S(wp.static(dt))
                if stage == GROUND:
                    U = Ue
                    stage = HANG
                elif stage == HANG:
                    px, py = sling_pos(Ue)
                    vx, vy = sling_vel(Ue)
                    U = wp.matrix_from_rows(px, py, vx, vy, z, z)
                    t_release[i] = t_event
                    release[i] = R4(px[0], py[0], vx[0], vy[0])
                    stage = FLIGHT
                else:
                    xe = Ue[0]
                    distance[i] = xe[0]
                    jac[i] = J3(xe[1], xe[2], xe[3])
                    t_land[i] = t_event
                    if record != 0:
                        traj[i, n] = P2(xe[0], S(wp.static(-hp)))
                    result = LANDED
                    break
                t = t_event
            else:
                if wp.static(fd_liftoff):
                    if stage == GROUND:
                        # Trebuchet.jl stops when the last evaluated tension (scan point 8/9) is negative.
                        th89 = D(S(8.0) / S(9.0), zero, zero, zero, zero)
                        N89, T89 = ground_force(stage, U, hermite(U, Un1, Fn, Fn1, th89), th89, mw)
                        if T89[0] < zero:
                            result = TOO_LIGHT
                            U = Un1
                            break
                else:
                    if stage == GROUND:
                        if Un1[3][0] > zero:  # the arm turns backwards: the counterweight cannot lift it
                            result = TOO_LIGHT
                            U = Un1
                            break
                U = Un1
                t = t + S(wp.static(dt))
        status[i] = result
        steps[i] = n
        if result != LANDED:
            px, py = sling_pos(U)
            jac[i] = J3()
            t_land[i] = t
            if result == TOO_LIGHT:
                distance[i] = px[0]
            else:
                distance[i] = S(wp.nan)

    return shoot


_CACHE: dict = {}


def shot_kernel(model: TrebuchetModel, dtype):
    """The shot kernel of ``model``'s physics in ``dtype``; the step cap is the launch's last argument, so models
    that differ only in ``name`` or ``max_steps`` share one compiled module."""
    S = runtime.warp_scalar(dtype)
    key = (dataclasses.replace(model, name="", max_steps=0), S)
    if key not in _CACHE:
        _CACHE[key] = _build(key[0], S)
    return _CACHE[key]
