"""Predictor training: windows, data from diffsim's simulators, checkpoints that resume bit for bit, and stops."""
import pytest
import torch

from controllers.predictors import MemoryNetwork, fit, windows
from controllers.predictors.data import controlled_quadrotor, delayed_pendulum, driven_trajectories, lorenz96


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


def test_lorenz96_matches_scipy():
    """The generated series is Lorenz-96 as scipy's solve_ivp integrates it (physics check of the data)."""
    import numpy as np
    from scipy.integrate import solve_ivp

    xs = lorenz96(variables=6, samples=21, dt=0.05, forcing=8.0, seed=3, burn_in=0.0)

    def rhs(t, x):
        return (np.roll(x, -1) - np.roll(x, 2)) * np.roll(x, 1) - x + 8.0

    ref = solve_ivp(rhs, (0, 1.0), xs[0].numpy(), t_eval=np.linspace(0, 1.0, 21), rtol=1e-11, atol=1e-12).y.T
    # measured: RK4 at dt / 10 = 0.005 ends 7.6e-6 (relative) from scipy after this second of chaotic flow; a
    # forcing off by 1e-4 (8.0001) ends 1.3e-4 away
    np.testing.assert_allclose(xs.numpy(), ref, rtol=3e-5)
    with pytest.raises(ValueError, match="variables must be an int >= 4"):
        lorenz96(variables=3)


def test_controlled_quadrotor_follows_its_reference_with_the_recorded_thrusts():
    from envs.quadrotor import QuadrotorDynamics

    states, thrusts = controlled_quadrotor(3, 150, seed=2)
    assert states.shape == (3, 151, 13) and thrusts.shape == (3, 151, 4)
    dyn = QuadrotorDynamics()
    goal = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64).expand(3, 3)
    s = torch.cat([states[:, 0], goal], 1)
    for k in range(5):  # the recorded states are the env's steps under the recorded thrusts
        s, _ = dyn.transition(s, thrusts[:, k])
        torch.testing.assert_close(s[:, :13], states[:, k + 1], rtol=1e-10, atol=1e-10)
    # it flies (stays airborne, level within 0.3 rad) and moves after its reference (> 5 cm over 1.5 s)
    assert float(states[:, :, 2].min()) > 0.3 and float(states[:, :, 3].min()) > 0.99
    assert float((states[:, :, :3] - states[:, :1, :3]).norm(dim=-1).amax(1).min()) > 0.05


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
