"""Differentiable rigid-body systems in generalised coordinates (in progress: model + MJCF import)."""
from pathlib import Path

from diffsim.rigid.builder import ModelBuilder
from diffsim.rigid.mjcf import parse_mjcf
from diffsim.rigid.model import Model, load_mjcf

MODELS_DIR = Path(__file__).parent / "models"


def builtin_model(name: str) -> str:
    """Path of a built-in MJCF model (``pendulum``, ``double_pendulum``, ``cartpole``, ``acrobot``)."""
    path = MODELS_DIR / f"{name}.xml"
    if not path.exists():
        names = sorted(p.stem for p in MODELS_DIR.glob("*.xml"))
        raise ValueError(f"unknown built-in model {name!r}; available: {names}")
    return str(path)


__all__ = ["ModelBuilder", "Model", "load_mjcf", "parse_mjcf", "builtin_model", "MODELS_DIR"]
