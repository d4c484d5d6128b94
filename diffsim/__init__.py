"""diffsim: differentiable physics and control on NVIDIA Warp, with gradients into PyTorch."""
from diffsim.runtime import init, resolve_device

__version__ = "0.1.0"
__all__ = ["init", "resolve_device", "__version__"]
