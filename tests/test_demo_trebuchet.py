"""The trebuchet demo: a short run end to end, checkpoint/resume, non-finite guard."""
import dataclasses
import json

import pytest
import torch

from demos.trebuchet.__main__ import main
from demos.trebuchet.aiming import DEFAULT, train


def test_short_run_writes_figures_results_and_checkpoint(tmp_path, monkeypatch):
    import numpy as np

    from demos.trebuchet import evaluate

    monkeypatch.setattr(evaluate, "REACH_WINDS", np.linspace(-20.0, 20.0, 9))  # a coarse reachability grid: faster
    res = main(["--steps", "30", "--out", str(tmp_path), "--no-progress"])
    for name in ("learning_curve_default.png", "miss_map_default.png", "trajectories_default.png",
                 "aimnet_default.pt", "results_default.json"):
        assert (tmp_path / name).stat().st_size > 0
    saved = json.loads((tmp_path / "results_default.json").read_text())
    assert saved["accuracy"]["all"]["count"] == 1000
    assert saved["accuracy"]["reachable"]["count"] + saved["accuracy"]["unreachable"]["count"] == 1000
    assert res["aiming"]["network_per_shot_s"] > 0


def test_resume_reaches_the_same_state_as_an_uninterrupted_run(tmp_path):
    recipe = dataclasses.replace(DEFAULT, steps=20, batch=16, log_every=5)
    full, curve_full = train(recipe, seed=3, checkpoint=tmp_path / "full.pt", resume=False, progress=False)
    train(recipe, seed=3, checkpoint=tmp_path / "part.pt", resume=False, progress=False, max_steps_this_run=10)
    assert torch.load(tmp_path / "part.pt", weights_only=True)["step"] == 10
    resumed, curve_resumed = train(recipe, seed=3, checkpoint=tmp_path / "part.pt", resume=True, progress=False)
    for a, b in zip(full.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)
    assert curve_resumed == curve_full


def test_resume_without_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train(DEFAULT, seed=0, checkpoint=tmp_path / "missing.pt", resume=True, progress=False)


def test_non_finite_loss_stops_with_message(tmp_path, monkeypatch):
    import demos.trebuchet.aiming as aiming

    monkeypatch.setattr(aiming, "miss", lambda net, w, t, model: net(w, t)[0] * float("nan"))
    with pytest.raises(FloatingPointError, match="non-finite loss"):
        train(dataclasses.replace(DEFAULT, steps=5, batch=4), seed=0, checkpoint=tmp_path / "c.pt", resume=False,
              progress=False)
