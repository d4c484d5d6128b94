"""Predictor training: windows, data from diffsim's simulators, checkpoints that resume bit for bit, and stops."""
import pytest
import torch

from controllers.predictors import MemoryNetwork, fit, windows
from controllers.predictors.data import delayed_pendulum, driven_trajectories


def test_windows_cut_every_past_future_pair():
    states = torch.arange(2 * 9 * 1, dtype=torch.float64).reshape(2, 9, 1)
    inputs = -states
    past, future, exog = windows(states, 3, 2, inputs, stride=2)
    assert past.shape == (2 * 3, 3, 1) and future.shape == (6, 2, 1) and exog.shape == (6, 5, 1)
    torch.testing.assert_close(past[1, :, 0], torch.tensor([2.0, 3.0, 4.0], dtype=torch.float64))
    torch.testing.assert_close(future[1, :, 0], torch.tensor([5.0, 6.0], dtype=torch.float64))
    torch.testing.assert_close(past[3, :, 0], torch.tensor([9.0, 10.0, 11.0], dtype=torch.float64))  # trajectory 2
    torch.testing.assert_close(exog[1, :, 0], -torch.arange(2.0, 7.0, dtype=torch.float64))
    with pytest.raises(ValueError, match="shorter than window \\+ horizon = 12"):
        windows(states, 10, 2)
    with pytest.raises(ValueError, match="horizon must be an int >= 1"):
        windows(states, 3, 0)


def test_driven_trajectories_are_the_envs_own_steps():
    """The batched rollout, subsampled every frame_skip, equals stepping the env's transition with the same inputs."""
    from envs import make_functional

    states, u = driven_trajectories("diffsim/DoublePendulum-v0", 3, 6, seed=4)
    assert states.shape == (3, 7, 4) and u.shape == (3, 7, 2)
    assert bool((u.abs() <= 10).all()) and float(u.std()) > 0.5
    dyn = make_functional("diffsim/DoublePendulum-v0")
    s = states[:, 0]
    for k in range(6):
        s, _ = dyn.transition(s, u[:, k])
        torch.testing.assert_close(s, states[:, k + 1], rtol=1e-10, atol=1e-10)


def test_delayed_pendulum_uses_the_input_of_the_right_step():
    """With both delays 1 the system is Pendulum-v0 driven by the previous step's input."""
    from envs import make_functional

    states, u = delayed_pendulum(4, 12, seed=1, delays=(1, 1))
    dyn = make_functional("diffsim/Pendulum-v0")
    s = states[:, 0]
    for k in range(12):
        a = u[:, k - 1] if k >= 1 else torch.zeros_like(u[:, 0])
        s, _ = dyn.transition(s, a)
        torch.testing.assert_close(s, states[:, k + 1])
    slow, _ = delayed_pendulum(4, 12, seed=1, delays=(1, 8))
    assert not torch.allclose(slow, states)


def _data():
    gen = torch.Generator().manual_seed(0)
    x = torch.cumsum(torch.randn(6, 30, 2, generator=gen), 1) * 0.1
    return windows(x, 8, 3)


def test_checkpoint_resumes_bit_for_bit_and_refuses_other_settings(tmp_path):
    past, future, _ = _data()
    torch.manual_seed(0)
    whole = MemoryNetwork(input_dim=2, embed=16)
    h_whole = fit(whole, past, future, steps=20, batch_size=16, progress=False, log_every=5)
    torch.manual_seed(0)
    part = MemoryNetwork(input_dim=2, embed=16)
    ckpt = tmp_path / "predictor.pt"
    fit(part, past, future, steps=10, batch_size=16, progress=False, log_every=5, checkpoint=ckpt)
    torch.manual_seed(123)
    resumed = MemoryNetwork(input_dim=2, embed=16)
    h = fit(resumed, past, future, steps=20, batch_size=16, progress=False, log_every=5, checkpoint=ckpt, resume=True)
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert h["step"] == h_whole["step"] and h["train"] == h_whole["train"]
    torch.load(ckpt, weights_only=True)
    with pytest.raises(ValueError, match=r"other settings: \['lr'\]"):
        fit(resumed, past, future, steps=30, lr=1e-2, batch_size=16, progress=False, checkpoint=ckpt, resume=True)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        fit(resumed, past, future, steps=30, progress=False, checkpoint=tmp_path / "none.pt", resume=True)


def test_non_finite_loss_stops_with_a_message(tmp_path):
    past, future, _ = _data()
    model = MemoryNetwork(input_dim=2, embed=8)
    with torch.no_grad():
        model.w1.weight.fill_(float("inf"))
    with pytest.raises(FloatingPointError, match="non-finite loss .* at step 0; last checkpoint: none"):
        fit(model, past, future, steps=5, progress=False)


def test_bad_training_data_is_refused():
    past, future, _ = _data()
    model = MemoryNetwork(input_dim=2, embed=8)
    with pytest.raises(ValueError, match=r"future must be a tensor of shape \(\d+, horizon, 2\)"):
        fit(model, past, future[..., :1], steps=1, progress=False)
    bad = future.clone()
    bad[0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="future must be finite"):
        fit(model, past, bad, steps=1, progress=False)
    with pytest.raises(ValueError, match="steps must be an int >= 1"):
        fit(model, past, future, steps=0, progress=False)
