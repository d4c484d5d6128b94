"""Shared machinery of the classic-control envs: one dynamics object, three ways in.

A :class:`ClassicDynamics` holds the physical parameters and a batched, differentiable
``transition(state (N, S), action (N, A), params (P,)) -> (next_state (N, S), reward (N,))``
in float64. From it:

* :class:`ClassicEnv` -- a ``gymnasium.Env`` (one world), drawing initial states
  with ``self.np_random`` exactly as Gymnasium's own env does;
* a native ``VectorEnv`` (:class:`ClassicVectorEnv` holds what the two kinds share): all
  worlds in one batched step, Gymnasium's ``AutoresetMode.NEXT_STEP``, world ``i`` seeded
  ``seed + i`` and drawing its initial states on the device from its own NumPy PCG64 stream
  (:mod:`envs.pcg64`) -- :class:`envs.warp_dynamics.WarpVectorEnv` for the Warp-function envs,
  :class:`envs.rigid_core.RigidVectorEnv` for the rigid-body tasks;
* the functional, differentiable interface of the dynamics itself:
  ``reset(batch, generator) -> state`` and
  ``step(state, action) -> (next_state, obs, reward, terminated)`` on torch tensors,
  with gradients w.r.t. state, action and ``params``.

An env's start distribution is written once, as :meth:`ClassicDynamics.initial_bounds`: every
state component uniform between its bounds (equal bounds: a fixed value), drawn in order; components
with a positive :meth:`ClassicDynamics.initial_normal_std` are ``low + std * N(0, 1)`` instead
(Gymnasium's MuJoCo envs draw velocities so), by NumPy's ziggurat (:mod:`envs.pcg64`). Bounds shorter than the
state leave its last components (a context the task carries, such as the last actuator forces) at zero, drawing
nothing for them.
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode, VectorEnv

from envs import pcg64


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
        low, high = (torch.as_tensor(b, dtype=torch.float64) for b in self.initial_bounds())
        u = torch.rand(batch, len(low), generator=generator, dtype=torch.float64)
        x = low + (high - low) * u
        std = self.initial_normal_std()
        if std is not None:
            std = torch.as_tensor(std, dtype=torch.float64)
            z = torch.randn(batch, len(low), generator=generator, dtype=torch.float64)
            x = torch.where(std > 0, low + std * z, x)
        x = torch.cat([x, x.new_zeros(batch, self.state_dim - len(low))], dim=1)  # carried context: zero
        return x.to(self.device)

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
    start_in_float32 = False  # initial states rounded to float32 (as Gymnasium's Acrobot draws them)
    angle_dims: tuple[int, ...] = ()  # state components the step wraps into [-pi, pi] (differences wrap too)

    def initial_bounds(self, options=None) -> tuple[np.ndarray, np.ndarray]:
        """``(low, high)``, float64 arrays of shape ``(state_dim,)``: the start distribution, every
        component uniform on ``[low, high)`` (a fixed value where they are equal). ``options`` are
        the single env's ``reset`` options (e.g. Gymnasium's ``low``/``high``)."""
        raise NotImplementedError

    def initial_normal_std(self) -> np.ndarray | None:
        """Per state component, the standard deviation of a normal start (``low + std * N(0, 1)``, ``low`` from
        :meth:`initial_bounds`) where it is positive; ``None`` (the default): every component uniform."""
        return None

    def observe(self, state: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def terminated(self, state: torch.Tensor) -> torch.Tensor:
        return torch.zeros(state.shape[0], dtype=torch.bool, device=state.device)

    def shaping(self, state: torch.Tensor, action: torch.Tensor, next_state: torch.Tensor) -> torch.Tensor | None:
        """A smooth term ``(B,)`` that trainers going through the simulator add to the reward (it is never
        part of the env's reward), so that gradients see what a discrete event such as a termination
        costs; ``None`` where the env needs none."""
        return None

    def sample_initial(self, rng: np.random.Generator, options=None, size=None) -> np.ndarray:
        """Initial state(s) drawn from ``rng`` as ``rng.uniform(low, high)`` of :meth:`initial_bounds`: exactly
        what the Gymnasium env's ``reset`` draws (``size=K``: K consecutive states, the same numbers)."""
        low, high = self.initial_bounds(options)
        std = self.initial_normal_std()
        n = len(low)
        if std is None:
            x = rng.uniform(low, high, size=(1 if size is None else size, n))
        else:  # component by component, in order: the same numbers as the vector env's device draws
            x = np.array([[low[j] + std[j] * pcg64.standard_normal_host(rng.bit_generator) if std[j] > 0
                           else rng.uniform(low[j], high[j]) for j in range(n)]
                          for _ in range(1 if size is None else size)])
        x = np.concatenate([x, np.zeros((x.shape[0], self.state_dim - n))], axis=1)  # carried context: zero
        x = x[0] if size is None else x
        return x.astype(np.float32).astype(np.float64) if self.start_in_float32 else x

    def env_action(self, action) -> np.ndarray:
        """Map a Gymnasium action of one world to the kernel's continuous input row."""
        raise NotImplementedError


def box_action(action, shape: tuple, name: str = "action", what: str = "") -> np.ndarray:
    """A continuous action (one world's, or a vector env's batch) as float64 of ``shape``, checked: a clear error
    naming ``name`` (and what it holds, ``what``) for a wrong shape or a NaN/inf. One world's action may come in
    any shape with the right number of entries (a scalar for ``(1,)``)."""
    a = np.asarray(action, dtype=np.float64)
    if len(shape) == 1:
        a = a.reshape(-1)
    if a.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}{what}, got {np.shape(action)}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return a


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


class ClassicVectorEnv(VectorEnv):
    """What the vector envs share: spaces, argument checks (subclasses step all worlds at once, next-step autoreset)."""

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

    def _stream_states(self, seed, seeded: bool) -> np.ndarray | None:
        """The ``(num_envs, 4)`` PCG64 states to (re)seed the worlds' generators with (world ``i`` as a single env
        seeded ``seed + i``), or ``None`` to keep them: reseed when a seed is given or nothing was seeded yet."""
        if seed is None and seeded:
            return None
        return pcg64.seeded_states(world_seeds(seed, self.num_envs))

    def _actions(self, actions) -> np.ndarray:
        """The batch of Gymnasium actions as the dynamics' float64 input rows ``(num_envs, action_dim)``."""
        raise NotImplementedError
