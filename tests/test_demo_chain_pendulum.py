"""``python -m demos.chain_pendulum`` end to end on a few training steps: summary, files, the chaos floor."""
import json

from demos import chain_pendulum


def test_short_run_writes_results_and_plot(tmp_path):
    summary = chain_pendulum.main(["--seeds", "0", "--steps", "3", "--hidden", "16", "--n-train", "12",
                                   "--n-test", "4", "--rollout", "101", "--out", str(tmp_path), "--no-progress"])
    assert set(summary) == {"neural_ode", "hnn", "chnn", "floor"}
    assert set(summary["chnn"]) == {"3s", "paper_3s"}  # the 30 s horizon needs 1 000 samples
    assert 0 < summary["floor"]["3s"]["mean"] < 1e-2  # 1e-4 perturbations stay small over 3 s
    saved = json.loads((tmp_path / "results.json").read_text())
    run = saved["runs"]["chnn"][0]
    assert len(run["masses"]) == 2 and len(run["median_curve"]) == 101 and run["train_seconds"] > 0
    per_start = run["horizons"]["3s"]["per_start"]  # one value per test start, their mean the reported mean
    assert len(per_start) == 4 and abs(sum(per_start) / 4 - run["horizons"]["3s"]["mean"]) < 1e-12 * max(per_start)
    assert (tmp_path / "rollout_error.png").stat().st_size > 0 and (tmp_path / "chnn_seed0.pt").exists()
