"""``python -m demos.neural_ode_lv`` end to end on a few steps: the numbers it reports and its files."""
import json

from demos import neural_ode_lv


def test_short_run_reports_errors_and_writes_the_phase_portrait(tmp_path):
    r = neural_ode_lv.main(["--steps", "30", "--out", str(tmp_path), "--no-progress"])
    assert r["train_points"] == 35 and len(r["learned"]) == 100
    assert r["loss"][-1] < r["loss"][0] and r["rmse_window"] > 0 and r["rmse_extrapolation"] > 0
    assert json.loads((tmp_path / "results.json").read_text())["train_points"] == 35
    assert (tmp_path / "phase_portrait.png").stat().st_size > 0
