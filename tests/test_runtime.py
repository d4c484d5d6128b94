import pytest
import torch
import warp as wp

from diffsim import runtime


def test_default_device_is_cpu_without_cuda(monkeypatch):
    monkeypatch.delenv("DIFFSIM_DEVICE", raising=False)
    expected = "cuda:0" if wp.is_cuda_available() else "cpu"
    assert runtime.resolve_device() == expected


def test_env_var_overrides_default(monkeypatch):
    monkeypatch.setenv("DIFFSIM_DEVICE", "cpu")
    assert runtime.resolve_device() == "cpu"


def test_argument_overrides_env(monkeypatch):
    monkeypatch.setenv("DIFFSIM_DEVICE", "cuda")
    assert runtime.resolve_device("cpu") == "cpu"


def test_bad_device_names_argument():
    with pytest.raises(ValueError, match="device"):
        runtime.resolve_device("tpu")


@pytest.mark.skipif(wp.is_cuda_available(), reason="checks the no-GPU error")
def test_cuda_without_gpu_is_a_clear_error():
    with pytest.raises(ValueError, match="no CUDA device"):
        runtime.resolve_device("cuda")


def test_warp_scalar():
    assert runtime.warp_scalar(torch.float32) is wp.float32
    assert runtime.warp_scalar(torch.float64) is wp.float64
    with pytest.raises(TypeError, match="float32 or torch.float64"):
        runtime.warp_scalar(torch.int32)


def test_rigid_optimization_level_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(runtime.RIGID_OPTIMIZATION_LEVEL_ENV, raising=False)
    assert runtime.rigid_optimization_level() is None
    options = eval(runtime.rigid_module_options(backward=False))
    assert options == {"cpu_compiler_flags": runtime.FAST_MATH_CPU_FLAGS, "enable_backward": False}
    monkeypatch.setenv(runtime.RIGID_OPTIMIZATION_LEVEL_ENV, "0")
    assert runtime.rigid_optimization_level() == 0
    assert eval(runtime.rigid_module_options())["optimization_level"] == 0
    for bad in ("4", "-1", "O2", "fast"):
        monkeypatch.setenv(runtime.RIGID_OPTIMIZATION_LEVEL_ENV, bad)
        with pytest.raises(ValueError, match="DIFFSIM_RIGID_OPTIMIZATION_LEVEL must be one of 0, 1, 2, 3"):
            runtime.rigid_optimization_level()
