"""``python -m demos.hnn`` end to end on a few training steps: the table and its files."""
import json

from demos import hnn


def test_short_run_prints_the_table_and_writes_results(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(hnn.TRAINING, "spring", dict(steps=20, batch_size=None, weight_decay=1e-4))
    monkeypatch.setitem(hnn.ENERGY_RTOL, "spring", 1e-6)
    results = hnn.main(["--tasks", "spring", "--seeds", "0", "--out", str(tmp_path), "--no-progress"])
    out = capsys.readouterr().out
    assert "| spring | hnn | 1 |" in out and "(3.842e-04)" in out
    saved = json.loads((tmp_path / "results.json").read_text())
    assert set(saved["spring"]["0"]) == {"baseline", "hnn"}
    assert (tmp_path / "energy.png").stat().st_size > 0
    r = results["spring"][0]["hnn"]
    assert r["energy"] > 0 and len(r["t"]) == 100 and r["test"] > 0
