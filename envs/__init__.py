"""Gymnasium environments over the diffsim simulators.

``import envs`` registers the ids (or prefix the module: ``gymnasium.make("envs:diffsim/Pendulum-v0")``):

* ``diffsim/Pendulum-v0``  -- Gymnasium's Pendulum-v1, step for step, on Warp;
* ``diffsim/CartPole-v0``  -- Gymnasium's CartPole-v1, step for step, on Warp;
* ``diffsim/Acrobot-v0``   -- Gymnasium's Acrobot-v1, step for step, on Warp;
* ``diffsim/AcrobotSwingUp-v0`` -- the same acrobot with a continuous elbow torque, swung up and held;
* ``diffsim/CartPoleSwingUp-v0`` -- swing up and balance, continuous push (rigid-body cart-pole);
* ``diffsim/DoublePendulum-v0`` -- swing up and balance a double pendulum (two torques);
* ``diffsim/Quadrotor-v0`` -- fly to a goal and hover (four rotor thrusts);
* ``diffsim/Throw-v0``     -- push or throw a box to rest on a target (contacts, friction);
* ``diffsim/Trebuchet-v0`` -- aim a trebuchet at a target in the wind (contextual, one step);
* ``diffsim/InvertedPendulum-v0``, ``diffsim/InvertedDoublePendulum-v0``, ``diffsim/Reacher-v0``,
  ``diffsim/Swimmer-v0``, ``diffsim/Hopper-v0``, ``diffsim/HalfCheetah-v0``, ``diffsim/Walker2d-v0``,
  ``diffsim/Ant-v0``, ``diffsim/Humanoid-v0`` -- Gymnasium's MuJoCo v5 tasks of those names (their own model
  files) on diffsim.

Each has a native vector env (``gymnasium.make_vec(id, num_envs=N)``) and a
differentiable functional interface (``envs.<name>.<Name>Dynamics`` / ``TrebuchetFunctional``).
"""
import gymnasium

gymnasium.register(
    id="diffsim/Pendulum-v0",
    entry_point="envs.pendulum:PendulumEnv",
    vector_entry_point="envs.pendulum:PendulumVectorEnv",
    max_episode_steps=200,
)
gymnasium.register(
    id="diffsim/CartPole-v0",
    entry_point="envs.cartpole:CartPoleEnv",
    vector_entry_point="envs.cartpole:CartPoleVectorEnv",
    max_episode_steps=500,
    reward_threshold=475.0,
)
gymnasium.register(
    id="diffsim/Acrobot-v0",
    entry_point="envs.acrobot:AcrobotEnv",
    vector_entry_point="envs.acrobot:AcrobotVectorEnv",
    max_episode_steps=500,
    reward_threshold=-100.0,
)
gymnasium.register(
    id="diffsim/AcrobotSwingUp-v0",
    entry_point="envs.acrobot_swingup:AcrobotSwingUpEnv",
    vector_entry_point="envs.acrobot_swingup:AcrobotSwingUpVectorEnv",
    max_episode_steps=200,
)
gymnasium.register(
    id="diffsim/Trebuchet-v0",
    entry_point="envs.trebuchet:TrebuchetEnv",
    vector_entry_point="envs.trebuchet:TrebuchetVectorEnv",
)

for _name, _module, _steps, _threshold in (
        ("CartPoleSwingUp", "cartpole_swingup", 500, None), ("DoublePendulum", "double_pendulum", 500, None),
        ("Quadrotor", "quadrotor", 500, None), ("Throw", "throw", None, None),
        ("InvertedPendulum", "inverted_pendulum", 1000, 950.0),
        ("InvertedDoublePendulum", "inverted_double_pendulum", 1000, 9100.0), ("Swimmer", "swimmer", 1000, 360.0),
        ("Reacher", "reacher", 50, -3.75),
        ("Hopper", "hopper", 1000, 3800.0), ("HalfCheetah", "half_cheetah", 1000, 4800.0),
        ("Walker2d", "walker2d", 1000, None), ("Ant", "ant", 1000, 6000.0), ("Humanoid", "humanoid", 1000, None)):
    gymnasium.register(
        id=f"diffsim/{_name}-v0",
        entry_point=f"envs.{_module}:{_name}Env",
        vector_entry_point=f"envs.{_module}:{_name}VectorEnv",
        max_episode_steps=_steps,
        reward_threshold=_threshold,
    )

FUNCTIONAL = {
    "diffsim/Pendulum-v0": "envs.pendulum:PendulumDynamics",
    "diffsim/CartPole-v0": "envs.cartpole:CartPoleDynamics",
    "diffsim/Acrobot-v0": "envs.acrobot:AcrobotDynamics",
    "diffsim/AcrobotSwingUp-v0": "envs.acrobot_swingup:AcrobotSwingUpDynamics",
    "diffsim/CartPoleSwingUp-v0": "envs.cartpole_swingup:CartPoleSwingUpDynamics",
    "diffsim/DoublePendulum-v0": "envs.double_pendulum:DoublePendulumDynamics",
    "diffsim/Quadrotor-v0": "envs.quadrotor:QuadrotorDynamics",
    "diffsim/Throw-v0": "envs.throw:ThrowDynamics",
    "diffsim/InvertedPendulum-v0": "envs.inverted_pendulum:InvertedPendulumDynamics",
    "diffsim/InvertedDoublePendulum-v0": "envs.inverted_double_pendulum:InvertedDoublePendulumDynamics",
    "diffsim/Reacher-v0": "envs.reacher:ReacherDynamics",
    "diffsim/Swimmer-v0": "envs.swimmer:SwimmerDynamics",
    "diffsim/Hopper-v0": "envs.hopper:HopperDynamics",
    "diffsim/HalfCheetah-v0": "envs.half_cheetah:HalfCheetahDynamics",
    "diffsim/Walker2d-v0": "envs.walker2d:Walker2dDynamics",
    "diffsim/Ant-v0": "envs.ant:AntDynamics",
    "diffsim/Humanoid-v0": "envs.humanoid:HumanoidDynamics",
}


def make_functional(env_id: str, **kwargs):
    """The differentiable, torch-facing dynamics of ``env_id``: ``reset(batch, generator)`` and
    ``step(state, action) -> (next_state, obs, reward, terminated)``."""
    import importlib

    if env_id not in FUNCTIONAL:
        raise ValueError(f"env_id must be one of {sorted(FUNCTIONAL)}, got {env_id!r}")
    module, name = FUNCTIONAL[env_id].split(":")
    return getattr(importlib.import_module(module), name)(**kwargs)
