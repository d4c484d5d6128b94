"""The best known training recipe per task: what ``python -m controllers.train --env ID`` runs.

Each row lists only what differs from :class:`controllers.shac.TrainConfig`'s defaults;
``episode_steps`` is the env's own time limit. The measured results of these recipes are in
``BENCHMARKS.md`` (controllers table).
"""
from __future__ import annotations

import dataclasses

from controllers.shac import TrainConfig

RECIPES: dict[str, dict] = {
    #  env id                       algorithm and budget                        other settings
    "diffsim/Pendulum-v0":         dict(algo="shac", iterations=200, episode_steps=200, critic_iterations=8,
                                        critic_minibatches=2, log_std_init=-0.5),
    "diffsim/CartPoleSwingUp-v0":  dict(algo="shac", iterations=300, episode_steps=500, critic_iterations=4),
    "diffsim/DoublePendulum-v0":   dict(algo="shac", iterations=300, episode_steps=500, critic_iterations=4),
    "diffsim/Quadrotor-v0":        dict(algo="shac", iterations=300, episode_steps=500, critic_iterations=4),
    "diffsim/Acrobot-v0":          dict(algo="shac", iterations=300, episode_steps=500, critic_iterations=4),
    "diffsim/CartPole-v0":         dict(algo="shac", iterations=200, episode_steps=500, critic_iterations=4),
    "diffsim/Throw-v0":            dict(algo="apg", iterations=100, episode_steps=1, window=1, gamma=1.0),
}

GYMNASIUM_TWIN = {"diffsim/Pendulum-v0": "Pendulum-v1", "diffsim/CartPole-v0": "CartPole-v1",
                  "diffsim/Acrobot-v0": "Acrobot-v1"}
"""diffsim envs that are step-identical to a Gymnasium env: their policies are also evaluated there."""


def recipe(env_id: str, **overrides) -> TrainConfig:
    """The :class:`TrainConfig` of ``env_id``'s recipe, with ``overrides`` applied."""
    if env_id not in RECIPES:
        raise ValueError(f"env_id must be one of {sorted(RECIPES)}, got {env_id!r}")
    return dataclasses.replace(TrainConfig(env_id=env_id, **RECIPES[env_id]), **overrides)
