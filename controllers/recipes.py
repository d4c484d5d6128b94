"""The best known training recipe per task: what ``python -m controllers.train --env ID`` runs.

Each row lists only what differs from :class:`controllers.shac.TrainConfig`'s defaults;
``episode_steps`` is always the env's own time limit (what the policy is evaluated on);
``train_episode_steps`` restarts training episodes sooner, where practising the start helps. The
measured results of these recipes are in ``BENCHMARKS.md`` (controllers table).
"""
from __future__ import annotations

import dataclasses

import gymnasium

from controllers.shac import TrainConfig
from envs import FUNCTIONAL

HOPPER_RANDOMIZE = {"friction": (0.5, 1.5), "contact_stiffness": (0.5, 2.0), "contact_damping": (0.5, 2.0),
                    "limit_stiffness": (0.5, 2.0), "limit_damping": (0.5, 2.0)}
RECIPES: dict[str, dict] = {
    #  env id                       algorithm, budget (iterations of num_envs x window world steps), settings
    "diffsim/Pendulum-v0":         dict(algo="shac", iterations=300, critic_iterations=8, critic_minibatches=2,
                                        log_std_init=-0.5, train_episode_steps=64),
    "diffsim/CartPoleSwingUp-v0":  dict(algo="shac", iterations=200, critic_iterations=4),
    "diffsim/DoublePendulum-v0":   dict(algo="shac", iterations=200, critic_iterations=8, critic_minibatches=2,
                                        log_std_init=-0.5, num_envs=32, train_episode_steps=100),
    "diffsim/Quadrotor-v0":        dict(algo="shac", iterations=150, critic_iterations=4),
    "diffsim/AcrobotSwingUp-v0":   dict(algo="shac", iterations=150, window=16),
    # stiff penalty contacts: through the env's own contacts (5 ms RK4 steps, friction smoothing 0.01 m/s) the
    # return's gradient w.r.t. the actions explodes past 4 env steps. Trained on smoother friction (0.1 m/s) with
    # 1.25 ms steps (substeps=8) the median world's norm grows ~7x from 8 to 32 steps and no world strays far
    # from it; window 16 and a lower actor learning rate, ~600 iterations in 20 minutes on one core. The runs were
    # erratic (918, -69, 2 469, 866, 159 in MuJoCo after 20 minutes, seeds 0-4) until each world's action gradient
    # was capped per step at 3x the median world's (world_clip): 1 529, 1 501, 2 718, 2 841, 1 002; SAC and PPO in
    # MuJoCo, same 20 minutes: 692 and 4 205, 1 707 and 4 212 (seeds 0, 1). Then, one change at a time: MuJoCo's
    # Euler at 0.625 ms (half the dynamics evaluations), windows started in MuJoCo (reference="mujoco"), acting with
    # the mean from near-zero actions, Hopper's randomised contacts and limits: 985, 2 987, 2 687, 1 044 in MuJoCo.
    # SAPO (maximum entropy through the simulator; sampled actions) with SHAC's own Cheetah actor (128, 64, 32):
    # 3 050, 3 036, 3 067, 1 751, 1 341, 1 460 (seeds 0-5, mean 2 284) against PPO's mean 2 205 and SAC's 3 047 over
    # four seeds each, trained in MuJoCo on the same machine (BENCHMARKS.md). Then through the linearly implicit
    # contacts at 5 ms (integrator="implicit_contacts", substeps=2: 8x fewer dynamics evaluations than Euler at
    # 0.625 ms, ~0.31 s per iteration on one core of a 2-core Xeon), 2 500 iterations in ~13 minutes: 3 762, 4 169,
    # 3 099, 5 130, 3 399, 5 364 in MuJoCo (seeds 0-5, mean 4 154) against SAC's 3 385, 4 242, 4 629, 3 711 (mean
    # 3 992) trained in MuJoCo for 20 minutes on the same machine (BENCHMARKS.md). 3 800 iterations (the decay
    # spread over the whole 20 minutes): 3 568, 5 126, 3 844, 4 780, 3 849, 3 889 (mean 4 176), no better
    "diffsim/HalfCheetah-v0":      dict(algo="sapo", iterations=2500, window=16, friction_smoothing=0.1, substeps=2,
                                        integrator="implicit_contacts", actor_lr=5e-4, world_clip=3.0,
                                        hidden=(128, 64, 32), mean_init_scale=0.01, randomize=HOPPER_RANDOMIZE,
                                        reference="mujoco"),
    # Hopper: the same smoother friction at 1 ms steps (substeps=2), the env's training-only soft walls before its
    # termination edges (HopperDynamics.shaping: without them the policy leaned to the edge and fell in MuJoCo), and
    # randomised contacts and limits (halving the contact damping or friction made a policy fall on diffsim).
    # ~3 300 on diffsim within 4 minutes; in MuJoCo 1 509, 1 048, 1 066 after 20 min (PPO 1 227-3 602). Then windows
    # started in MuJoCo, whose returns the critic learns (reference="mujoco", needs the mujoco package): in MuJoCo
    # 3 520, 785, 3 134, 3 497, 3 297 after 20 min (PPO on the same machine 2 106, 999, 3 281), but with 3 000
    # iterations setting the learning-rate decay 20 minutes ran 1 700-2 000 of them, and the last policy still moved
    # (seed 1: 3 249, then 785). 1 800 iterations (15 min on a 2-core EPYC of CPU family 26, ~20 on one of model 17)
    # end with the decay done; in MuJoCo then 3 456, 3 242, 3 250, 3 495, 3 458 (seeds 0-4) against PPO's 2 257,
    # 2 513, 3 115 and SAC's 395, 614 on the same machine (BENCHMARKS.md)
    "diffsim/Hopper-v0":           dict(algo="shac", iterations=1800, window=16, friction_smoothing=0.1, substeps=2,
                                        actor_lr=5e-4, randomize=HOPPER_RANDOMIZE, reference="mujoco"),
    # Ant: its feet's stiff, damped contacts make the gradient explode past ~8 steps (bench_gradient_growth --scale);
    # window 8 on smoother friction at the env's 0.625 ms, through MuJoCo's Euler in generated code (1.5 s per
    # iteration on one core against 8 s for RK4 as loops; the module compiles once, ~90 s) and the per-world cap.
    # With sampled actions (exploration noise alone costs ~0.5 of control cost per step, of the 1 a healthy step
    # earns) and the default initialisation it did not learn (317 in MuJoCo after 800 iterations). Acting with the
    # mean, starting near zero actions (mean_init_scale) and with the env's soft walls on the torso height
    # (AntDynamics.shaping) it walks: 6 715 / 3 531 on diffsim after 20 min (seeds 0, 1), 479 / 1 865 in MuJoCo (seed
    # 0's policy bounces past the 1 m termination there); with windows started in MuJoCo (reference="mujoco"):
    # 1 835, 1 604 and 1 183 in MuJoCo (seeds 0-2) against SB3 PPO's 1 347, 399 and 1 764 and SAC's 237, 199 and
    # 171 (BENCHMARKS.md); with 1 000 iterations (the learning-rate decay then ends within 20 minutes) 2 928, 2 031,
    # 2 252 in MuJoCo
    "diffsim/Ant-v0":              dict(algo="shac", iterations=1000, window=8, friction_smoothing=0.1, actor_lr=5e-4,
                                        integrator="euler", structure="generated", world_clip=3.0, stochastic=False,
                                        mean_init_scale=0.01, reference="mujoco"),
    # one-step episodes (a throw is 1 500 contact substeps): APG with the alpha-order gradient, 2 targets x 4 throws
    "diffsim/Throw-v0":            dict(algo="apg", iterations=80, window=1, num_envs=8, actor_lr=1e-2,
                                        gradient="alpha", samples_per_state=4, log_std_init=-3.0),
}
"""Tuned recipes. Any other differentiable env trains with :class:`TrainConfig`'s defaults."""

GYMNASIUM_TWIN = {"diffsim/Pendulum-v0": "Pendulum-v1", "diffsim/CartPole-v0": "CartPole-v1",
                  "diffsim/Acrobot-v0": "Acrobot-v1"}
"""diffsim envs that are step-identical to a Gymnasium env: their policies are also evaluated there."""


def episode_steps(env_id: str) -> int:
    """The env's own time limit (its registered ``max_episode_steps``; 1 for a one-step env)."""
    spec = gymnasium.spec(env_id)
    return spec.max_episode_steps or 1


def recipe(env_id: str, **overrides) -> TrainConfig:
    """The :class:`TrainConfig` of ``env_id``'s recipe (defaults where it has none), ``overrides`` applied."""
    if env_id not in FUNCTIONAL:
        raise ValueError(f"env_id must be one of {sorted(FUNCTIONAL)}, got {env_id!r}")
    cfg = TrainConfig(env_id=env_id, episode_steps=episode_steps(env_id), **RECIPES.get(env_id, {}))
    return dataclasses.replace(cfg, **overrides)
