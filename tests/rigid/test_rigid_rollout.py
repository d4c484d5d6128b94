"""rollout on pooled per-shape workspaces: forward-only and differentiable calls, reuse, recompute, limits."""
from collections import OrderedDict
from pathlib import Path

import pytest
import torch

from diffsim.rigid import builtin_model, codegen, default_state, load_mjcf, rollout
from diffsim.rigid.rollout import _Workspace
from diffsim.runtime import RIGID_OPTIMIZATION_LEVEL_ENV

F64 = torch.float64


def _inputs(name, worlds, steps, seed):
    model = load_mjcf(builtin_model(name), num_worlds=worlds, dtype=F64)
    g = torch.Generator().manual_seed(seed)
    state = default_state(model)
    qpos = state.qpos + 0.05 * torch.randn(state.qpos.shape, generator=g, dtype=F64)
    qvel = 0.3 * torch.randn(state.qvel.shape, generator=g, dtype=F64)
    ctrl = torch.randn(worlds, steps, model.nu, generator=g, dtype=F64)
    return model, qpos, qvel, ctrl


@pytest.mark.parametrize("name,integrator", [("cartpole", "rk4"), ("ball_and_box", "euler"), ("quadrotor", "rk4")])
def test_forward_only_rollout_equals_the_differentiable_one(name, integrator, monkeypatch):
    monkeypatch.setattr(codegen, "_WITH_ADJOINTS", set())  # the no-grad call compiles its own module
    model, qpos, qvel, ctrl = _inputs(name, 3, 20, 0)
    with torch.no_grad():
        fast = rollout(model, qpos, qvel, ctrl, integrator=integrator)
    taped = rollout(model, qpos, qvel.clone().requires_grad_(True), ctrl, integrator=integrator)
    assert taped[0].requires_grad and not fast[0].requires_grad
    for a, b in zip(fast, taped):
        torch.testing.assert_close(a, b.detach(), rtol=0, atol=0)


def test_no_grad_calls_reuse_the_module_with_adjoints_once_it_is_in_use(monkeypatch):
    """After a call that needed gradients, calls without them run the same module (no second compile)."""
    monkeypatch.setattr(codegen, "_WITH_ADJOINTS", set())
    monkeypatch.setattr(codegen, "_BY_TOPOLOGY", {})  # modules stay loaded (by source hash); this test's lookups
    model, qpos, qvel, ctrl = _inputs("pendulum", 2, 5, 3)
    taped = rollout(model, qpos.clone().requires_grad_(True), qvel, ctrl)
    with torch.no_grad():
        plain = rollout(model, qpos, qvel, ctrl)
    assert [key[2] for key in codegen._BY_TOPOLOGY] == ["dynamics"]
    torch.testing.assert_close(plain[0], taped[0].detach(), rtol=0, atol=0)


def test_a_level_set_later_gets_its_own_module(monkeypatch):
    """The rigid modules' compiler level is part of their source, and of the per-topology lookup: a level set
    after a model's module was loaded in this process gets a module at that level, not the one already loaded."""
    monkeypatch.setattr(codegen, "_BY_TOPOLOGY", {})
    model = load_mjcf(builtin_model("pendulum"), num_worlds=1, dtype=F64)
    modules = {}
    for level in ("0", "1", "0"):
        monkeypatch.setenv(RIGID_OPTIMIZATION_LEVEL_ENV, level)
        module = codegen.load(model, "float64", part="dynamics_forward")  # imported, not compiled before a launch
        assert f"'optimization_level': {level}" in Path(module.__file__).read_text()
        assert modules.setdefault(level, module) is module
    assert modules["0"] is not modules["1"]


def test_forward_only_results_are_not_overwritten_and_follow_the_parameters():
    model, qpos, qvel, ctrl = _inputs("double_pendulum", 2, 10, 1)
    first = rollout(model, qpos, qvel, ctrl)  # nothing requires grad: the forward-only path
    kept = [t.clone() for t in first]
    second = rollout(model, qpos + 0.1, qvel, ctrl)  # same shape: same buffers
    for a, b in zip(first, kept):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.equal(first[0], second[0])
    model.body_mass = model.body_mass * 2.0  # parameters are read on every call
    model.dof_damping = model.dof_damping + 0.5
    heavier = rollout(model, qpos, qvel, ctrl)
    reference = rollout(model, qpos.clone().requires_grad_(True), qvel, ctrl)
    torch.testing.assert_close(heavier[1], reference[1].detach(), rtol=0, atol=0)
    assert not torch.equal(heavier[1], first[1])


def test_forward_only_shapes_are_bounded_and_evicted_ones_come_back():
    model, qpos, qvel, ctrl = _inputs("pendulum", 2, 12, 2)
    expected = [rollout(model, qpos.clone().requires_grad_(True), qvel, ctrl[:, :t])[0].detach() for t in range(1, 8)]
    for t in (*range(1, 8), 1, 2):
        torch.testing.assert_close(rollout(model, qpos, qvel, ctrl[:, :t])[0], expected[t - 1], rtol=0, atol=0)
    assert _Workspace.cached_bytes() <= _Workspace.MAX_CACHED_BYTES


def _grads(model, qpos, qvel, ctrl, weights):
    leaves = [t.clone().requires_grad_(True) for t in (qpos, qvel, ctrl)]
    model.body_mass.requires_grad_(True)
    model.body_mass.grad = None
    qs, vs = rollout(model, *leaves)
    loss = (weights[0] * qs).sum() + (weights[1] * vs).sum()
    return loss, leaves


@pytest.mark.parametrize("pooled", [True, False], ids=["own-workspaces", "shared-workspace-recomputes"])
def test_backward_after_another_call_of_the_same_shape(pooled, monkeypatch):
    """Live graphs of one shape get workspaces of their own while the budget allows; past it they share
    one, and a backward after another call's forward re-runs its own forward first: same gradients."""
    monkeypatch.setattr(_Workspace, "_cache", OrderedDict())  # this test's pools only
    if not pooled:
        monkeypatch.setattr(_Workspace, "MAX_CACHED_BYTES", 1)
    model, qpos, qvel, ctrl = _inputs("cartpole", 2, 15, 3)
    g = torch.Generator().manual_seed(4)
    weights = tuple(torch.randn(2, 16, n, generator=g, dtype=F64) for n in (model.nq, model.nv))
    loss, leaves = _grads(model, qpos, qvel, ctrl, weights)
    alone = torch.autograd.grad(loss, [*leaves, model.body_mass])
    del loss  # its graph, and so its hold on a workspace, goes
    loss_a, leaves_a = _grads(model, qpos, qvel, ctrl, weights)
    loss_b, leaves_b = _grads(model, qpos + 0.2, -qvel, 2 * ctrl, weights)  # a second live graph of the shape
    assert (loss_a.grad_fn is not None) and len(_pool(model, ctrl)) == (2 if pooled else 1)
    first = torch.autograd.grad(loss_a, [*leaves_a, model.body_mass], retain_graph=True)
    for a, b in zip(first, alone):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    again = torch.autograd.grad(loss_a, [*leaves_a, model.body_mass])  # retain_graph: a second backward
    for a, b in zip(again, alone):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    other = torch.autograd.grad(loss_b, [*leaves_b, model.body_mass])
    assert not torch.equal(other[0], alone[0])


def test_gradient_through_one_output_only():
    model, qpos, qvel, ctrl = _inputs("double_pendulum", 2, 8, 5)
    v = qvel.clone().requires_grad_(True)
    _, vs = rollout(model, qpos, v, ctrl)
    (g,) = torch.autograd.grad(vs[:, -1].sum(), v)
    eps = 1e-6
    fd = torch.zeros_like(qvel)
    for i in range(qvel.shape[0]):
        for j in range(qvel.shape[1]):
            d = torch.zeros_like(qvel)
            d[i, j] = eps
            fd[i, j] = (rollout(model, qpos, qvel + d, ctrl)[1][:, -1].sum() -
                        rollout(model, qpos, qvel - d, ctrl)[1][:, -1].sum()) / (2 * eps)
    torch.testing.assert_close(g, fd, rtol=1e-6, atol=1e-8)


def _pool(model, ctrl):
    """The workspaces cached for rollouts shaped like ``model``/``ctrl`` (float64, rk4)."""
    pools = [pool for key, pool in _Workspace._cache.items() if key[3:5] == (model.num_worlds, ctrl.shape[1])
             and key[1] == F64 and key[5] == "rk4"]
    return pools[0] if pools else []


def test_free_workspaces_are_reused(monkeypatch):
    monkeypatch.setattr(_Workspace, "_cache", OrderedDict())
    model, qpos, qvel, ctrl = _inputs("acrobot", 3, 9, 7)
    for _ in range(5):  # no graph outlives its iteration: one workspace serves them all
        rollout(model, qpos, qvel, ctrl)
        loss, _ = _grads(model, qpos, qvel, ctrl, (1.0, 1.0))
        loss.backward()
        del loss
    assert len(_pool(model, ctrl)) == 1


def test_large_rollouts_are_not_cached_and_still_differentiate(monkeypatch):
    monkeypatch.setattr(_Workspace, "MAX_WORKSPACE_BYTES", 0)
    model, qpos, qvel, ctrl = _inputs("cartpole", 2, 6, 6)
    before = dict(_Workspace._cache)
    weights = (torch.ones(2, 7, model.nq, dtype=F64), torch.ones(2, 7, model.nv, dtype=F64))
    loss_a, leaves_a = _grads(model, qpos, qvel, ctrl, weights)
    loss_b, _ = _grads(model, qpos + 0.2, qvel, ctrl, weights)  # its own buffers: nothing to recompute
    got = torch.autograd.grad(loss_a, leaves_a)
    assert _Workspace._cache == before
    monkeypatch.undo()
    loss, leaves = _grads(model, qpos, qvel, ctrl, weights)
    for a, b in zip(got, torch.autograd.grad(loss, leaves)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
