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
