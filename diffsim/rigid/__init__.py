"""Differentiable rigid-body systems in generalised coordinates.

Implemented: ``ModelBuilder`` / ``Model`` (per-world parameters), MJCF import,
hinge, slide and free joints, joint and site motors, soft contacts (sphere,
capsule, box and cylinder against planes; spheres and capsules against each other
and against cylinders) with
smooth Coulomb friction and MuJoCo's solref/solimp mapped to penalties, MuJoCo's
RK4 and Euler (implicit joint damping), ``rollout`` with gradients w.r.t. state,
controls and physical parameters, soft joint limits, body kinematics. The dynamics run as straight-line code
generated per model or, for large models, as loops over the model's arrays (``Model.structure``,
:mod:`diffsim.rigid.loops`). Not yet:
box-box, box-capsule and cylinder-cylinder contacts, tendon forces, equality constraints.
"""
from pathlib import Path

from diffsim.rigid.builder import ModelBuilder
from diffsim.rigid.mjcf import load_mjcf, parse_mjcf
from diffsim.rigid.model import Model
from diffsim.rigid.rollout import rollout
from diffsim.rigid.state import Control, State, default_control, default_state, step

MODELS_DIR = Path(__file__).parent / "models"


def builtin_model(name: str) -> str:
    """Path of a built-in MJCF model: ``pendulum``, ``double_pendulum``, ``cartpole``, ``acrobot``,
    ``quadrotor``, ``ball_and_box``."""
    path = MODELS_DIR / f"{name}.xml"
    if not path.exists():
        names = sorted(p.stem for p in MODELS_DIR.glob("*.xml"))
        raise ValueError(f"unknown built-in model {name!r}; available: {names}")
    return str(path)


__all__ = ["ModelBuilder", "Model", "State", "Control", "load_mjcf", "parse_mjcf", "rollout", "step", "default_state",
           "default_control", "builtin_model", "MODELS_DIR"]
