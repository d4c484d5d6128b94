"""The Warp path: one Warp thread advances four neighbouring trajectories; one launch, the whole batch 16 steps.

Kernels are generated per (vector field, method, scalar type, state size) and
cached. Three kinds:

* ``step``   -- up to ``STEPS_PER_LAUNCH`` steps of the method for every trajectory,
  ``Y[k+1] = Phi(Y[k])`` (rows past a trajectory's own step count copy the state).
  The steps are unrolled at compile time and each writes a fresh row of the
  trajectory array, so the ``wp.Tape`` replays them exactly; a runtime time loop
  inside one thread would not be replayed (Warp docs, "dynamic loops").
* ``output`` -- dense output at the requested times (Dormand-Prince's order-4
  continuous extension, or the state itself for grid-aligned outputs).
* ``attempt`` (Dormand-Prince only, no adjoint) -- one attempted step per running
  trajectory, with its own step size, error control and accept/reject; it records
  the accepted grid, which the differentiable ``step`` kernel then replays.
"""

import math
import os

import numpy as np
import torch
import warp as wp

from diffsim import runtime
from diffsim.bridge import warp_apply
from diffsim.ode.field import WarpVectorField
from diffsim.ode.grid import (
    DFACTOR,
    DONE,
    ERR_FLOOR,
    FULL,
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
from diffsim.ode.tableaus import (
    DOPRI5,
    EULER,
    MIDPOINT,
    RK4,
    SEMI_IMPLICIT_EULER,
    VERLET,
    Partitioned,
)
from diffsim.parallel import active_tape, blocks, launch_worlds

LANES = 4  # trajectories per thread in the fixed-step kernel (interleaved for instruction-level parallelism;
#             the kernel writes its four lanes out by hand)


def _steps_per_launch() -> int:
    env = os.environ.get("DIFFSIM_ODE_STEPS_PER_LAUNCH", "16")
    if not env.isdigit() or int(env) < 1:
        raise ValueError(f"DIFFSIM_ODE_STEPS_PER_LAUNCH must be an integer >= 1, got {env!r}")
    return int(env)


# Fixed steps unrolled into one launch: amortises ~10 us of launch overhead per launch, at the price of
# compile time (a module holds STEPS_PER_LAUNCH x LANES inlined steps and their adjoints: ~6 s at 16 on a
# 2-core Xeon). States and initial-state gradients do not depend on it, bit for bit; parameter gradients
# only through the order of a sum (rounding). The test suite uses 4 to compile faster.
STEPS_PER_LAUNCH = _steps_per_launch()


def _step_func(f, method, S, V, Pv, dim):
    """A ``@wp.func step(t, y, h, p) -> y_next`` for ``method`` over field ``f``."""
    if method is EULER:
        @wp.func
        def euler(t: S, y: V, h: S, p: Pv):
            return y + h * f(t, y, p)
        return euler
    if method is MIDPOINT:
        tab = MIDPOINT

        @wp.func
        def midpoint(t: S, y: V, h: S, p: Pv):
            k1 = f(t, y, p)
            k2 = f(t + S(wp.static(tab.c[1])) * h, y + (h * S(wp.static(tab.a[1][0]))) * k1, p)
            return y + h * k2
        return midpoint
    if method is RK4:
        tab = RK4

        @wp.func
        def rk4(t: S, y: V, h: S, p: Pv):
            k1 = f(t, y, p)
            k2 = f(t + S(wp.static(tab.c[1])) * h, y + (h * S(wp.static(tab.a[1][0]))) * k1, p)
            k3 = f(t + S(wp.static(tab.c[2])) * h, y + (h * S(wp.static(tab.a[2][1]))) * k2, p)
            k4 = f(t + h, y + h * k3, p)
            return y + h * (S(wp.static(tab.b[0])) * k1 + S(wp.static(tab.b[1])) * k2
                            + S(wp.static(tab.b[2])) * k3 + S(wp.static(tab.b[3])) * k4)
        return rk4
    if method is DOPRI5:
        stages = _dopri5_stages(f, S, V, Pv)
        tab = DOPRI5

        @wp.func
        def dopri5(t: S, y: V, h: S, p: Pv):
            k1, k2, k3, k4, k5, k6, k7, y1 = stages(t, y, h, p)
            return y1
        return dopri5
    if isinstance(method, Partitioned):
        half = dim // 2
        mq = V(*([1.0] * half + [0.0] * half))
        mp = V(*([0.0] * half + [1.0] * half))
        if method is SEMI_IMPLICIT_EULER:
            @wp.func
            def semi_implicit_euler(t: S, y: V, h: S, p: Pv):
                ya = y + h * wp.cw_mul(mp, f(t, y, p))      # kick: p += h f_p(q, p)
                return ya + h * wp.cw_mul(mq, f(t, ya, p))  # drift: q += h f_q(q, p_new)
            return semi_implicit_euler
        if method is VERLET:
            @wp.func
            def verlet(t: S, y: V, h: S, p: Pv):
                hh = S(0.5) * h
                ya = y + hh * wp.cw_mul(mp, f(t, y, p))        # half kick
                yb = ya + h * wp.cw_mul(mq, f(t, ya, p))       # drift
                return yb + hh * wp.cw_mul(mp, f(t + h, yb, p))  # half kick
            return verlet
    raise ValueError(f"no Warp step for method {method.name!r}")


def _dopri5_stages(f, S, V, Pv):
    a = DOPRI5.a
    c = DOPRI5.c

    @wp.func
    def stages(t: S, y: V, h: S, p: Pv):
        k1 = f(t, y, p)
        k2 = f(t + S(wp.static(c[1])) * h, y + h * (S(wp.static(a[1][0])) * k1), p)
        k3 = f(t + S(wp.static(c[2])) * h, y + h * (S(wp.static(a[2][0])) * k1 + S(wp.static(a[2][1])) * k2), p)
        k4 = f(t + S(wp.static(c[3])) * h, y + h * (S(wp.static(a[3][0])) * k1 + S(wp.static(a[3][1])) * k2
                                                      + S(wp.static(a[3][2])) * k3), p)
        k5 = f(t + S(wp.static(c[4])) * h, y + h * (S(wp.static(a[4][0])) * k1 + S(wp.static(a[4][1])) * k2
                                                      + S(wp.static(a[4][2])) * k3 + S(wp.static(a[4][3])) * k4), p)
        k6 = f(t + h, y + h * (S(wp.static(a[5][0])) * k1 + S(wp.static(a[5][1])) * k2 + S(wp.static(a[5][2])) * k3
                                + S(wp.static(a[5][3])) * k4 + S(wp.static(a[5][4])) * k5), p)
        y1 = y + h * (S(wp.static(a[6][0])) * k1 + S(wp.static(a[6][2])) * k3 + S(wp.static(a[6][3])) * k4
                      + S(wp.static(a[6][4])) * k5 + S(wp.static(a[6][5])) * k6)
        k7 = f(t + h, y1, p)
        return k1, k2, k3, k4, k5, k6, k7, y1
    return stages


def _step_kernel(step, S, V, Pv):
    """Up to ``STEPS_PER_LAUNCH`` steps of ``step`` for ``LANES`` neighbouring trajectories per thread.

    The lanes' step chains are independent, so the CPU overlaps them (one trajectory alone is
    latency-bound). The steps are unrolled at compile time so the tape's adjoint keeps every
    intermediate state (a runtime loop would not be replayed). A lane past the last trajectory
    re-reads the last one and stores nothing. Rows past a trajectory's own step count copy the state.
    """
    @wp.func
    def advance(s: int, count: int, kg: int, n: int, y: V, T: wp.array2d(dtype=wp.float64),
                H: wp.array2d(dtype=wp.float64), g: int, p: Pv):
        if s < count and kg < n:
            return step(S(T[kg, g]), y, S(H[kg, g]), p)
        return y

    @wp.kernel(module="unique", module_options={"max_unroll": STEPS_PER_LAUNCH})
    def step_kernel(Y: wp.array2d(dtype=V), k: int, count: int, k0: int, T: wp.array2d(dtype=wp.float64),
                    H: wp.array2d(dtype=wp.float64), n_steps: wp.array(dtype=wp.int32), gw: int,
                    P: wp.array(dtype=Pv), pw: int, W: int, w0: int):
        i0 = (wp.tid() + w0) * LANES
        i1 = wp.min(i0 + 1, W - 1)
        i2 = wp.min(i0 + 2, W - 1)
        i3 = wp.min(i0 + 3, W - 1)
        g0, g1, g2, g3 = i0 * gw, i1 * gw, i2 * gw, i3 * gw
        p0 = P[i0 * pw]
        p1 = P[i1 * pw]
        p2 = P[i2 * pw]
        p3 = P[i3 * pw]
        n0 = n_steps[g0]
        n1 = n_steps[g1]
        n2 = n_steps[g2]
        n3 = n_steps[g3]
        y0 = Y[k, i0]
        y1 = Y[k, i1]
        y2 = Y[k, i2]
        y3 = Y[k, i3]
        for s in range(wp.static(STEPS_PER_LAUNCH)):
            kg = k0 + k + s
            y0 = advance(s, count, kg, n0, y0, T, H, g0, p0)
            y1 = advance(s, count, kg, n1, y1, T, H, g1, p1)
            y2 = advance(s, count, kg, n2, y2, T, H, g2, p2)
            y3 = advance(s, count, kg, n3, y3, T, H, g3, p3)
            if s < count:
                Y[k + s + 1, i0] = y0
                if i0 + 1 < W:
                    Y[k + s + 1, i1] = y1
                if i0 + 2 < W:
                    Y[k + s + 1, i2] = y2
                if i0 + 3 < W:
                    Y[k + s + 1, i3] = y3

    return step_kernel


class _Kernels:
    """All kernels for one (field function, method, scalar, dim, num_params)."""

    def __init__(self, func, method, S, dim: int, num_params: int):
        V = wp.types.vector(dim, S)
        Pv = wp.types.vector(max(num_params, 1), S)
        self.V, self.Pv = V, Pv
        step = _step_func(func, method, S, V, Pv, dim)
        dense_needed = method is DOPRI5

        @wp.kernel(module="unique")
        def copy_in(src: wp.array(dtype=V), Y: wp.array2d(dtype=V)):
            i = wp.tid()
            Y[0, i] = src[i]

        @wp.kernel(module="unique")
        def copy_out(Y: wp.array2d(dtype=V), row: int, dst: wp.array(dtype=V)):
            i = wp.tid()
            dst[i] = Y[row, i]

        self.step = _step_kernel(step, S, V, Pv)

        if dense_needed:
            stages = _dopri5_stages(func, S, V, Pv)
            d = DOPRI5.d

            @wp.func
            def dense(y: V, t: S, h: S, theta: S, p: Pv):
                k1, k2, k3, k4, k5, k6, k7, y1 = stages(t, y, h, p)
                r2 = y1 - y
                r3 = h * k1 - r2
                r4 = r2 - h * k7 - r3
                r5 = h * (S(wp.static(d[0])) * k1 + S(wp.static(d[2])) * k3 + S(wp.static(d[3])) * k4
                          + S(wp.static(d[4])) * k5 + S(wp.static(d[5])) * k6 + S(wp.static(d[6])) * k7)
                one = S(1.0)
                return y + theta * (r2 + (one - theta) * (r3 + theta * (r4 + (one - theta) * r5)))
        else:
            @wp.func
            def dense(y: V, t: S, h: S, theta: S, p: Pv):
                return y

        @wp.kernel(module="unique")
        def output_kernel(Y: wp.array2d(dtype=V), k0: int, k1: int, last: int, T: wp.array2d(dtype=wp.float64),
                          H: wp.array2d(dtype=wp.float64), out_step: wp.array2d(dtype=wp.int32),
                          out_theta: wp.array2d(dtype=wp.float64), jlo: int, gw: int,
                          P: wp.array(dtype=Pv), pw: int, out: wp.array2d(dtype=V)):
            jj, i = wp.tid()
            g = i * gw
            s = out_step[jlo + jj, g]
            if s >= k0 and (s < k1 or (last != 0 and s == k1)):
                theta = out_theta[jlo + jj, g]
                y = Y[s - k0, i]
                if theta > wp.float64(0.0):
                    out[jj, i] = dense(y, S(T[s, g]), S(H[s, g]), S(theta), P[i * pw])
                else:
                    out[jj, i] = y

        self.copy_in, self.copy_out, self.output = copy_in, copy_out, output_kernel

        if method is DOPRI5:
            self._make_adaptive(func, S, V, Pv, dim)

    def _make_adaptive(self, func, S, V, Pv, dim):
        stages = _dopri5_stages(func, S, V, Pv)
        e = DOPRI5.e
        inv_dim = 1.0 / dim

        @wp.func
        def rms_scaled(v: V, y: V, rtol: wp.float64, atol: wp.float64):
            acc = wp.float64(0.0)
            for m in range(dim):
                sc = atol + rtol * wp.abs(wp.float64(y[m]))
                r = wp.float64(v[m]) / sc
                acc += r * r
            return wp.sqrt(acc * wp.float64(inv_dim))

        @wp.kernel(enable_backward=False, module="unique")
        def initial_step(Y0: wp.array(dtype=V), t0: wp.float64, rtol: wp.float64, atol: wp.float64,
                         P: wp.array(dtype=Pv), pw: int, ycur: wp.array(dtype=V), tcur: wp.array(dtype=wp.float64),
                         hcur: wp.array(dtype=wp.float64), t_end: wp.float64):
            # Hairer, Norsett & Wanner, Solving ODEs I, II.4 (starting step size).
            i = wp.tid()
            y0 = Y0[i]
            p = P[i * pw]
            f0 = func(S(t0), y0, p)
            d0 = rms_scaled(y0, y0, rtol, atol)
            d1 = rms_scaled(f0, y0, rtol, atol)
            h0 = wp.float64(1e-6)
            if d0 >= wp.float64(1e-5) and d1 >= wp.float64(1e-5):
                h0 = wp.float64(0.01) * d0 / d1
            f1 = func(S(t0 + h0), y0 + S(h0) * f0, p)
            d2 = rms_scaled(f1 - f0, y0, rtol, atol) / h0
            dm = wp.max(d1, d2)
            h1 = wp.max(wp.float64(1e-6), h0 * wp.float64(1e-3))
            if dm > wp.float64(1e-15):
                h1 = wp.pow(wp.float64(0.01) / dm, wp.float64(0.2))
            ycur[i] = y0
            tcur[i] = t0
            hcur[i] = wp.min(wp.min(wp.float64(100.0) * h0, h1), t_end - t0)

        @wp.kernel(enable_backward=False, module="unique")
        def attempt(ycur: wp.array(dtype=V), tcur: wp.array(dtype=wp.float64), hcur: wp.array(dtype=wp.float64),
                    status: wp.array(dtype=wp.int32), n_acc: wp.array(dtype=wp.int32),
                    n_rej: wp.array(dtype=wp.int32), next_out: wp.array(dtype=wp.int32),
                    T: wp.array2d(dtype=wp.float64), H: wp.array2d(dtype=wp.float64), capacity: int,
                    t_out: wp.array(dtype=wp.float64), out_step: wp.array2d(dtype=wp.int32),
                    out_theta: wp.array2d(dtype=wp.float64), t_end: wp.float64, rtol: wp.float64,
                    atol: wp.float64, max_steps: int, P: wp.array(dtype=Pv), pw: int,
                    err_prev: wp.array(dtype=wp.float64), rejected: wp.array(dtype=wp.int32), w0: int):
            i = wp.tid() + w0
            if status[i] != 0:
                return
            t = tcur[i]
            h = hcur[i]
            y = ycur[i]
            k1, k2, k3, k4, k5, k6, k7, y1 = stages(S(t), y, S(h), P[i * pw])
            err = S(h) * (S(wp.static(e[0])) * k1 + S(wp.static(e[2])) * k3 + S(wp.static(e[3])) * k4
                          + S(wp.static(e[4])) * k5 + S(wp.static(e[5])) * k6 + S(wp.static(e[6])) * k7)
            acc = wp.float64(0.0)
            for m in range(dim):
                sc = atol + rtol * wp.max(wp.abs(wp.float64(y[m])), wp.abs(wp.float64(y1[m])))
                r = wp.float64(err[m]) / sc
                acc += r * r
            ratio = wp.sqrt(acc * wp.float64(inv_dim))
            finite = wp.isfinite(ratio)
            # The controller's constants are bound here, outside every branch: Warp 1.19 binds a module-level
            # constant to the variable of its first use, and a first use inside a branch leaves that variable
            # unset on the other path, so a later use outside it reads an uninitialised value (undefined
            # behaviour that clang -O2 happens to fold to the constant; at -O0 it broke the step size).
            ifactor = wp.float64(IFACTOR)
            dfactor = wp.float64(DFACTOR)
            factor = dfactor  # the proportional part of the controller (grid.py)
            if finite:
                if ratio > wp.float64(0.0):
                    factor = wp.float64(SAFETY) * wp.pow(ratio, wp.float64(-PI_ALPHA))
                else:
                    factor = ifactor
            t_new = t
            if finite and ratio <= wp.float64(1.0):
                factor = factor * wp.pow(err_prev[i], wp.float64(PI_BETA))
                factor = wp.min(ifactor, wp.max(dfactor, factor))
                if rejected[i] != 0:
                    factor = wp.min(wp.float64(1.0), factor)
                err_prev[i] = wp.max(ratio, wp.float64(ERR_FLOOR))
                rejected[i] = 0
                k = n_acc[i]
                T[k, i] = t
                H[k, i] = h
                t_new = t + h
                if t_new >= t_end or h >= t_end - t:
                    t_new = t_end
                j = next_out[i]
                while j < t_out.shape[0]:
                    tj = t_out[j]
                    if tj > t_new:
                        break
                    out_step[j, i] = k
                    out_theta[j, i] = wp.min(wp.float64(1.0), wp.max(wp.float64(0.0), (tj - t) / h))
                    j += 1
                next_out[i] = j
                n_acc[i] = k + 1
                ycur[i] = y1
                tcur[i] = t_new
                if t_new >= t_end:
                    status[i] = DONE
                    return
                if k + 1 >= capacity:
                    status[i] = FULL
            else:
                n_rej[i] = n_rej[i] + 1
                rejected[i] = 1
                factor = wp.min(wp.float64(1.0), wp.max(dfactor, factor))
            h_new = wp.min(h * factor, t_end - t_new)
            hcur[i] = h_new
            if t_new + h_new <= t_new:
                status[i] = UNDERFLOW
            elif n_acc[i] + n_rej[i] >= max_steps:
                status[i] = MAX_STEPS

        self.initial_step, self.attempt = initial_step, attempt


_CACHE: dict = {}


def kernels_for(field: WarpVectorField, method, dtype: torch.dtype) -> _Kernels:
    S = runtime.warp_scalar(dtype)
    key = (field.func, method.name, S, field.dim, field.num_params, STEPS_PER_LAUNCH)
    if key not in _CACHE:
        _CACHE[key] = _Kernels(field.func, method, S, field.dim, field.num_params)
    return _CACHE[key]


def _wp(t: torch.Tensor, dtype=None) -> wp.array:
    return wp.from_torch(t.contiguous(), dtype=dtype, requires_grad=False)


def adaptive_grid(kern: _Kernels, y0: torch.Tensor, params: torch.Tensor, t: np.ndarray, rtol: float, atol: float,
                  max_steps: int, device: str) -> Grid:
    """Run Dormand-Prince with per-trajectory step control; return the accepted grid."""
    W, J = y0.shape[0], len(t)
    tdev = y0.device
    i32 = dict(dtype=torch.int32, device=tdev)
    f64 = dict(dtype=torch.float64, device=tdev)
    capacity = 256
    T = torch.zeros((capacity, W), **f64)
    H = torch.zeros((capacity, W), **f64)
    state = dict(
        ycur=torch.empty_like(y0), tcur=torch.empty(W, **f64), hcur=torch.empty(W, **f64),
        status=torch.zeros(W, **i32), n_acc=torch.zeros(W, **i32), n_rej=torch.zeros(W, **i32),
        next_out=torch.zeros(W, **i32), err_prev=torch.full((W,), ERR_FLOOR, **f64), rejected=torch.zeros(W, **i32),
    )
    out_step = torch.zeros((J, W), **i32)
    out_theta = torch.zeros((J, W), **f64)
    t_out = torch.tensor(t, **f64)
    pw = 1 if params.shape[0] == W and W > 1 else 0
    P = _wp(params, kern.Pv)
    V = kern.V
    t0, t_end = float(t[0]), float(t[-1])
    with wp.ScopedDevice(device), runtime.torch_stream(y0.device):
        wp.launch(kern.initial_step, W, inputs=[_wp(y0, V), t0, rtol, atol, P, pw, _wp(state["ycur"], V),
                                                 _wp(state["tcur"]), _wp(state["hcur"]), t_end])
        if t_end == t0:
            state["status"].fill_(DONE)
        while True:
            args = [_wp(state["ycur"], V), _wp(state["tcur"]), _wp(state["hcur"]), _wp(state["status"]),
                    _wp(state["n_acc"]), _wp(state["n_rej"]), _wp(state["next_out"]), _wp(T), _wp(H), capacity,
                    _wp(t_out), _wp(out_step), _wp(out_theta), t_end, rtol, atol, max_steps, P, pw,
                    _wp(state["err_prev"]), _wp(state["rejected"])]
            launch_worlds([(kern.attempt, args)] * 16, W, device)
            status = state["status"]
            if bool((status == FULL).any()):
                T = torch.cat([T, torch.zeros_like(T)])
                H = torch.cat([H, torch.zeros_like(H)])
                capacity *= 2
                status[status == FULL] = RUNNING
                continue
            if not bool((status == RUNNING).any()):
                break
    raise_on_failure(state["status"], state["tcur"], state["n_acc"], state["n_rej"], max_steps)
    K = int(state["n_acc"].max()) if W else 0
    return Grid(t_start=T[:K].contiguous(), h=H[:K].contiguous(), n_steps=state["n_acc"], out_step=out_step,
                out_theta=out_theta, n_rejected=state["n_rej"])


def _segments(K: int, segments: int | None) -> list[tuple[int, int]]:
    if segments is None or segments <= 1 or K == 0:
        return [(0, K)]
    length = max(1, math.ceil(K / segments))
    return [(k, min(K, k + length)) for k in range(0, K, length)]


def integrate(kern: _Kernels, grid: Grid, y0: torch.Tensor, params: torch.Tensor, device: str,
              checkpoint_segments: int | None) -> torch.Tensor:
    """Replay ``grid`` differentiably; returns outputs ``(J, W, D)`` with gradients to y0, params."""
    W, D = y0.shape
    K = grid.num_steps
    J = grid.out_step.shape[0]
    gw = 0 if grid.shared else 1
    if len(blocks((W + LANES - 1) // LANES, device)) > 1 and params.shape[0] != W:
        # blocks of trajectories run on separate threads: give each trajectory its own parameter row so
        # that no two blocks accumulate into the same gradient entry (torch sums the rows back)
        params = params.expand(W, params.shape[1])
    pw = 1 if params.shape[0] == W and W > 1 else 0
    V, Pv = kern.V, kern.Pv
    T, H = _wp(grid.t_start), _wp(grid.h)
    n_steps, out_step, out_theta = _wp(grid.n_steps), _wp(grid.out_step), _wp(grid.out_theta)
    out_step_np = grid.out_step.cpu().numpy()
    segs = _segments(K, checkpoint_segments)
    recompute = len(segs) > 1 or not torch.is_grad_enabled() or not (y0.requires_grad or params.requires_grad)

    def run_segment(k0, k1, last):
        owned = (out_step_np >= k0) & ((out_step_np < k1) | (last and out_step_np == k1))
        rows = np.nonzero(owned.any(axis=1))[0]
        jlo, jhi = (int(rows[0]), int(rows[-1]) + 1) if len(rows) else (0, 0)

        def fn(y_start, P):
            # the trajectory needs a gradient buffer only while a tape records (zeroing it costs as
            # much as the forward on the CPU: first-touch page faults)
            Y = wp.empty((k1 - k0 + 1, W), dtype=V, device=device, requires_grad=active_tape() is not None)
            wp.launch(kern.copy_in, W, inputs=[y_start], outputs=[Y], device=device)
            launch_worlds([(kern.step, [Y, k, min(STEPS_PER_LAUNCH, k1 - k0 - k), k0, T, H, n_steps, gw, P, pw, W])
                           for k in range(0, k1 - k0, STEPS_PER_LAUNCH)], (W + LANES - 1) // LANES, device)
            y_end = wp.empty(W, dtype=V, device=device, requires_grad=True)
            wp.launch(kern.copy_out, W, inputs=[Y, k1 - k0], outputs=[y_end], device=device)
            out = wp.zeros((jhi - jlo, W), dtype=V, device=device, requires_grad=True)
            if jhi > jlo:
                wp.launch(kern.output, (jhi - jlo, W), inputs=[Y, k0, k1, int(last), T, H, out_step, out_theta, jlo,
                                                                gw, P, pw], outputs=[out], device=device)
            return y_end, out

        return fn, jlo, jhi

    ys = None
    y = y0
    for s, (k0, k1) in enumerate(segs):
        fn, jlo, jhi = run_segment(k0, k1, s == len(segs) - 1)
        y, out = warp_apply(fn, y, params, dtypes=[V, Pv], recompute=recompute)
        if (jlo, jhi) == (0, J):
            ys = out if ys is None else ys + out
        elif jhi > jlo:
            piece = torch.zeros((J, W, D), dtype=y0.dtype, device=y0.device)
            piece = piece.index_copy(0, torch.arange(jlo, jhi, device=y0.device), out)
            ys = piece if ys is None else ys + piece
    return ys


_EVALUATE_KERNELS: dict = {}


def _evaluate_kernel(func, dim: int, num_params: int, S):
    key = (func, dim, num_params, S)
    if key not in _EVALUATE_KERNELS:
        V, Pv = wp.types.vector(dim, S), wp.types.vector(num_params, S)

        @wp.kernel(enable_backward=False, module="unique")
        def evaluate(t: S, Y: wp.array(dtype=V), P: wp.array(dtype=Pv), out: wp.array(dtype=V)):
            i = wp.tid()
            out[i] = func(t, Y[i], P[i])

        _EVALUATE_KERNELS[key] = evaluate
    return _EVALUATE_KERNELS[key]


def evaluate_field(field, y: torch.Tensor, t: float = 0.0) -> torch.Tensor:
    """``field.func(t, y, p)`` at every row of ``y`` ``(*batch, dim)``, one launch, no gradient."""
    if not isinstance(y, torch.Tensor) or y.dtype not in runtime.SUPPORTED_DTYPES or y.shape[-1:] != (field.dim,):
        raise ValueError(f"y must be a float32/float64 tensor of shape (*batch, {field.dim})")
    runtime.init()
    batch = y.shape[:-1]
    P = field.num_params
    p = field.params.detach().to(device=y.device, dtype=y.dtype).expand(*batch, P).reshape(-1, P).contiguous()
    y2 = y.detach().reshape(-1, field.dim).contiguous()
    out = torch.empty_like(y2)
    S = runtime.warp_scalar(y.dtype)
    V, Pv = wp.types.vector(field.dim, S), wp.types.vector(P, S)
    with runtime.torch_stream(y.device):
        wp.launch(_evaluate_kernel(field.func, field.dim, P, S), y2.shape[0],
                  inputs=[S(t), wp.from_torch(y2, dtype=V), wp.from_torch(p, dtype=Pv)],
                  outputs=[wp.from_torch(out, dtype=V)], device=runtime.resolve_device(str(y.device)))
    return out.reshape(y.shape)
