"""The learned-model demos end to end on tiny budgets: ``demos.learned_mpc`` and ``demos.lnn``."""
import json

from demos import learned_mpc, lnn


def test_learned_mpc_fits_then_plans_on_both_models(tmp_path):
    r = learned_mpc.main(["--trajectories", "8", "--steps", "6", "--fit-steps", "4", "--episodes", "2",
                          "--episode-steps", "5", "--horizon", "2", "--iterations", "1", "--out", str(tmp_path),
                          "--no-progress"])
    for name in ("simulator", "learned model"):
        assert len(r[name]["returns"]) == 2 and r[name]["mean"] < 0
    assert r["one_step_rmse"] > 0
    assert json.loads((tmp_path / "results.json").read_text())["settings"]["episodes"] == 2
    assert (tmp_path / "angle.png").stat().st_size > 0


def test_lnn_demo_trains_and_scores_both_models(tmp_path):
    r = lnn.main(["--steps", "3", "--batch", "16", "--hidden", "16", "--t-end", "0.5", "--dt", "0.05",
                  "--out", str(tmp_path), "--no-progress"])
    for name in ("lnn", "baseline"):
        assert len(r[name]["errors"]) == 40 and r[name]["final_l1"] > 0
    assert (tmp_path / "results.json").exists()
