"""The predictor demos run end to end at tiny settings and write their tables and figures."""
import csv

from demos import hybrid_predictor, predictors


def test_predictors_demo_writes_results_and_figures(tmp_path):
    predictors.main(["--system", "delayed_pendulum", "--models", "lstm", "additive", "--seeds", "0", "--steps", "5",
                     "--trajectories", "4", "--length", "70", "--hidden", "8", "--no-progress", "--out",
                     str(tmp_path)])
    rows = list(csv.DictReader(open(tmp_path / "results.csv")))
    assert [r["model"] for r in rows] == ["lstm", "additive"]
    assert all(float(r["h50"]) > 0 for r in rows)
    assert (tmp_path / "rmse.png").stat().st_size > 0 and (tmp_path / "attention.png").stat().st_size > 0


def test_hybrid_demo_writes_results_and_a_rollout_plot(tmp_path):
    hybrid_predictor.main(["--small", "2", "--large", "3", "--length", "70", "--steps", "3", "--seeds", "0",
                           "--no-progress", "--out", str(tmp_path)])
    rows = list(csv.DictReader(open(tmp_path / "results.csv")))
    assert [(r["model"], r["trajectories"]) for r in rows] == [("simulator", "0"), ("hybrid", "2"),
                                                                ("black box", "2"), ("hybrid", "3"),
                                                                ("black box", "3")]
    assert (tmp_path / "rollout.png").stat().st_size > 0
