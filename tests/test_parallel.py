"""``diffsim.parallel``: blocked CPU launches give exactly the single-launch outputs and gradients."""
import numpy as np
import pytest
import torch
import warp as wp

from diffsim import parallel
from diffsim.rigid import builtin_model, load_mjcf, rollout
from diffsim.rigid.state import default_state

F64 = torch.float64

# small models, few steps: compiling their rigid-body modules is the time here (tests/conftest.py)
pytestmark = pytest.mark.compile_bound


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(parallel, "MIN_WORLDS_PER_THREAD", 2)
    yield
    parallel.set_cpu_threads(None)


def _run(model, q0, v0, u, threads, recompute=False):
    parallel.set_cpu_threads(threads)
    q0, v0, u = (x.clone().requires_grad_(True) for x in (q0, v0, u))
    model.body_mass.requires_grad_(True)
    model.body_mass.grad = None
    qs, vs = rollout(model, q0, v0, u, recompute=recompute)
    loss = (qs ** 2).sum() + (vs[:, -1] * torch.linspace(0.5, 1.5, vs.shape[-1], dtype=F64)).sum()
    loss.backward()
    return qs.detach(), vs.detach(), q0.grad, v0.grad, u.grad, model.body_mass.grad.clone()


def test_blocks_cover_the_worlds_once(small_blocks):
    parallel.set_cpu_threads(3)
    assert parallel.blocks(7, "cpu") == [(0, 2), (2, 4), (4, 7)]
    assert parallel.blocks(7, "cuda:0") == [(0, 7)]
    assert parallel.blocks(1, "cpu") == [(0, 1)]


@pytest.mark.parametrize("name,integrator,structure", [("ball_and_box", "rk4", "auto"),
                                                        ("double_pendulum", "euler", "auto"),
                                                        ("ball_and_box", "rk4", "loops")])
@pytest.mark.parametrize("recompute", [False, True])
def test_threaded_rollout_equals_single_launch(small_blocks, name, integrator, structure, recompute):
    """Blocks of worlds on three threads give one launch's trajectories and gradients bit for bit (the loops'
    scratch array included: each world has its own rows)."""
    W, T = 7, 40
    model = load_mjcf(builtin_model(name), num_worlds=W, dtype=F64, structure=structure)
    with torch.no_grad():
        model.body_mass.mul_(torch.linspace(0.8, 1.2, W, dtype=F64)[:, None])  # per-world parameters
    gen = torch.Generator().manual_seed(0)
    q0 = default_state(model, F64).qpos + 0.05 * torch.rand(W, model.nq, generator=gen, dtype=F64)
    v0 = 0.3 * torch.randn(W, model.nv, generator=gen, dtype=F64)
    u = torch.randn(W, T, model.nu, generator=gen, dtype=F64)
    one = _run(model, q0, v0, u, threads=1, recompute=recompute)
    three = _run(model, q0, v0, u, threads=3, recompute=recompute)
    assert parallel.blocks(W, "cpu") == [(0, 2), (2, 4), (4, 7)]
    for a, b in zip(one, three):
        if a is None:
            assert b is None
        else:
            torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_thread_count_validation(monkeypatch):
    with pytest.raises(ValueError, match="n must be"):
        parallel.set_cpu_threads(0)
    monkeypatch.setenv("DIFFSIM_CPU_THREADS", "zero")
    with pytest.raises(ValueError, match="DIFFSIM_CPU_THREADS"):
        parallel.cpu_threads()
    monkeypatch.setenv("DIFFSIM_CPU_THREADS", "2")
    assert parallel.cpu_threads() == 2


@pytest.mark.parametrize("method,kw", [("rk4", {"step_size": 0.05}), ("dopri5", {"rtol": 1e-8, "atol": 1e-10})])
@pytest.mark.parametrize("shared_param", [True, False])
def test_threaded_ode_solve_equals_single_launch(small_blocks, method, kw, shared_param):
    from diffsim.ode import fields, odeint
    from diffsim.ode.warp_solver import LANES

    W = 23  # six four-trajectory groups (the last one partial): three blocks of two
    gen = torch.Generator().manual_seed(1)
    y0 = torch.randn(W, 2, generator=gen, dtype=F64)
    mu = torch.tensor([1.3], dtype=F64) if shared_param else 0.5 + torch.rand(W, 1, generator=gen, dtype=F64)
    t = torch.linspace(0.0, 3.0, 5, dtype=F64)

    def solve(threads):
        parallel.set_cpu_threads(threads)
        y, m = y0.clone().requires_grad_(True), mu.clone().requires_grad_(True)
        ys, stats = odeint(fields.van_der_pol(m), y, t, method=method, return_stats=True, **kw)
        (ys ** 2).sum().backward()
        return ys.detach(), y.grad, m.grad, stats["n_steps"], stats["n_rejected"]

    parallel.set_cpu_threads(3)
    assert len(parallel.blocks(-(-W // LANES), "cpu")) == 3
    for k, (a, b) in enumerate(zip(solve(1), solve(3))):
        # a shared parameter's gradient is summed over trajectories in another order: rounding only
        tol = 1e-14 if (shared_param and k == 2) else 0.0
        torch.testing.assert_close(a, b, rtol=tol, atol=0)


@wp.kernel
def _scale_row(Y: wp.array2d(dtype=wp.float64), c: wp.array(dtype=wp.float64), a: wp.float64, k: int, w0: int):
    w = wp.tid() + w0
    Y[k + 1, w] = a * wp.sin(Y[k, w]) + c[w] * wp.float64(k)


@wp.kernel
def _shift_row(Y: wp.array2d(dtype=wp.float64), k: int, w0: int):
    w = wp.tid() + w0
    Y[k + 1, w] = Y[k, w] * Y[k, w] - wp.float64(0.5)


@pytest.mark.parametrize("threads", [1, 3])
def test_replayed_launches_equal_plain_launches(small_blocks, threads):
    """Recorded-command replay (scalars repacked, arrays switching between launches, two kernels
    interleaved) gives the outputs and gradients of plain ``wp.launch`` calls, also on a second backward."""
    W, T = 11, 9
    rng = np.random.default_rng(0)
    y0 = rng.uniform(-1, 1, W)
    cs = [rng.uniform(-1, 1, W) for _ in range(2)]

    def run(use_parallel):
        parallel.set_cpu_threads(threads)
        Y = wp.zeros((T + 1, W), dtype=wp.float64, device="cpu", requires_grad=True)
        Y.assign(np.concatenate([y0[None], np.zeros((T, W))]))
        c = [wp.array(x, dtype=wp.float64, device="cpu", requires_grad=True) for x in cs]
        launches = [(_shift_row, [Y, k]) if k % 3 == 2 else (_scale_row, [Y, c[k % 2], wp.float64(0.3 + k), k])
                    for k in range(T)]
        tape = wp.Tape()
        with tape:
            if use_parallel:
                parallel.launch_worlds(launches, W, "cpu")
            else:
                for kernel, inputs in launches:
                    wp.launch(kernel, W, inputs=[*inputs, 0], device="cpu")
        seed = wp.array(np.linspace(0.5, 1.5, (T + 1) * W).reshape(T + 1, W), dtype=wp.float64, device="cpu")
        grads = []
        for _ in range(2):
            tape.zero()
            tape.backward(grads={Y: seed})
            grads.append([Y.grad.numpy().copy(), c[0].grad.numpy().copy(), c[1].grad.numpy().copy()])
        return Y.numpy(), grads

    y_ref, g_ref = run(False)
    y, g = run(True)
    np.testing.assert_array_equal(y, y_ref)
    for second in (0, 1):
        for a, b in zip(g[second], g_ref[0]):
            np.testing.assert_array_equal(a, b)
    assert np.abs(g_ref[0][1]).sum() > 0 and np.abs(g_ref[0][2]).sum() > 0
