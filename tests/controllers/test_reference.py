"""Reference worlds (MuJoCo beside diffsim) and first-order training that starts its windows there."""
import gymnasium as gym
import numpy as np
import pytest
import torch

from controllers.reference import MujocoWorlds
from controllers.shac import TrainConfig, Trainer
from envs import make_functional

pytest.importorskip("mujoco")


@pytest.mark.parametrize("env_id, gym_id", [("diffsim/HalfCheetah-v0", "HalfCheetah-v5"),
                                            ("diffsim/InvertedPendulum-v0", "InvertedPendulum-v5")])
def test_a_reference_step_is_gymnasium_mujoco_envs_step(env_id, gym_id):
    """From the same states and actions, MujocoWorlds lands where Gymnasium's MuJoCo env lands, and the diffsim
    task's reward of that transition is Gymnasium's: the two use one coordinate layout."""
    dyn = make_functional(env_id)
    rng = np.random.default_rng(0)
    n = 3
    state = dyn.reset(n, torch.Generator().manual_seed(1))
    state[:, dyn.nq:] += torch.as_tensor(rng.normal(0.0, 0.5, (n, dyn.nv)))  # moving, feet off the ground or on it
    action = torch.as_tensor(rng.uniform(-1.2, 1.2, (n, dyn.nu)))  # some beyond the control range: clipped
    nxt = MujocoWorlds(dyn, n).step(state, action)
    assert nxt.dtype == torch.float64 and nxt.shape == state.shape
    clipped = torch.clamp(action, torch.as_tensor(dyn.ctrl_low), torch.as_tensor(dyn.ctrl_high))
    reward = dyn.reward(state, clipped, nxt)
    env = gym.make(gym_id)
    for i in range(n):
        env.reset(seed=i)
        env.unwrapped.set_state(state[i, :dyn.nq].numpy(), state[i, dyn.nq:].numpy())
        _, r, _, _, _ = env.step(clipped[i].numpy())
        got = np.concatenate([env.unwrapped.data.qpos, env.unwrapped.data.qvel])
        np.testing.assert_allclose(nxt[i].numpy(), got, rtol=0, atol=1e-9)
        assert float(reward[i]) == pytest.approx(r, abs=1e-9)
    env.close()


def test_bad_reference_input_is_refused():
    with pytest.raises(ValueError, match=r"reference must be None or one of \('mujoco',\), got 'bullet'"):
        TrainConfig(reference="bullet")
    with pytest.raises(ValueError, match="needs a Gymnasium MuJoCo task's dynamics, got PendulumDynamics"):
        MujocoWorlds(make_functional("diffsim/Pendulum-v0"), 2)
    dyn = make_functional("diffsim/InvertedPendulum-v0")
    worlds = MujocoWorlds(dyn, 2)
    with pytest.raises(ValueError, match=r"state must have shape \(2, >= 4\), got \(3, 4\)"):
        worlds.step(torch.zeros(3, 4, dtype=torch.float64), torch.zeros(3, 1, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"action must have shape \(2, 1\), got \(2, 2\)"):
        worlds.step(torch.zeros(2, 4, dtype=torch.float64), torch.zeros(2, 2, dtype=torch.float64))


CFG = TrainConfig(env_id="diffsim/InvertedPendulum-v0", iterations=4, num_envs=4, window=8, episode_steps=1000,
                  critic_iterations=1, critic_minibatches=1, eval_episodes=1, reference="mujoco")


@pytest.mark.compile_bound  # the same module as tests/envs' inverted-pendulum tests (tests/conftest.py)
def test_windows_start_where_mujoco_took_the_worlds_and_the_critic_fits_mujocos_transitions():
    """With ``reference='mujoco'`` every step of the critic's window is a MuJoCo transition of the policy's sampled
    action (terminated worlds restart from fresh starts), and the next window starts from MuJoCo's last states."""
    dyn = make_functional(CFG.env_id)
    trainer = Trainer(CFG, dyn)
    calls = []
    step = trainer.reference.step

    def recording(s, a):
        calls.append((s.clone(), a.clone(), step(s, a)))
        return calls[-1][2]

    trainer.reference.step = recording
    fitted, fit = {}, trainer._fit_critic
    trainer._fit_critic = lambda obs, *rest: (fitted.update(obs=obs), fit(obs, *rest))
    restarts = 0
    for _ in range(3):
        start = trainer.state.clone()
        calls.clear()
        trainer.step()
        assert len(calls) == CFG.window and torch.equal(calls[0][0], start)
        for t, (s, a, nxt) in enumerate(calls):
            assert torch.equal(fitted["obs"][t], dyn.observe(s))
            if t + 1 < len(calls):  # each call continues the last one, or restarts a terminated world
                term = dyn.terminated(nxt)
                assert torch.equal(calls[t + 1][0][~term], nxt[~term])
                restarts += int(term.sum())
        last = calls[-1][2]
        alive = ~dyn.terminated(last)
        assert torch.equal(trainer.state[alive], last[alive])
    assert restarts > 0  # the pendulum fell in some worlds: restarts were exercised


@pytest.mark.compile_bound
def test_a_run_with_reference_worlds_resumes_bit_for_bit(tmp_path):
    """MuJoCo's steps depend on the state and action alone (its solver starts cold): a run stopped at iteration 2
    and resumed ends where an uninterrupted one does."""
    dyn = make_functional(CFG.env_id)
    full = Trainer(CFG, dyn)
    full.train(tmp_path / "full", progress=False, log_every=2)
    part = Trainer(CFG, dyn)
    part.train(tmp_path / "part", progress=False, log_every=2, stop=lambda: part.iteration >= 2)
    assert part.iteration == 2
    resumed = Trainer(CFG, dyn)
    resumed.resume(tmp_path / "part")
    resumed.train(tmp_path / "part", progress=False, log_every=2)
    a, b = full.state_dict(), resumed.state_dict()
    same = [torch.equal(x, b[k][name]) for k in ("actor", "critic", "target") for name, x in a[k].items()]
    assert all(same) and torch.equal(a["state"], b["state"]) and torch.equal(a["rows"], b["rows"])


@pytest.mark.compile_bound
def test_cli_reference_flag_reaches_the_run(tmp_path):
    """``controllers.train --reference mujoco`` trains with reference worlds (saved in the checkpoint's
    configuration); Hopper's recipe has them on."""
    from controllers.evaluate import load_policy
    from controllers.recipes import recipe
    from controllers.train import main

    main(["--env", "diffsim/InvertedPendulum-v0", "--reference", "mujoco", "--iterations", "1", "--num-envs", "2",
          "--window", "2", "--out", str(tmp_path), "--no-progress", "--eval-episodes", "1"])
    cfg, _, _ = load_policy(tmp_path / "checkpoint.pt")
    assert cfg.reference == "mujoco" and recipe("diffsim/InvertedPendulum-v0").reference is None
    assert recipe("diffsim/Hopper-v0").reference == "mujoco"
    assert recipe("diffsim/Hopper-v0", reference=None).reference is None
