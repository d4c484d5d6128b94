"""Helpers of the benchmark scripts whose numbers go into BENCHMARKS.md: the gradient-growth probe and the
locomotion comparison's MuJoCo summary and its `--set` overrides."""
import math

import pytest

from benchmarks.bench_controllers import parse_overrides, summarize_twin
from benchmarks.bench_gradient_growth import growth, open_loop, scales


def test_gradient_growth_on_the_pendulum_is_finite_and_grows_with_the_window():
    rows = growth("diffsim/Pendulum-v0", [1, 8], worlds=4)
    assert [r[0] for r in rows] == [1, 8]
    assert all(math.isfinite(x) for r in rows for x in r)
    assert rows[1][2] > rows[0][2] > 0.0  # a longer window's return depends more on its actions


def test_open_loop_actions_improve_the_pendulum_reward():
    rewards = open_loop("diffsim/Pendulum-v0", window=8, iterations=20, lr=0.1, worlds=4)
    assert len(rewards) == 20 and all(math.isfinite(r) for r in rewards)
    assert max(rewards[-5:]) > rewards[0]  # the exact gradient finds better actions


def test_scale_flags_become_a_fixed_randomisation_and_bad_ones_are_refused():
    assert scales(["contact_damping=4", "density=0.5"]) == {"contact_damping": (4.0, 4.0), "density": (0.5, 0.5)}
    for bad in ("contact_damping", "contact_damping=x", "=2"):
        with pytest.raises(ValueError, match="NAME=FACTOR"):
            scales([bad])


def test_set_flags_become_train_config_fields_and_bad_ones_are_refused():
    assert parse_overrides(["state_std=True", "activation='silu'", "hidden=(128, 64)", "critic_lr=5e-4"]) == dict(
        state_std=True, activation="silu", hidden=(128, 64), critic_lr=5e-4)
    for bad, match in (("no_such_field=1", "FIELD=VALUE"), ("critic_lr", "FIELD=VALUE"), ("seed=1", "FIELD=VALUE"),
                       ("activation=silu", "Python literal")):
        with pytest.raises(ValueError, match=match):
            parse_overrides([bad])


def _row(method, seed, steps, ours, mujoco):
    return dict(task="diffsim/HalfCheetah-v0", method=method, seed=seed, env_steps=steps, wall_s=steps / 100.0,
                eval_return=ours, twin_return=mujoco)


def test_summarize_twin_takes_each_seeds_last_evaluation_and_compares_in_mujoco():
    rows = [_row("shac", 0, 100, 50.0, 10.0), _row("shac", 0, 200, 900.0, 800.0), _row("shac", 1, 200, 700.0, 600.0),
            _row("sac", 0, 100, 300.0, 650.0), _row("ppo", 0, 100, 400.0, 750.0)]
    table = summarize_twin(rows).splitlines()
    shac = next(line for line in table if "| shac |" in line)
    cells = [c.strip() for c in shac.split("|")]
    # two seeds, their last evaluations: (900 + 700) / 2 on diffsim, (800 + 600) / 2 in MuJoCo, gap 100
    assert cells[3] == "2" and cells[6] == "800.0" and cells[7] == "700.0" and cells[8] == "100.0"
    assert cells[9] == "no"  # 700 in MuJoCo does not beat PPO's 750
    rows.append(_row("shac", 1, 300, 900.0, 1000.0))  # seed 1's later evaluation: (800 + 1000) / 2 = 900 > 750
    shac = next(line for line in summarize_twin(rows).splitlines() if "| shac |" in line)
    assert shac.rstrip(" |").endswith("yes")
