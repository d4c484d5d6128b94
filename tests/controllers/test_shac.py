"""First-order trainers (APG, SHAC, SAPO): gradients, learning, checkpoints, resume, bad input."""
import dataclasses
import math

import numpy as np
import pytest
import torch

from controllers.policies import Actor, Critic
from controllers.shac import TrainConfig, Trainer, clip_rows, td_lambda, train
from envs import make_functional

CFG = TrainConfig(env_id="diffsim/Pendulum-v0", iterations=40, num_envs=32, window=32, critic_iterations=4,
                  eval_episodes=16)


@pytest.fixture(scope="module")
def pendulum():
    return make_functional("diffsim/Pendulum-v0")


def test_actor_log_prob_is_the_squashed_gaussian_density():
    """Against torch.distributions' tanh-transformed Normal (an independent implementation)."""
    torch.manual_seed(0)
    actor = Actor(3, 2, [-2.0, 0.0], [2.0, 10.0], state_std=True)
    obs = torch.randn(64, 3, dtype=torch.float64)
    gen = torch.Generator().manual_seed(1)
    action, log_prob = actor.sample(obs, gen)
    mu, log_std = actor.distribution(obs)
    ref = torch.distributions.TransformedDistribution(torch.distributions.Normal(mu, log_std.exp()),
                                                      [torch.distributions.TanhTransform()])
    unit = 2 * (action - actor.low) / (actor.high - actor.low) - 1  # the action back in [-1, 1]
    torch.testing.assert_close(log_prob, ref.log_prob(unit.clamp(-1 + 1e-12, 1 - 1e-12)).sum(-1), rtol=1e-6,
                               atol=1e-6)
    assert torch.all(action >= actor.low) and torch.all(action <= actor.high)
    torch.testing.assert_close(actor(obs), actor.low + (actor.high - actor.low) * 0.5 * (torch.tanh(mu) + 1))


def test_mean_init_scale_shrinks_the_initial_mean_and_nothing_else():
    """The mean layer's initial weights and bias times ``mean_init_scale``; at 0 every mean is the box's centre; the
    per-state log-std rows and the hidden layers keep their initialisation."""
    obs = torch.randn(16, 3, dtype=torch.float64)
    torch.manual_seed(0)
    ref = Actor(3, 2, [-2.0, 0.0], [2.0, 10.0], state_std=True)
    for scale in (0.0, 0.01):
        torch.manual_seed(0)
        actor = Actor(3, 2, [-2.0, 0.0], [2.0, 10.0], state_std=True, mean_init_scale=scale)
        torch.testing.assert_close(actor.net[-1].weight[:2], scale * ref.net[-1].weight[:2])
        torch.testing.assert_close(actor.net[-1].bias[:2], scale * ref.net[-1].bias[:2])
        torch.testing.assert_close(actor.distribution(obs)[1], ref.distribution(obs)[1])
        torch.testing.assert_close(actor.net[0].weight, ref.net[0].weight)
    torch.testing.assert_close(Actor(3, 2, [-2.0, 0.0], [2.0, 10.0], mean_init_scale=0.0)(obs),
                               torch.tensor([[0.0, 5.0]], dtype=torch.float64).expand(16, 2))
    with pytest.raises(ValueError, match="mean_init_scale must be a finite factor >= 0, got -1.0"):
        Actor(3, 2, [-2.0], [2.0], mean_init_scale=-1.0)
    with pytest.raises(ValueError, match="mean_init_scale must be a finite factor >= 0, got nan"):
        TrainConfig(mean_init_scale=float("nan"))


def test_td_lambda_limits():
    """lambda = 0 is the one-step target, lambda = 1 the Monte-Carlo return to the segment's end."""
    gen = torch.Generator().manual_seed(0)
    r, v = torch.randn(5, 3, generator=gen, dtype=torch.float64), torch.randn(5, 3, generator=gen, dtype=torch.float64)
    ends = torch.zeros(5, 3, dtype=torch.bool)
    ends[2, 1] = True
    ends[-1] = True
    torch.testing.assert_close(td_lambda(r, v, ends, 0.9, 0.0), r + 0.9 * v)
    mc = td_lambda(r, v, ends, 0.9, 1.0)
    # world 1: steps 0..2 end at 2 (bootstrap v[2]); steps 3..4 end at 4
    expect0 = r[0, 1] + 0.9 * r[1, 1] + 0.81 * r[2, 1] + 0.729 * v[2, 1]
    expect3 = r[3, 1] + 0.9 * r[4, 1] + 0.81 * v[4, 1]
    torch.testing.assert_close(mc[0, 1], expect0)
    torch.testing.assert_close(mc[3, 1], expect3)


@pytest.mark.parametrize("algo", ["apg", "shac", "sapo"])
def test_policy_gradient_matches_finite_differences(pendulum, algo):
    """d(window loss)/d(actor parameters) through the simulator, critic tail and entropy terms
    included, against central differences of the same loss (same noise, float64)."""
    cfg = dataclasses.replace(CFG, algo=algo, num_envs=4, window=6, episode_steps=1000, critic_float32=False)
    trainer = Trainer(cfg, pendulum)
    trainer.state = torch.tensor([[0.3, 0.5], [-1.0, 0.2], [2.0, -1.0], [0.1, 0.0]], dtype=torch.float64)
    rng = trainer.gen.get_state()
    params = [p for p in trainer.actor.parameters()]
    loss, _ = trainer.actor_loss()
    grads = torch.autograd.grad(loss, params)
    checked = 0
    for p, g in zip(params, grads):
        flat = p.detach().view(-1)
        for j in range(0, flat.numel(), max(1, flat.numel() // 3)):
            values = []
            for sign in (1, -1):
                with torch.no_grad():
                    flat[j] += sign * 1e-6
                trainer.gen.set_state(rng)
                with torch.no_grad():
                    values.append(float(trainer.actor_loss()[0]))
                with torch.no_grad():
                    flat[j] -= sign * 1e-6
            fd = (values[0] - values[1]) / 2e-6
            assert abs(fd - float(g.view(-1)[j])) <= 1e-5 * max(1.0, abs(fd)), (p.shape, j, fd, float(g.view(-1)[j]))
            checked += 1
    assert checked >= 10


def test_clip_rows_caps_rows_beyond_the_factor_times_the_median_and_keeps_the_rest():
    g = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 0.0], [60.0, 80.0], [0.0, 2.5]], dtype=torch.float64)
    out = clip_rows(g, 2.0)  # median row norm 2.5: cap 5
    torch.testing.assert_close(out[[0, 1, 2, 4]], g[[0, 1, 2, 4]], rtol=0, atol=0)
    torch.testing.assert_close(out[3], torch.tensor([3.0, 4.0], dtype=torch.float64))


def test_world_clip_reshapes_the_actor_gradient_only_when_a_world_stands_out(pendulum):
    def grads(world_clip):
        cfg = dataclasses.replace(CFG, num_envs=4, window=6, episode_steps=1000, critic_float32=False,
                                  world_clip=world_clip)
        trainer = Trainer(cfg, pendulum)
        trainer.state = torch.tensor([[0.3, 0.5], [-1.0, 0.2], [2.0, -1.0], [0.1, 0.0]], dtype=torch.float64)
        loss, _ = trainer.actor_loss()
        return torch.cat([g.flatten() for g in torch.autograd.grad(loss, list(trainer.actor.parameters()))])

    plain = grads(None)
    assert torch.equal(grads(1e9), plain)  # no world beyond the cap: the same gradient, bit for bit
    clipped = grads(1e-3)  # every world beyond the median is cut to a thousandth of it
    assert clipped.norm() < 0.5 * plain.norm()
    with pytest.raises(ValueError, match="world_clip"):
        dataclasses.replace(CFG, world_clip=0.0)


@pytest.mark.parametrize("algo", ["apg", "shac"])
def test_short_run_improves_pendulum_return(tmp_path, pendulum, algo):
    rows = train(dataclasses.replace(CFG, algo=algo), pendulum, tmp_path, progress=False, log_every=5)[1]
    early = max(rows[0]["eval_return"], rows[1]["eval_return"])
    assert rows[-1]["eval_return"] > early + 100, [r["eval_return"] for r in rows]
    assert (tmp_path / "log.csv").read_text().count("\n") == len(rows) + 1


def test_sapo_temperature_follows_the_entropy_target(tmp_path, pendulum):
    """Started above its target entropy (log-std -0.3: near uniform on the box), SAPO lowers alpha; far below
    (log-std -4), raises it."""
    for log_std, direction in ((-0.3, -1), (-4.0, 1)):
        cfg = dataclasses.replace(CFG, algo="sapo", iterations=5, num_envs=8, window=8, state_std=True,
                                  log_std_init=log_std, alpha_lr=0.05)
        rows = train(cfg, pendulum, tmp_path / str(log_std), progress=False, log_every=5)[1]
        assert direction * (math.log(rows[-1]["alpha"]) - math.log(cfg.alpha_init)) > 0.1, rows[-1]


class _Interrupt(Exception):
    pass


@pytest.mark.parametrize("algo", ["shac", "sapo"])
def test_killed_run_resumes_bit_for_bit(tmp_path, pendulum, algo):
    """A run stopped right after its iteration-4 checkpoint, resumed from it, ends exactly where an
    uninterrupted run ends (parameters, optimisers, critics, log)."""
    cfg = dataclasses.replace(CFG, algo=algo, iterations=8, num_envs=8, window=8, episode_steps=20)
    full = Trainer(cfg, pendulum)
    full.train(tmp_path / "full", progress=False, log_every=2)

    def stop_at_4(row, actor):
        if row["iteration"] == 4:
            raise _Interrupt

    with pytest.raises(_Interrupt):
        Trainer(cfg, pendulum).train(tmp_path / "part", progress=False, log_every=2, on_log=stop_at_4)
    resumed = Trainer(cfg, pendulum)
    resumed.load_state_dict(torch.load(tmp_path / "part" / "checkpoint.pt", weights_only=True))
    assert resumed.iteration == 4
    resumed.train(tmp_path / "part", progress=False, log_every=2)
    a, b = full.state_dict(), resumed.state_dict()
    for key in ("actor", "critic"):
        for name in a[key]:
            assert torch.equal(a[key][name], b[key][name]), (key, name)
    assert torch.equal(a["state"], b["state"]) and torch.equal(a["rows"], b["rows"])
    assert torch.equal(a["log_alpha"], b["log_alpha"])


def test_stop_ends_the_run_early_and_logs_that_iteration(tmp_path, pendulum):
    """``stop()`` (a wall-clock budget, say) is checked after every iteration: the run ends there, logged and
    checkpointed off the ``log_every`` grid."""
    cfg = dataclasses.replace(CFG, iterations=20, num_envs=8, window=8, critic_iterations=1, eval_episodes=2)
    trainer = Trainer(cfg, pendulum)
    rows = trainer.train(tmp_path, progress=False, log_every=4, stop=lambda: trainer.iteration >= 7)
    assert [r["iteration"] for r in rows] == [4, 7] and trainer.iteration == 7
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["iteration"] == 7


def test_resume_extends_a_finished_run_and_refuses_another_configuration(tmp_path, pendulum):
    cfg = dataclasses.replace(CFG, iterations=4, num_envs=8, window=8)
    train(cfg, pendulum, tmp_path, progress=False, log_every=2)
    actor, rows = train(dataclasses.replace(cfg, iterations=6), pendulum, tmp_path, resume=True, progress=False,
                        log_every=2)
    assert [r["iteration"] for r in rows] == [2, 4, 6]
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["iteration"] == 6
    with pytest.raises(ValueError, match=r"another configuration \(differs in \['actor_lr'\]\)"):
        train(dataclasses.replace(cfg, actor_lr=1e-2), pendulum, tmp_path, resume=True, progress=False)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train(cfg, pendulum, tmp_path / "nothing", resume=True, progress=False)


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, pendulum, monkeypatch):
    cfg = dataclasses.replace(CFG, iterations=10, num_envs=8, window=8)
    trainer = Trainer(cfg, pendulum)
    real_step = pendulum.step

    def poisoned(s, a):  # NaN rewards from the 5th window on
        out = real_step(s, a)
        return (out[0], out[1], out[2] * float("nan"), out[3]) if trainer.iteration >= 4 else out

    monkeypatch.setattr(pendulum, "step", poisoned)
    with pytest.raises(FloatingPointError, match="non-finite loss at iteration 4; last good checkpoint"):
        trainer.train(tmp_path, progress=False, log_every=2)
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert saved["iteration"] == 4
    assert all(torch.isfinite(v).all() for v in saved["actor"].values())


def test_bad_configuration_is_refused():
    with pytest.raises(ValueError, match="algo must be one of"):
        TrainConfig(algo="ppo")
    with pytest.raises(ValueError, match="num_envs must be >= 1"):
        TrainConfig(num_envs=0)
    with pytest.raises(ValueError, match=r"gamma must be in \[0, 1\]"):
        TrainConfig(gamma=1.5)
    with pytest.raises(ValueError, match="activation must be one of"):
        Critic(3, activation="relu6")
    with pytest.raises(ValueError, match="train_episode_steps must be >= 1"):
        TrainConfig(train_episode_steps=0)
    with pytest.raises(ValueError, match=r"friction_smoothing must be None or a slip speed > 0 \(m/s\), got 0.0"):
        TrainConfig(friction_smoothing=0.0)
    assert TrainConfig().env_kwargs() == {}
    with pytest.raises(ValueError, match="substeps must be None or >= 1, got 0"):
        TrainConfig(substeps=0)
    assert TrainConfig(friction_smoothing=0.1, substeps=4).env_kwargs() == dict(friction_smoothing=0.1, substeps=4)
    assert TrainConfig(integrator="euler").env_kwargs() == dict(integrator="euler")
    with pytest.raises(ValueError, match=r"integrator must be None or one of "
                                         r"\('rk4', 'euler', 'implicit_contacts'\), got 'rk45'"):
        TrainConfig(integrator="rk45")
    assert TrainConfig(structure="loops").env_kwargs() == dict(structure="loops")
    with pytest.raises(ValueError,
                       match=r"structure must be None or one of \('auto', 'generated', 'loops'\), got 'tiles'"):
        TrainConfig(structure="tiles")
    with pytest.raises(ValueError, match=r"randomize\['friction'\] must satisfy 0 < low <= high"):
        TrainConfig(randomize={"friction": (-1, 1)})
    assert TrainConfig(randomize={"friction": [1, 2]}).env_kwargs() == dict(randomize={"friction": (1.0, 2.0)})


@pytest.mark.compile_bound  # the same module as tests/envs' inverted-pendulum tests (tests/conftest.py)
def test_randomized_training_resumes_from_its_checkpoint(tmp_path):
    """A run on a domain-randomised env (factors in each world's state) checkpoints and resumes with the same
    configuration; another randomisation is refused."""
    from envs import make_functional

    cfg = TrainConfig(env_id="diffsim/InvertedPendulum-v0", iterations=2, num_envs=4, window=2, episode_steps=1000,
                      critic_iterations=1, critic_minibatches=1, eval_episodes=1,
                      randomize={"joint_damping": (0.5, 1.5), "density": (0.5, 2.0)})
    dyn = make_functional(cfg.env_id, **cfg.env_kwargs())
    train(cfg, dyn, tmp_path, progress=False, log_every=1)
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    factors = saved["state"][:, -2:]
    assert saved["state"].shape == (4, 6) and torch.all((factors >= 0.5) & (factors <= 2.0))
    assert len(set(factors[:, 1].tolist())) == 4  # one factor per world
    _, rows = train(dataclasses.replace(cfg, iterations=3), dyn, tmp_path, resume=True, progress=False, log_every=1)
    assert [r["iteration"] for r in rows] == [1, 2, 3]
    with pytest.raises(ValueError, match=r"another configuration \(differs in \['randomize'\]\)"):
        train(dataclasses.replace(cfg, randomize={"density": (0.5, 1.0)}), dyn, tmp_path, resume=True, progress=False)


def test_training_episodes_restart_after_train_episode_steps(pendulum):
    """Worlds restart from fresh start states every ``train_episode_steps`` steps, ages staggered as they were."""
    cfg = dataclasses.replace(CFG, num_envs=4, window=8, train_episode_steps=12)
    trainer = Trainer(cfg, pendulum)
    before = trainer.state.clone()
    trainer.step()  # ages 0 -> 8: no restart yet, the states moved on
    assert torch.equal(trainer.age, torch.full((4,), 8)) and not torch.equal(trainer.state, before)
    _, window = trainer.actor_loss()
    assert torch.equal(window["age"], torch.full((4,), 4))  # restarted at step 12 of 16
    ends = window["ends"]
    assert ends[3].all() and not ends[:3].any() and not ends[4:-1].any()  # segment ends: the restart and the window


def test_cli_recipe_override_files_and_evaluation(tmp_path):
    from controllers.evaluate import load_policy
    from controllers.train import main

    rows, results = main(["--env", "diffsim/CartPoleSwingUp-v0", "--iterations", "2", "--num-envs", "4",
                          "--window", "4", "--out", str(tmp_path), "--no-progress", "--eval-episodes", "1"])
    assert len(rows) == 2
    for name in ("checkpoint.pt", "log.csv", "learning_curve.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert list(results) == ["diffsim/CartPoleSwingUp-v0"]
    cfg, dyn, policy = load_policy(tmp_path / "checkpoint.pt")
    assert cfg.env_id == "diffsim/CartPoleSwingUp-v0" and cfg.iterations == 2
    obs = dyn.observe(dyn.reset(5, torch.Generator().manual_seed(0)))
    action = policy(obs)
    assert action.dtype == torch.float64 and action.shape == (5, 1)
    with pytest.raises(SystemExit):
        main(["--iterations", "0"])
    with pytest.raises(SystemExit):
        main(["--env", "diffsim/Pendulum-v0", "--resume", "--out", str(tmp_path / "none")])


def test_pendulum_policy_is_evaluated_on_gymnasium_pendulum_too(tmp_path):
    from controllers.evaluate import evaluate_on_gymnasium

    dyn = make_functional("diffsim/Pendulum-v0")
    actor = Trainer(dataclasses.replace(CFG, iterations=1), dyn).actor
    results = evaluate_on_gymnasium("diffsim/Pendulum-v0", actor, episodes=2)
    assert set(results) == {"diffsim/Pendulum-v0", "Pendulum-v1"}
    np.testing.assert_allclose(results["diffsim/Pendulum-v0"], results["Pendulum-v1"], rtol=1e-5)


def test_evaluate_cli_reports_gymnasium_returns_and_writes_a_gif(tmp_path, pendulum):
    from PIL import Image

    from controllers.evaluate import main as evaluate_main

    train(dataclasses.replace(CFG, iterations=2, num_envs=4, window=4), pendulum, tmp_path, progress=False,
          log_every=1)
    results, gif = evaluate_main([str(tmp_path / "checkpoint.pt"), "--episodes", "2", "--steps", "10"])
    assert set(results) == {"diffsim/Pendulum-v0", "Pendulum-v1"} and len(results["Pendulum-v1"]) == 2
    with Image.open(gif) as im:
        assert 2 <= im.n_frames <= 11  # Pillow merges identical consecutive frames
    with pytest.raises(SystemExit):
        evaluate_main([str(tmp_path / "missing.pt")])
