"""State / Control / step: one step equals one rollout step; qpos0 as MuJoCo defines it."""
import numpy as np
import pytest
import torch

from diffsim.rigid import Control, builtin_model, default_control, default_state, load_mjcf, rollout, step

F64 = torch.float64


def test_step_equals_rollout_and_carries_gradients():
    model = load_mjcf(builtin_model("cartpole"), num_worlds=2, dtype=F64)
    state = default_state(model)
    state.qpos[:, 1] = 0.3
    ctrl = torch.tensor([[0.5], [-0.5]], dtype=F64, requires_grad=True)
    s = state
    for _ in range(5):
        s = step(model, s, Control(ctrl))
    qs, vs = rollout(model, state.qpos, state.qvel, ctrl.unsqueeze(1).expand(2, 5, 1))
    torch.testing.assert_close(s.qpos, qs[:, -1], rtol=0, atol=1e-15)
    (g,) = torch.autograd.grad(s.qpos.sum(), ctrl)
    assert torch.isfinite(g).all() and g.abs().sum() > 0


def test_default_state_is_mujoco_qpos0():
    mujoco = pytest.importorskip("mujoco")
    path = builtin_model("ball_and_box")
    model = load_mjcf(path, dtype=F64)
    np.testing.assert_allclose(default_state(model).qpos[0].numpy(), mujoco.MjModel.from_xml_path(path).qpos0)
    assert default_control(load_mjcf(builtin_model("quadrotor"))).ctrl.shape == (1, 4)
