"""The Warp <-> torch bridge: gradcheck, reuse, retain_graph, checkpointed rollouts; the tape-free KernelOp."""
import pytest
import torch
import warp as wp

from diffsim.bridge import KernelOp, checkpointed_rollout, warp_apply


@wp.kernel
def _spring_step(x: wp.array(dtype=wp.float64), v: wp.array(dtype=wp.float64), k: wp.array(dtype=wp.float64),
                 x1: wp.array(dtype=wp.float64), v1: wp.array(dtype=wp.float64)):
    i = wp.tid()
    dt = wp.float64(0.05)
    a = -k[0] * wp.sin(x[i]) * x[i]
    v1[i] = v[i] + dt * a
    x1[i] = x[i] + dt * v1[i]


def _step_fn(x, v, k):
    x1 = wp.empty_like(x, requires_grad=True)
    v1 = wp.empty_like(v, requires_grad=True)
    wp.launch(_spring_step, x.shape[0], inputs=[x, v, k], outputs=[x1, v1], device=x.device)
    return x1, v1


def _torch_step(x, v, k):
    a = -k[0] * torch.sin(x) * x
    v1 = v + 0.05 * a
    return x + 0.05 * v1, v1


def _inputs():
    x = torch.randn(5, dtype=torch.float64, requires_grad=True)
    v = torch.randn(5, dtype=torch.float64, requires_grad=True)
    k = torch.tensor([1.7], dtype=torch.float64, requires_grad=True)
    return x, v, k


def test_gradcheck_through_bridge():
    x, v, k = _inputs()
    assert torch.autograd.gradcheck(lambda *a: warp_apply(_step_fn, *a), (x, v, k), eps=1e-6, atol=1e-8)


def test_gradcheck_recompute_mode():
    x, v, k = _inputs()
    assert torch.autograd.gradcheck(lambda *a: warp_apply(_step_fn, *a, recompute=True), (x, v, k),
                                    eps=1e-6, atol=1e-8)


def test_forward_matches_torch_reference():
    x, v, k = _inputs()
    got = warp_apply(_step_fn, x, v, k)
    ref = _torch_step(x, v, k)
    for g, r in zip(got, ref):
        torch.testing.assert_close(g, r, rtol=0, atol=1e-14)


def _rollout(x, v, k, steps, op):
    for _ in range(steps):
        x, v = op(x, v, k)
    return (x ** 2).sum() + v.sum()


def _assert_same_loss_and_gradients(loss_fn, warp_op, inputs):
    """``loss_fn(step)`` through ``warp_op`` and through the torch reference step: same loss and gradients."""
    loss, loss_ref = loss_fn(warp_op), loss_fn(_torch_step)
    torch.testing.assert_close(loss, loss_ref, rtol=1e-12, atol=1e-12)
    for a, b in zip(torch.autograd.grad(loss, inputs), torch.autograd.grad(loss_ref, inputs)):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_chained_rollout_matches_torch_autograd():
    x, v, k = _inputs()
    _assert_same_loss_and_gradients(lambda op: _rollout(x, v, k, 30, op), lambda *a: warp_apply(_step_fn, *a),
                                    (x, v, k))


def test_repeated_use_and_iterations_give_same_gradients():
    x, v, k = _inputs()
    grads = []
    for _ in range(3):  # across iterations
        loss = _rollout(x, v, k, 10, lambda *a: warp_apply(_step_fn, *a))
        grads.append(torch.autograd.grad(loss, (x, v, k)))
    for g in grads[1:]:
        for a, b in zip(g, grads[0]):
            assert torch.equal(a, b)


def test_retain_graph_backward_twice_gives_same_gradients():
    x, v, k = _inputs()
    loss = _rollout(x, v, k, 5, lambda *a: warp_apply(_step_fn, *a))
    loss.backward(retain_graph=True)
    g1 = [t.grad.clone() for t in (x, v, k)]
    for t in (x, v, k):
        t.grad = None
    loss.backward()
    for t, g in zip((x, v, k), g1):
        assert torch.equal(t.grad, g)


def test_same_op_used_twice_on_same_input():
    x, v, k = _inputs()
    a1, _ = warp_apply(_step_fn, x, v, k)
    a2, _ = warp_apply(_step_fn, x, v, k)
    g = torch.autograd.grad((a1 * a2).sum(), x)[0]
    r1, _ = _torch_step(x, v, k)
    g_ref = torch.autograd.grad((r1 * r1).sum(), x)[0]
    torch.testing.assert_close(g, g_ref, rtol=1e-12, atol=1e-12)


def test_checkpointed_rollout_gradients_equal_plain_rollout():
    x, v, k = _inputs()

    def step(i, x, v):
        x1, v1 = warp_apply(_step_fn, x, v, k, recompute=True)
        return x1, v1, x1.sum()

    (xf, vf), outs = checkpointed_rollout(step, (x, v), 40, segment_length=7)
    loss = (xf ** 2).sum() + vf.sum() + sum(o[0] for o in outs)
    g = torch.autograd.grad(loss, (x, v, k))

    xr, vr, extra = x, v, 0.0
    for _ in range(40):
        xr, vr = _torch_step(xr, vr, k)
        extra = extra + xr.sum()
    loss_ref = (xr ** 2).sum() + vr.sum() + extra
    g_ref = torch.autograd.grad(loss_ref, (x, v, k))
    assert len(outs) == 40
    for a, b in zip(g, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


# --- KernelOp: one per-row kernel, persistent buffers, recorded forward and adjoint launches ----------------

_f64 = wp.float64
_SPRING_OP = KernelOp(_spring_step, (_f64, _f64, _f64), (_f64, _f64), batched=(True, True, False))


def test_kernel_op_gradcheck_and_forward():
    x, v, k = _inputs()
    for g, r in zip(_SPRING_OP(x, v, k), _torch_step(x, v, k)):
        torch.testing.assert_close(g, r, rtol=0, atol=1e-14)
    assert torch.autograd.gradcheck(lambda *a: _SPRING_OP(*a), (x, v, k), eps=1e-6, atol=1e-8)


def test_kernel_op_rollout_and_interleaved_calls_match_torch_autograd():
    x, v, k = _inputs()
    # two rollouts through the same buffers, interleaved, one loss: each backward must use its own inputs
    _assert_same_loss_and_gradients(lambda op: _rollout(x, v, k, 20, op) + 0.5 * _rollout(v, x, k, 20, op),
                                    _SPRING_OP, (x, v, k))


def test_kernel_op_batch_sizes_unused_outputs_and_retain_graph():
    x, v, k = _inputs()
    xs = torch.randn(9, dtype=torch.float64, requires_grad=True)
    losses = []
    for xi, vi in ((x, v), (xs, xs.detach() * 0.3), (x, v)):  # switch batch size and back
        x1, _ = _SPRING_OP(xi, vi, k)  # the second output gets no gradient
        losses.append((x1 ** 3).sum())
    loss = sum(losses)
    loss.backward(retain_graph=True)
    first = [t.grad.clone() for t in (x, v, xs, k)]
    for t in (x, v, xs, k):
        t.grad = None
    loss.backward()
    for t, g in zip((x, v, xs, k), first):
        assert torch.equal(t.grad, g)
    ref = sum((_torch_step(xi, vi, k)[0] ** 3).sum() for xi, vi in ((x, v), (xs, xs.detach() * 0.3), (x, v)))
    for a, b in zip(torch.autograd.grad(ref, (x, v, xs, k)), first):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    assert len(_SPRING_OP._buffers) <= KernelOp.MAX_SIZES


def test_kernel_op_empty_batch():
    k = torch.tensor([1.7], dtype=torch.float64, requires_grad=True)
    x = torch.zeros(0, dtype=torch.float64, requires_grad=True)
    x1, v1 = _SPRING_OP(x, x.detach(), k)
    assert x1.shape == v1.shape == (0,)
    gx, gk = torch.autograd.grad(x1.sum(), (x, k))
    assert gx.shape == (0,) and float(gk) == 0.0


def test_kernel_op_rejects_wrong_shapes_and_counts():
    x, v, k = _inputs()
    with pytest.raises(ValueError, match="input 1 must have shape"):
        _SPRING_OP(x, v[:3], k)
    with pytest.raises(ValueError, match="takes 3 tensors"):
        _SPRING_OP(x, v)
