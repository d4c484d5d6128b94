"""``python -m demos.darnn_paper`` end to end on a few steps: one row per model, size and seed, and its file."""
import json

from demos import darnn_paper


def test_short_run_reports_every_model(tmp_path):
    rows = darnn_paper.main(["--steps", "2", "--seeds", "0", "--hidden", "8", "--split", "40", "5", "10",
                             "--out", str(tmp_path), "--no-progress"])
    assert [(r["model"], r["hidden"]) for r in rows] == [("darnn", 8), ("lstm", 8), ("attention", 8)]
    assert all(r["mae"] > 0 and r["rmse"] >= r["mae"] for r in rows)
    assert len(json.loads((tmp_path / "results.json").read_text())["rows"]) == 3
