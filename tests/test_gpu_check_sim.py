"""benchmarks.gpu_check_sim runs end to end (on the CPU against itself, small sizes), so that the GPU check is
ready to run in one go when a GPU is lent; CPU against CPU must agree exactly, also through a saved reference."""
import pytest

from benchmarks import gpu_check_sim

# small models, few steps: compiling their rigid-body modules is the time here (tests/conftest.py)
pytestmark = pytest.mark.compile_bound


def test_gpu_check_script_runs_on_the_cpu(tmp_path):
    report = gpu_check_sim.main(["--device", "cpu", "--quick", "--json", str(tmp_path / "r.json")])
    assert not [k for k in report if k.endswith("_error")], report
    for label in ("cartpole", "double_pendulum", "cartpole_loops"):
        assert set(report[f"rigid_{label}"].values()) == {0.0}, label
    assert report["env_diffsim/CartPole-v0"] == dict(max_abs_diff=0.0, flag_mismatches=0)
    assert report["env_diff_step_grad_max_abs_diff"] == 0.0
    assert len(report["rigid_timing"]) == 1 and len(report["env_timing"]) == 2
    assert (tmp_path / "r.json").exists()


def test_saved_cpu_reference_is_what_the_comparison_uses(tmp_path):
    ref = tmp_path / "ref.pt"
    saved = gpu_check_sim.main(["--device", "cpu", "--quick", "--parts", "rigid_parity", "--save-reference", str(ref)])
    assert "rigid_cartpole" not in saved and ref.exists()  # the CPU side only
    report = gpu_check_sim.main(["--device", "cpu", "--quick", "--parts", "rigid_parity", "--reference", str(ref)])
    assert set(report["rigid_cartpole_loops"].values()) == {0.0}
    # a reference that differs from what the device computes shows up in the comparison
    import torch

    tampered = torch.load(ref, weights_only=True)
    tampered["rigid_cartpole"][0] = tampered["rigid_cartpole"][0] + 1e-3
    torch.save(tampered, ref)
    report = gpu_check_sim.main(["--device", "cpu", "--quick", "--parts", "rigid_parity", "--reference", str(ref)])
    assert report["rigid_cartpole"]["max_rel_diff_qpos"] > 1e-5
