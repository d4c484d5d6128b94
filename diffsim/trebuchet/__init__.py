"""Differentiable trebuchet (Trebuchet.jl's model and a physical variant), batched in Warp."""
from diffsim.trebuchet.constants import FT, LB, MODELS, ORIGINAL, PHYSICAL, TrebuchetModel
from diffsim.trebuchet.kernel import LANDED, NONPOSITIVE_MASS, STATUS, STEP_CAP, TOO_LIGHT
from diffsim.trebuchet.simulate import simulate

__all__ = ["simulate", "TrebuchetModel", "ORIGINAL", "PHYSICAL", "MODELS", "STATUS", "LANDED", "TOO_LIGHT",
           "NONPOSITIVE_MASS", "STEP_CAP", "FT", "LB"]
