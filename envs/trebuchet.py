"""``diffsim/Trebuchet-v0``: aim a trebuchet at a target in the wind (a contextual one-step task).

## Description
The differentiable-programming demo of the Zygote paper as an environment. Each
episode draws a target distance and a wind speed; the agent chooses the
counterweight mass and the release angle; the trebuchet of
:mod:`diffsim.trebuchet` (Trebuchet.jl's model by default) throws once.

## Observation space
``Box(2,)`` float32: ``[target distance (m) in [20, 100], wind speed (m/s) in [-20, 20]]``
(positive wind blows along the throw).

## Action space
``Box(2,)`` float32: ``[counterweight mass (kg), release angle (rad)]`` in
``[mass_range_kg] x [0.02, pi/2]``. Out-of-range actions are clipped to the box.

## Reward
``-|landing distance - target|`` in metres.

## Episode end
Every episode terminates after its one throw (``terminated=True``); never truncated.

## Starting state
target ~ U(``target_range``) m; wind ~ N(0, ``wind_std``^2) m/s clipped to [-20, 20].
``reset(options={"state": [target, wind]})`` sets the context exactly.

## Arguments
``model`` ("original" | "physical"), ``wind_std`` (m/s, default 5), ``target_range``
(m, default (20, 100)), ``mass_range_kg`` (default 20-500 lb in kg), ``render_mode``
(None | "rgb_array"), and for the vector env ``num_envs`` and ``device``.

## Vectorised and differentiable
``gymnasium.make_vec("diffsim/Trebuchet-v0", num_envs=N)`` returns
:class:`TrebuchetVectorEnv`: all N throws in one Warp launch, ``AutoresetMode.SAME_STEP``
(the observation returned with a termination is already the next episode's; the
last one is in ``info["final_obs"]``). :class:`TrebuchetFunctional` is the torch-facing
step whose reward carries gradients w.r.t. actions, context and the wind.
"""
from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv

from diffsim.trebuchet import LB, MODELS, simulate
from envs import counter_rng
from envs.core import world_seeds

WIND_LIMIT = 20.0
ANGLE_RANGE = (0.02, 0.5 * math.pi)


def _check_params(model, wind_std, target_range, mass_range_kg):
    if model not in MODELS:
        raise ValueError(f"model must be one of {sorted(MODELS)}, got {model!r}")
    if not (np.isfinite(wind_std) and wind_std >= 0):
        raise ValueError(f"wind_std must be a finite number >= 0 (m/s), got {wind_std!r}")
    lo, hi = target_range
    if not (0 < lo < hi and np.isfinite(hi)):
        raise ValueError(f"target_range must satisfy 0 < low < high (m), got {target_range!r}")
    mlo, mhi = mass_range_kg
    if not (0 < mlo < mhi and np.isfinite(mhi)):
        raise ValueError(f"mass_range_kg must satisfy 0 < low < high (kg), got {mass_range_kg!r}")


def _check_action(action, shape):
    a = np.asarray(action)
    if a.shape != shape:
        raise ValueError(f"action must have shape {shape} (mass kg, angle rad), got {a.shape}")
    if not np.issubdtype(a.dtype, np.number):
        raise ValueError(f"action must be numeric, got dtype {a.dtype}")
    if not np.all(np.isfinite(a)):
        raise ValueError("action must be finite (no NaN or inf)")
    return a.astype(np.float64)


class _Contexts:
    """Target and wind per world from the counter-based generator."""

    def __init__(self, wind_std, target_range):
        self.wind_std, self.target_range = wind_std, target_range

    def draw(self, key, counter):
        lo, hi = self.target_range
        target = lo + (hi - lo) * counter_rng.uniform(key, counter, 0)
        wind = np.clip(self.wind_std * counter_rng.normal(key, counter, 1), -WIND_LIMIT, WIND_LIMIT)
        return np.stack([target, wind], -1)


def _spaces(target_range, mass_range_kg):
    obs = spaces.Box(low=np.array([target_range[0], -WIND_LIMIT], dtype=np.float32),
                     high=np.array([target_range[1], WIND_LIMIT], dtype=np.float32), dtype=np.float32)
    act = spaces.Box(low=np.array([mass_range_kg[0], ANGLE_RANGE[0]], dtype=np.float32),
                     high=np.array([mass_range_kg[1], ANGLE_RANGE[1]], dtype=np.float32), dtype=np.float32)
    return obs, act


def _throw(model, context, action, device, record=False):
    """Distances for contexts (N, 2) and clipped actions (N, 2) on ``device``; float64 numpy out."""
    t = lambda x: torch.as_tensor(x, dtype=torch.float64, device=device)  # noqa: E731
    return simulate(t(context[:, 1]), t(action[:, 1]), t(action[:, 0]), model=model, return_info=True,
                    record=record)


def _render_frame(context, action, distance, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3), dpi=80)
    target, wind = float(context[0]), float(context[1])
    ax.axhline(0.0, color="k", lw=0.8)
    ax.plot([target], [0.0], "rv", ms=10)
    if path is not None:
        p = path[~np.isnan(path[:, 0])]
        ax.plot(p[:, 0], p[:, 1] + 1.524, "b-", lw=1.2)
    title = f"wind {wind:+.1f} m/s, target {target:.1f} m"
    if distance is not None:
        title += f", landed {distance:.1f} m ({np.degrees(action[1]):.0f} deg, {action[0] / LB:.0f} lb)"
    ax.set_title(title, fontsize=8)
    ax.set_xlim(-10, 130)
    ax.set_ylim(-2, 60)
    fig.tight_layout()
    fig.canvas.draw()
    frame = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return frame


class TrebuchetEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 1}

    def __init__(self, model: str = "original", wind_std: float = 5.0, target_range=(20.0, 100.0),
                 mass_range_kg=(20.0 * LB, 500.0 * LB), render_mode: str | None = None):
        _check_params(model, wind_std, target_range, mass_range_kg)
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.model, self.render_mode = model, render_mode
        self._contexts = _Contexts(wind_std, target_range)
        self.observation_space, self.action_space = _spaces(target_range, mass_range_kg)
        self._key, self._episode = None, 0
        self.state = None
        self._last = None

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        if seed is not None or self._key is None:
            self._key, self._episode = int(self.np_random.integers(0, 2 ** 63)), 0
        if options and "state" in options:
            state = np.asarray(options["state"], dtype=np.float64)
            if state.shape != (2,) or not np.all(np.isfinite(state)):
                raise ValueError(f"options['state'] must be finite [target m, wind m/s], got {options['state']!r}")
            self.state = state
        else:
            self.state = self._contexts.draw(np.array([self._key]), np.array([self._episode]))[0]
        self._episode += 1
        self._last = None
        return self.state.astype(np.float32), {}

    def step(self, action):
        if self.state is None:
            raise RuntimeError("call reset() before step()")
        a = np.clip(_check_action(action, (2,)), self.action_space.low, self.action_space.high)
        d, info = _throw(self.model, self.state[None], a[None], "cpu", record=self.render_mode == "rgb_array")
        distance = float(d[0])
        reward = -abs(distance - float(self.state[0]))
        if self.render_mode == "rgb_array":
            self._last = (a, distance, info["path"][0].numpy())
        out_info = {"distance": distance, "status": int(info["status"][0])}
        return self.state.astype(np.float32), reward, True, False, out_info

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        if self.state is None:
            raise RuntimeError("call reset() before render()")
        if self._last is None:
            return _render_frame(self.state, None, None, None)
        return _render_frame(self.state, *self._last)


class TrebuchetVectorEnv(VectorEnv):
    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, num_envs: int = 1, model: str = "original", wind_std: float = 5.0,
                 target_range=(20.0, 100.0), mass_range_kg=(20.0 * LB, 500.0 * LB), device: str = "cpu",
                 render_mode: str | None = None):
        if not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"num_envs must be an int >= 1, got {num_envs!r}")
        if render_mode is not None:
            raise ValueError("the vector env does not render; use TrebuchetEnv(render_mode='rgb_array')")
        _check_params(model, wind_std, target_range, mass_range_kg)
        self.num_envs, self.model, self.device = int(num_envs), model, device
        self.render_mode = None
        self._contexts = _Contexts(wind_std, target_range)
        self.single_observation_space, self.single_action_space = _spaces(target_range, mass_range_kg)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, self.num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, self.num_envs)
        self._keys = None
        self._episodes = np.zeros(self.num_envs, dtype=np.uint64)
        self.state = None

    def reset(self, *, seed=None, options=None):
        if seed is not None or self._keys is None:
            self._keys = np.array([np.random.default_rng(s).integers(0, 2 ** 63)
                                   for s in world_seeds(seed, self.num_envs)], dtype=np.uint64)
            self._episodes[:] = 0
        self.state = self._contexts.draw(self._keys, self._episodes)
        if options and "state" in options:
            state = np.asarray(options["state"], dtype=np.float64)
            if state.shape != (self.num_envs, 2) or not np.all(np.isfinite(state)):
                raise ValueError(f"options['state'] must be finite with shape ({self.num_envs}, 2)")
            self.state = state
        self._episodes += np.uint64(1)
        return self.state.astype(np.float32), {}

    def step(self, actions):
        if self.state is None:
            raise RuntimeError("call reset() before step()")
        a = np.clip(_check_action(actions, (self.num_envs, 2)), self.single_action_space.low,
                    self.single_action_space.high)
        d, info = _throw(self.model, self.state, a, self.device)
        distance = d.cpu().numpy()
        reward = -np.abs(distance - self.state[:, 0])
        final_obs = self.state.astype(np.float32)
        # same-step autoreset: every world's episode ended, the next context is returned now
        self.state = self._contexts.draw(self._keys, self._episodes)
        self._episodes += np.uint64(1)
        terminated = np.ones(self.num_envs, dtype=bool)
        infos = {"distance": distance, "status": info["status"].cpu().numpy(), "final_obs": final_obs,
                 "final_info": {}, "_final_obs": terminated.copy()}
        return self.state.astype(np.float32), reward, terminated, np.zeros(self.num_envs, dtype=bool), infos


class TrebuchetFunctional:
    """Torch-facing, differentiable access: ``state = [target m, wind m/s]`` per world, shape (B, 2).

    ``reset(batch, generator)`` draws contexts; ``step(state, action)`` returns
    ``(next_state, obs, reward, terminated)`` where ``reward = -|distance - target|``
    carries gradients w.r.t. ``action = [mass kg, angle rad]`` and ``state`` (no clipping
    here: the caller owns the action parametrisation). ``next_state`` equals ``state``
    (the episode is over after one throw).
    """

    def __init__(self, model: str = "original", wind_std: float = 5.0, target_range=(20.0, 100.0)):
        _check_params(model, wind_std, target_range, (1.0, 2.0))
        self.model, self.wind_std, self.target_range = model, wind_std, target_range

    def reset(self, batch: int, generator: torch.Generator, dtype=torch.float32) -> torch.Tensor:
        lo, hi = self.target_range
        target = lo + (hi - lo) * torch.rand(batch, generator=generator, dtype=torch.float64)
        wind = (torch.randn(batch, generator=generator, dtype=torch.float64) * self.wind_std).clamp(-WIND_LIMIT,
                                                                                                   WIND_LIMIT)
        return torch.stack([target, wind], -1).to(dtype)

    def step(self, state: torch.Tensor, action: torch.Tensor):
        if state.dim() != 2 or state.shape[-1] != 2:
            raise ValueError(f"state must have shape (B, 2) [target, wind], got {tuple(state.shape)}")
        if action.shape != state.shape:
            raise ValueError(f"action must have shape {tuple(state.shape)} [mass kg, angle rad], "
                             f"got {tuple(action.shape)}")
        distance = simulate(state[:, 1], action[:, 1], action[:, 0], model=self.model)
        reward = -(distance - state[:, 0]).abs()
        terminated = torch.ones(state.shape[0], dtype=torch.bool, device=state.device)
        return state, state, reward, terminated
