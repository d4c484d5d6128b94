"""Gymnasium environments over the diffsim simulators.

``import envs`` registers the ids (or use ``gymnasium.make("envs:diffsim/Trebuchet-v0")``):

* ``diffsim/Trebuchet-v0`` -- aim a trebuchet at a target in the wind (contextual, one step).
"""
import gymnasium

gymnasium.register(
    id="diffsim/Trebuchet-v0",
    entry_point="envs.trebuchet:TrebuchetEnv",
    vector_entry_point="envs.trebuchet:TrebuchetVectorEnv",
)
