"""diffsim/Trebuchet-v0: Gymnasium contract, vector env, differentiable step, bad input."""
import math

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

import envs  # noqa: F401  (registers the ids)
from diffsim.trebuchet import LB, simulate
from envs.trebuchet import TrebuchetEnv, TrebuchetFunctional, TrebuchetVectorEnv


def test_check_env_passes():
    check_env(gym.make("diffsim/Trebuchet-v0").unwrapped, skip_render_check=False)


def test_seeding_is_deterministic_and_reward_is_minus_miss():
    env = gym.make("diffsim/Trebuchet-v0")
    o1, _ = env.reset(seed=3)
    o2, _ = env.reset(seed=3)
    assert np.array_equal(o1, o2)
    o3, _ = env.reset()
    assert not np.array_equal(o1, o3)
    action = np.array([200 * LB, math.radians(45)], dtype=np.float32)
    obs, reward, terminated, truncated, info = env.step(action)
    d = simulate(torch.tensor(float(o3[1]), dtype=torch.float64), torch.tensor(float(action[1]), dtype=torch.float64),
                 torch.tensor(float(action[0]), dtype=torch.float64))
    assert terminated and not truncated
    assert abs(reward + abs(float(d) - float(o3[0]))) < 1e-4  # obs is the float32 view of the context
    assert abs(info["distance"] - float(d)) < 1e-3


def test_reset_with_exact_state():
    env = TrebuchetEnv()
    obs, _ = env.reset(options={"state": [82.79904064062524, 0.0]})
    _, reward, *_ = env.step(np.array([200 * LB, math.radians(45)]))
    assert abs(reward) < 1e-4  # Trebuchet.jl's (0 m/s, 45 deg, 200 lb) lands at 82.799 m


def test_actions_are_clipped_to_the_box():
    env = TrebuchetEnv()
    env.reset(options={"state": [60.0, 0.0]})
    _, r_clipped, *_ = env.step(np.array([1e6, 0.8]))
    env.reset(options={"state": [60.0, 0.0]})
    _, r_edge, *_ = env.step(np.array([env.action_space.high[0], 0.8]))
    assert r_clipped == r_edge


def test_render_rgb_array():
    env = TrebuchetEnv(render_mode="rgb_array")
    env.reset(seed=0)
    f0 = env.render()
    env.step(env.action_space.sample())
    f1 = env.render()
    assert f0.ndim == 3 and f0.shape[-1] == 3 and f0.dtype == np.uint8
    assert f1.shape == f0.shape and not np.array_equal(f0, f1)


def test_make_vec_is_native_and_equals_single_envs():
    n = 5
    venv = gym.make_vec("diffsim/Trebuchet-v0", num_envs=n, vectorization_mode="vector_entry_point")
    assert isinstance(venv.unwrapped, TrebuchetVectorEnv)
    obs, _ = venv.reset(seed=10)
    rng = np.random.default_rng(0)
    actions = np.stack([rng.uniform(50, 200, n), rng.uniform(0.3, 1.2, n)], -1).astype(np.float32)
    obs2, rew, term, trunc, info = venv.step(actions)
    singles = [TrebuchetEnv() for _ in range(n)]
    for i, env in enumerate(singles):
        o, _ = env.reset(seed=10 + i)
        assert np.array_equal(o, obs[i])
        _, r, t, _, _ = env.step(actions[i])
        assert abs(r - rew[i]) < 1e-9 and t == term[i]
        o_next, _ = env.reset()
        assert np.array_equal(o_next, obs2[i])  # same-step autoreset gives the next episode's context
    assert np.array_equal(info["final_obs"], obs)


def test_record_episode_statistics_wrapper():
    venv = gym.wrappers.vector.RecordEpisodeStatistics(
        gym.make_vec("diffsim/Trebuchet-v0", num_envs=3, vectorization_mode="vector_entry_point"))
    venv.reset(seed=0)
    _, rew, _, _, info = venv.step(venv.action_space.sample())
    assert np.allclose(info["episode"]["r"], rew) and (info["episode"]["l"] == 1).all()


def test_functional_step_gradients_match_finite_differences():
    fn = TrebuchetFunctional()
    state = fn.reset(4, torch.Generator().manual_seed(0), dtype=torch.float64)
    action = torch.tensor([[90.0, 0.7], [60.0, 0.5], [150.0, 0.9], [120.0, 0.6]], dtype=torch.float64,
                          requires_grad=True)
    state = state.clone().requires_grad_(True)
    _, _, reward, terminated = fn.step(state, action)
    assert terminated.all()
    ga, gs = torch.autograd.grad(reward.sum(), (action, state))
    eps = 1e-6
    for x, g in ((action, ga), (state, gs)):
        for i in range(4):
            for j in range(2):
                xp, xm = x.detach().clone(), x.detach().clone()
                xp[i, j] += eps
                xm[i, j] -= eps
                args_p = (xp, action.detach()) if x is state else (state.detach(), xp)
                args_m = (xm, action.detach()) if x is state else (state.detach(), xm)
                fd = (fn.step(*args_p)[2][i] - fn.step(*args_m)[2][i]) / (2 * eps)
                assert abs(float(g[i, j]) - float(fd)) < 1e-5 * max(1.0, abs(float(fd)))


@pytest.mark.parametrize("action,match", [(np.zeros(3), "shape"), (np.array([np.nan, 0.5]), "finite"),
                                          (np.array(["a", "b"]), "numeric")])
def test_bad_actions(action, match):
    env = TrebuchetEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError, match=match):
        env.step(action)


def test_bad_parameters():
    with pytest.raises(ValueError, match="num_envs"):
        TrebuchetVectorEnv(num_envs=0)
    with pytest.raises(ValueError, match="wind_std"):
        TrebuchetEnv(wind_std=-1.0)
    with pytest.raises(ValueError, match="model"):
        TrebuchetEnv(model="toy")
