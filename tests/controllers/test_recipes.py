"""Per-task recipes: every differentiable env has one; the Pendulum recipe solves Gymnasium's Pendulum-v1 (slow)."""
import gymnasium
import pytest

import envs
from controllers.recipes import RECIPES, recipe


def test_every_differentiable_env_has_a_valid_recipe_with_its_own_time_limit():
    for env_id in envs.FUNCTIONAL:
        cfg = recipe(env_id)
        assert cfg.env_id == env_id
        assert cfg.episode_steps == (gymnasium.spec(env_id).max_episode_steps or 1)
    assert set(RECIPES) <= set(envs.FUNCTIONAL)
    assert recipe("diffsim/Pendulum-v0", seed=3).seed == 3
    with pytest.raises(ValueError, match="env_id must be one of"):
        recipe("Pendulum-v1")


@pytest.mark.slow
def test_pendulum_recipe_solves_gymnasium_pendulum(tmp_path):
    """``python -m controllers.train --env diffsim/Pendulum-v0`` (defaults): mean >= -200 over 20 episodes of
    Gymnasium's own Pendulum-v1 (about 40 s)."""
    from controllers.train import main

    _, results = main(["--env", "diffsim/Pendulum-v0", "--out", str(tmp_path), "--no-progress"])
    assert results["Pendulum-v1"].mean() >= -200.0, results["Pendulum-v1"]
