"""Analytic policy gradient: it learns, stops on non-finite loss, resumes to the same state."""
import dataclasses

import numpy as np
import pytest
import torch

from controllers.apg import APGConfig, train_apg
from controllers.train import main
from envs import make_functional

CFG = APGConfig(env_id="diffsim/Pendulum-v0", iterations=40, num_envs=32, window=32, lr=3e-3)


@pytest.mark.parametrize("algo", ["apg", "shac"])
def test_short_run_improves_pendulum_return(tmp_path, algo):
    """Evaluation return (fixed 32 start states, 200 steps) rises steadily over 40 iterations."""
    dyn = make_functional(CFG.env_id)
    _, rows = train_apg(dataclasses.replace(CFG, algo=algo), dyn, tmp_path, progress=False, log_every=5)
    early = max(rows[0]["eval_return"], rows[1]["eval_return"])
    assert rows[-1]["eval_return"] > early + 100, [r["eval_return"] for r in rows]
    assert (tmp_path / "log.csv").read_text().count("\n") == len(rows) + 1


@pytest.mark.parametrize("algo", ["apg", "shac"])
def test_resume_reaches_the_same_state(tmp_path, algo):
    cfg = dataclasses.replace(CFG, iterations=20, algo=algo)
    dyn = make_functional(cfg.env_id)
    full, rows_full = train_apg(cfg, dyn, tmp_path / "full", progress=False)
    half = dataclasses.replace(cfg, iterations=10)
    train_apg(half, dyn, tmp_path / "part", progress=False)
    saved = torch.load(tmp_path / "part" / "checkpoint.pt", weights_only=True)
    saved["config"]["iterations"] = 20  # continue the same run to 20 iterations
    torch.save(saved, tmp_path / "part" / "checkpoint.pt")
    resumed, rows_resumed = train_apg(cfg, dyn, tmp_path / "part", resume=True, progress=False)
    for a, b in zip(full.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)
    assert rows_resumed == rows_full


def test_non_finite_loss_stops_cleanly(tmp_path, monkeypatch):
    dyn = make_functional(CFG.env_id)
    real_step = dyn.step
    monkeypatch.setattr(dyn, "step", lambda s, a: (lambda r: (r[0], r[1], r[2] * float("nan"), r[3]))(real_step(s, a)))
    with pytest.raises(FloatingPointError, match="non-finite loss"):
        train_apg(dataclasses.replace(CFG, iterations=3), dyn, tmp_path, progress=False)


def test_cli_writes_log_plot_and_checkpoint(tmp_path):
    rows = main(["--env", "diffsim/CartPoleSwingUp-v0", "--algo", "shac", "--iterations", "2", "--num-envs", "4",
                 "--window", "4", "--out", str(tmp_path), "--no-progress"])
    assert len(rows) == 1
    for name in ("checkpoint.pt", "log.csv", "learning_curve.png"):
        assert (tmp_path / name).stat().st_size > 0
    with pytest.raises(SystemExit):
        main(["--iterations", "0"])


def test_unknown_algo():
    with pytest.raises(ValueError, match="algo must be"):
        train_apg(dataclasses.replace(CFG, algo="ppo"), make_functional(CFG.env_id), None, progress=False)


def test_evaluate_writes_gif_of_trained_policy(tmp_path):
    from PIL import Image

    from controllers.evaluate import main as evaluate_main

    train_apg(dataclasses.replace(CFG, iterations=2, num_envs=4, window=4), make_functional(CFG.env_id), tmp_path,
              progress=False, log_every=1)
    mean_return, gif = evaluate_main([str(tmp_path / "checkpoint.pt"), "--episodes", "2", "--steps", "10"])
    assert np.isfinite(mean_return)
    with Image.open(gif) as im:
        assert 2 <= im.n_frames <= 11  # Pillow merges identical consecutive frames
