"""benchmarks.gpu_check_sim runs end to end (on the CPU against itself, small sizes), so that the GPU check is
ready to run in one go when a GPU is lent; CPU against CPU must agree exactly."""
from benchmarks import gpu_check_sim


def test_gpu_check_script_runs_on_the_cpu(tmp_path):
    report = gpu_check_sim.main(["--device", "cpu", "--quick", "--json", str(tmp_path / "r.json")])
    assert not [k for k in report if k.endswith("_error")], report
    for name in gpu_check_sim.RIGID_MODELS[:2]:
        assert set(report[f"rigid_{name}"].values()) == {0.0}
    assert report["env_diffsim/CartPole-v0"] == dict(max_abs_diff=0.0, flag_mismatches=0)
    assert report["env_diff_step_grad_max_abs_diff"] == 0.0
    assert len(report["rigid_timing"]) == 1 and len(report["env_timing"]) == 2
    assert (tmp_path / "r.json").exists()
