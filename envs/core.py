"""Shared machinery of the classic-control envs: one dynamics object, three ways in.

A :class:`ClassicDynamics` holds the physical parameters and a batched, differentiable
``transition(state (N, S), action (N, A), params (P,)) -> (next_state (N, S), reward (N,))``
in float64. From it:

* :class:`ClassicEnv` -- a ``gymnasium.Env`` (one world), drawing initial states
  with ``self.np_random`` exactly as Gymnasium's own env does;
* :class:`ClassicVectorEnv` -- a native ``VectorEnv``: all worlds in one batched
  ``transition`` per step, Gymnasium's ``AutoresetMode.NEXT_STEP``, world ``i`` seeded
  ``seed + i`` (the Warp-function envs use the device-resident
  :class:`envs.warp_dynamics.WarpVectorEnv` instead);
* the functional, differentiable interface of the dynamics itself:
  ``reset(batch, generator) -> state`` and
  ``step(state, action) -> (next_state, obs, reward, terminated)`` on torch tensors,
  with gradients w.r.t. state, action and ``params``.
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode, VectorEnv


class ClassicDynamics:
    """Subclasses set ``state_dim``, ``action_dim``, ``param_names`` and implement ``transition``,
    ``observe``, ``terminated``, ``sample_initial`` and the spaces (Warp-function envs:
    :class:`envs.warp_dynamics.WarpDynamics`; rigid-body tasks: :class:`envs.rigid_core.RigidDynamics`)."""

    state_dim: int
    action_dim: int
    param_names: tuple[str, ...]

    def __init__(self, params: dict, device: str = "cpu"):
        for name, value in params.items():
            if not np.isfinite(value):
                raise ValueError(f"{name} must be finite, got {value!r}")
        self.device = device
        self.params = torch.tensor([float(params[k]) for k in self.param_names], dtype=torch.float64, device=device)

    # --- differentiable, torch-facing -------------------------------------------------------
    def transition(self, state: torch.Tensor, action: torch.Tensor, params: torch.Tensor | None = None,
                   recompute: bool = False):
        """``(next_state, reward)`` for a batch; float64; differentiable w.r.t. all three.
        ``recompute=True`` keeps no tape: the step is re-run during backward (for checkpointing)."""
        raise NotImplementedError

    def rollout_return(self, state: torch.Tensor, actions: torch.Tensor, gamma: float = 1.0,
                       segment_length: int | None = None):
        """Discounted return of an open-loop action sequence ``actions (T, B, A)`` from ``state``, and the
        final state, differentiable with bounded memory: segments of ``segment_length`` steps (default
        sqrt(T)) are recomputed during backward (:func:`diffsim.bridge.checkpointed_rollout`)."""
        from diffsim.bridge import checkpointed_rollout

        def one(k, s):
            nxt, reward = self.transition(s, actions[k], recompute=True)
            return nxt, reward * gamma ** k

        (final,), rewards = checkpointed_rollout(one, (state,), actions.shape[0], segment_length)
        return torch.stack([r[0] for r in rewards]).sum(0), final

    def reset(self, batch: int, generator: torch.Generator) -> torch.Tensor:
        """Initial states ``(batch, S)`` drawn from the env's start distribution with ``generator``."""
        low, high = self.initial_bounds()
        u = torch.rand(batch, self.state_dim, generator=generator, dtype=torch.float64)
        return (torch.as_tensor(low) + (torch.as_tensor(high) - torch.as_tensor(low)) * u).to(self.device)

    def step(self, state: torch.Tensor, action: torch.Tensor, params: torch.Tensor | None = None):
        """Functional step: ``(next_state, obs, reward, terminated)``."""
        self._check_step_shapes(state, action)
        next_state, reward = self.transition(state, action, params)
        return next_state, self.observe(next_state), reward, self.terminated(next_state)

    def _check_step_shapes(self, state, action):
        if state.dim() != 2 or state.shape[1] != self.state_dim:
            raise ValueError(f"state must have shape (B, {self.state_dim}), got {tuple(state.shape)}")
        if action.dim() != 2 or action.shape != (state.shape[0], self.action_dim):
            raise ValueError(f"action must have shape ({state.shape[0]}, {self.action_dim}), got {tuple(action.shape)}")

    # --- per env ----------------------------------------------------------------------------
    def initial_bounds(self):
        raise NotImplementedError

    def observe(self, state: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def terminated(self, state: torch.Tensor) -> torch.Tensor:
        return torch.zeros(state.shape[0], dtype=torch.bool, device=state.device)

    def sample_initial(self, rng: np.random.Generator, options, size=None) -> np.ndarray:
        """Initial state(s) drawn from ``rng`` exactly as the Gymnasium env's ``reset`` does
        (``size=K`` draws K consecutive ones in one call, the same numbers)."""
        raise NotImplementedError

    def env_action(self, action) -> np.ndarray:
        """Map a Gymnasium action of one world to the kernel's continuous input row."""
        raise NotImplementedError


def _check_finite_action(a):
    if not np.all(np.isfinite(a)):
        raise ValueError("action must be finite (no NaN or inf)")


class ClassicEnv(gym.Env):
    """One world of a :class:`ClassicDynamics`, behaving like the Gymnasium original."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}

    def __init__(self, dynamics: ClassicDynamics, render_mode: str | None = None):
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.dynamics, self.render_mode = dynamics, render_mode
        self.observation_space, self.action_space = dynamics.observation_space, dynamics.action_space
        self.state = None

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        if options and "state" in options:
            state = np.asarray(options["state"], dtype=np.float64)
            if state.shape != (self.dynamics.state_dim,) or not np.all(np.isfinite(state)):
                raise ValueError(f"options['state'] must be a finite array of shape ({self.dynamics.state_dim},)")
            self.state = state.copy()
        else:
            self.state = self.dynamics.sample_initial(self.np_random, options)
        self._after_reset()
        return self._obs(), {}

    def _after_reset(self):
        pass

    def _obs(self):
        return self.dynamics.observe(torch.as_tensor(self.state)[None])[0].numpy().astype(np.float32)

    def _transition(self, action):
        if self.state is None:
            raise RuntimeError("call reset() before step()")
        u = self.dynamics.env_action(action)
        with torch.no_grad():
            next_state, reward = self.dynamics.transition(torch.as_tensor(self.state)[None], torch.as_tensor(u)[None])
        self.state = next_state[0].numpy()
        return float(reward[0])

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        if self.state is None:
            raise RuntimeError("call reset() before render()")
        return self.dynamics.render_frame(self.state)


def world_seeds(seed, num_envs: int) -> list:
    """Per-world seeds of a vector env: ``seed + i`` for an int (Gymnasium's convention), a list as given."""
    if seed is None:
        return [None] * num_envs
    seeds = list(seed) if isinstance(seed, (list, tuple)) else [seed + i for i in range(num_envs)]
    if len(seeds) != num_envs:
        raise ValueError(f"seed must be an int or a list of {num_envs} ints, got {len(seeds)}")
    return seeds


class _ResetStreams:
    """Per-world initial states from per-world generators, pre-drawn in blocks of ``block``.

    A block draw gives the same numbers as ``block`` consecutive draws, so world ``i``
    still sees exactly what a single env seeded like it sees, at a fraction of the cost.
    """

    def __init__(self, dynamics, seeds, block=64):
        self.dynamics, self.block = dynamics, block
        self.rngs = [np.random.default_rng(s) for s in seeds]
        n = len(seeds)
        self.buffer = np.zeros((n, block, dynamics.state_dim))
        self.used = np.full(n, block, dtype=np.int64)

    def draw(self, idx: np.ndarray) -> np.ndarray:
        used = self.used[idx]
        exhausted = used >= self.block
        if exhausted.any():
            for i in idx[exhausted]:
                self.buffer[i] = self.dynamics.sample_initial(self.rngs[i], None, size=self.block)
            used[exhausted] = 0
        self.used[idx] = used + 1
        return self.buffer[idx, used]


class ClassicVectorEnv(VectorEnv):
    """All worlds of a :class:`ClassicDynamics` in one batched transition per step (next-step autoreset)."""

    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, dynamics: ClassicDynamics, num_envs: int, max_episode_steps: int, render_mode=None):
        if render_mode is not None:
            raise ValueError(f"{type(self).__name__} does not render; use the single env with render_mode='rgb_array'")
        if not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"num_envs must be an int >= 1, got {num_envs!r}")
        self.dynamics, self.num_envs, self.max_episode_steps = dynamics, int(num_envs), max_episode_steps
        self.render_mode = None
        self.single_observation_space = dynamics.observation_space
        self.single_action_space = dynamics.action_space
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, self.num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, self.num_envs)
        self._streams = None

    state = None  # (num_envs, state_dim) float64 host array once reset

    def _given_states(self, options) -> np.ndarray | None:
        """The initial states ``options['state']`` (checked), or ``None`` to draw them."""
        if options and "state" in options:
            state = np.asarray(options["state"], dtype=np.float64)
            if state.shape != (self.num_envs, self.dynamics.state_dim) or not np.all(np.isfinite(state)):
                raise ValueError(f"options['state'] must be finite with shape ({self.num_envs}, "
                                 f"{self.dynamics.state_dim})")
            return state.copy()
        if options:
            raise ValueError("the vector env takes only options={'state': ...}; per-world bounds are not supported")
        return None

    def _reset_states(self, seed, options) -> np.ndarray:
        """(Re)seed the per-world streams if asked; the initial states ``options['state']`` or fresh draws."""
        given = self._given_states(options)
        if seed is not None or self._streams is None:
            self._streams = _ResetStreams(self.dynamics, world_seeds(seed, self.num_envs))
        return self._streams.draw(np.arange(self.num_envs)) if given is None else given

    def reset(self, *, seed=None, options=None):
        self.state = self._reset_states(seed, options)
        self._steps = np.zeros(self.num_envs, dtype=np.int64)
        self._autoreset = np.zeros(self.num_envs, dtype=bool)
        return self._obs(), {}

    def _obs(self):
        return self.dynamics.observe(torch.as_tensor(self.state)).numpy().astype(np.float32)

    def _actions(self, actions) -> np.ndarray:
        raise NotImplementedError

    def step(self, actions):
        if self.state is None:
            raise RuntimeError("call reset() before step()")
        u = self._actions(actions)
        with torch.no_grad():
            ns, rew = self.dynamics.transition(torch.as_tensor(self.state, device=self.dynamics.device),
                                               torch.as_tensor(u, device=self.dynamics.device))
            term = self.dynamics.terminated(ns).cpu().numpy()
        next_state, reward = ns.cpu().numpy(), rew.cpu().numpy()
        self._steps += 1
        truncated = self._steps >= self.max_episode_steps
        # worlds that ended on the previous step are reset now (Gymnasium's next-step autoreset)
        resetting = self._autoreset
        if resetting.any():
            next_state[resetting] = self._streams.draw(np.nonzero(resetting)[0])
            reward[resetting] = 0.0
            term[resetting] = False
            truncated[resetting] = False
            self._steps[resetting] = 0
        self.state = next_state
        self._autoreset = term | truncated
        return self._obs(), reward, term, truncated, {}
