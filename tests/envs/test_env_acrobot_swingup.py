"""diffsim/AcrobotSwingUp-v0: Gymnasium's Acrobot-v1 physics with a continuous torque, checked against
Gymnasium's own integrator and equations; its reward, spaces, vector env and gradients."""
import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.envs.classic_control import acrobot as gym_acrobot
from gymnasium.utils.env_checker import check_env

import envs  # noqa: F401
from envs.acrobot_swingup import AcrobotSwingUpDynamics


def gymnasium_step(state, torque):
    """Acrobot-v1's own step (its ``_dsdt``, ``rk4``, ``wrap`` and ``bound``) with an arbitrary torque."""
    env = gym.make("Acrobot-v1").unwrapped
    s_aug = np.append(np.asarray(state, dtype=np.float64), torque)
    ns = gym_acrobot.rk4(env._dsdt, s_aug, [0, env.dt])
    ns[0], ns[1] = gym_acrobot.wrap(ns[0], -np.pi, np.pi), gym_acrobot.wrap(ns[1], -np.pi, np.pi)
    ns[2] = gym_acrobot.bound(ns[2], -env.MAX_VEL_1, env.MAX_VEL_1)
    ns[3] = gym_acrobot.bound(ns[3], -env.MAX_VEL_2, env.MAX_VEL_2)
    return ns


@pytest.mark.parametrize("state,torque", [([0.05, -0.03, 0.02, 0.01], 0.37),
                                          ([np.pi - 1e-4, -np.pi + 1e-4, 0.5, -0.5], -1.0),
                                          ([0.3, 3.1, 2.0, 8.0], 0.8), ([3.0, -3.0, 12.4, -27.9], -0.2),
                                          ([1.0, 2.0, 0.0, 0.0], 3.0)])
def test_step_is_gymnasium_acrobot_with_a_continuous_torque(state, torque):
    dyn = AcrobotSwingUpDynamics()
    ns, reward = dyn.transition(torch.tensor([state], dtype=torch.float64),
                                torch.tensor([[torque]], dtype=torch.float64))
    u = np.clip(torque, -1.0, 1.0)  # the torque bound
    expected = gymnasium_step(state, u)
    np.testing.assert_allclose(ns[0].numpy(), expected, rtol=1e-12, atol=1e-12)
    height = -np.cos(expected[0]) - np.cos(expected[0] + expected[1])
    assert float(reward[0]) == pytest.approx(0.5 * height - 0.01 * u * u, rel=1e-12, abs=1e-12)


def test_env_checks_spaces_and_episode():
    env = gym.make("diffsim/AcrobotSwingUp-v0", render_mode="rgb_array")
    check_env(env.unwrapped, skip_render_check=False)
    assert env.action_space == gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    obs, _ = env.reset(seed=3)
    ref, _ = gym.make("Acrobot-v1").reset(seed=3)  # the same start distribution and draws
    np.testing.assert_array_equal(obs, ref)
    steps, total = 0, 0.0
    while True:
        obs, reward, term, trunc, _ = env.step(np.array([0.0], dtype=np.float32))
        total += reward
        steps += 1
        assert not term
        if trunc:
            break
    assert steps == 200
    assert -1.0 <= total / steps < -0.9  # hanging with no torque: the tip stays near -2 link lengths


def test_vector_env_matches_single_envs():
    venv = gym.make_vec("diffsim/AcrobotSwingUp-v0", num_envs=3, vectorization_mode="vector_entry_point")
    singles = [gym.make("diffsim/AcrobotSwingUp-v0") for _ in range(3)]
    obs, _ = venv.reset(seed=7)
    np.testing.assert_array_equal(obs, np.stack([e.reset(seed=7 + i)[0] for i, e in enumerate(singles)]))
    rng = np.random.default_rng(0)
    for _ in range(30):
        a = rng.uniform(-1, 1, (3, 1)).astype(np.float32)
        obs, rew, *_ = venv.step(a)
        ref = [e.step(a[i]) for i, e in enumerate(singles)]
        np.testing.assert_allclose(obs, np.stack([r[0] for r in ref]), rtol=0, atol=1e-6)
        np.testing.assert_allclose(rew, [r[1] for r in ref], rtol=1e-12)


def test_gradients_against_finite_differences():
    dyn = AcrobotSwingUpDynamics()
    g = torch.Generator().manual_seed(0)
    state = (dyn.reset(4, g) * 10).requires_grad_(True)  # away from the wrap and velocity bounds
    action = (1.6 * torch.rand(4, 1, generator=g, dtype=torch.float64) - 0.8).requires_grad_(True)
    params = dyn.params.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda s, a, p: dyn.step(s, a, p)[:3], (state, action, params),
                                    eps=1e-6, atol=1e-7)


@pytest.mark.parametrize("bad,match", [(dict(max_torque=0.0), "max_torque"), (dict(m2=-1.0), "m2"),
                                       (dict(g=float("nan")), "g must be finite")])
def test_bad_parameters(bad, match):
    with pytest.raises(ValueError, match=match):
        AcrobotSwingUpDynamics(**bad)


def test_bad_actions():
    env = gym.make("diffsim/AcrobotSwingUp-v0")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="finite"):
        env.step(np.array([np.nan], dtype=np.float32))
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros(2, dtype=np.float32))
