"""diffsim/InvertedPendulum-v0 against Gymnasium's InvertedPendulum-v5 (real MuJoCo) on shared states."""
import gymnasium as gym
import numpy as np
import pytest

import envs  # noqa: F401
from envs.inverted_pendulum import InvertedPendulumEnv

pytest.importorskip("mujoco")


def test_episodes_match_gymnasium_v5_step_for_step():
    """Same seed: the same start (Gymnasium's draws), then the same random actions: the float64 state equals MuJoCo's
    to 1e-9 at every step, rewards and terminations are equal, for three whole episodes (until termination)."""
    ours, ref = InvertedPendulumEnv(), gym.make("InvertedPendulum-v5").unwrapped
    rng = np.random.default_rng(0)
    for episode in range(3):
        o, _ = ours.reset(seed=episode)
        r, _ = ref.reset(seed=episode)
        np.testing.assert_allclose(ours.state, np.concatenate([ref.data.qpos, ref.data.qvel]), atol=1e-15)
        np.testing.assert_allclose(o, r, rtol=1e-6, atol=1e-7)
        for step in range(1000):
            a = rng.uniform(-0.5, 0.5, 1).astype(np.float32)
            o, rew, term, trunc, _ = ours.step(a)
            r, ref_rew, ref_term, _, _ = ref.step(a)
            np.testing.assert_allclose(ours.state, np.concatenate([ref.data.qpos, ref.data.qvel]), atol=1e-9,
                                       err_msg=f"episode {episode}, step {step}")
            assert rew == ref_rew and term == ref_term and not trunc
            if term:
                break
        assert term and step > 5  # random pushes topple the pole within the episode


def test_registered_and_checked():
    from gymnasium.utils.env_checker import check_env

    env = gym.make("diffsim/InvertedPendulum-v0")
    assert env.spec.max_episode_steps == 1000 and env.spec.reward_threshold == 950.0
    check_env(env.unwrapped)
    with pytest.raises(ValueError, match="reset_noise_scale"):
        InvertedPendulumEnv(reset_noise_scale=-1.0)
