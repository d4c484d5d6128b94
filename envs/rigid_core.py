"""Environments over :mod:`diffsim.rigid` models: the dynamics object the env classes share.

A task's state row is ``[qpos, qvel, context]`` (the context, e.g. a goal position, is
carried unchanged). One env step holds the action for ``frame_skip`` simulator steps
(RK4) and is one differentiable :func:`diffsim.rigid.rollout` over all worlds, so the
functional ``step(state, action)`` has gradients w.r.t. state and action, and w.r.t.
the physical parameters of ``dynamics.template`` (a one-world :class:`Model`; set
``requires_grad`` on its tensors). The env classes are those of :mod:`envs.core`.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import torch
from gymnasium import spaces

from diffsim.rigid import builtin_model, load_mjcf, rollout
from diffsim.rigid.model import PARAM_NAMES
from envs.core import ClassicDynamics, ClassicEnv, ClassicVectorEnv


class RigidDynamics(ClassicDynamics):
    """Subclasses set ``model_name``, ``frame_skip``, ``context_dim`` and implement
    ``sample_initial``, ``observe``, ``reward``, ``terminated``; ``action_low``/``action_high`` bound
    the continuous actions, which map linearly onto the actuators' control ranges."""

    model_name: str
    frame_skip: int
    context_dim: int = 0

    def __init__(self, device: str = "cpu", timestep: float | None = None, **overrides):
        self.device = device
        self.template = load_mjcf(builtin_model(self.model_name), num_worlds=1, dtype=torch.float64, device=device,
                                  timestep=timestep)
        for name, value in overrides.items():  # physical parameter overrides, e.g. body_mass=tensor
            if name not in PARAM_NAMES:
                raise ValueError(f"unknown physical parameter {name!r}; one of {PARAM_NAMES}")
            current = getattr(self.template, name)
            value = torch.as_tensor(value, dtype=torch.float64, device=device)
            if value.shape != current.shape[1:] and value.shape != current.shape:
                raise ValueError(f"{name} must have shape {tuple(current.shape[1:])}, got {tuple(value.shape)}")
            setattr(self.template, name, value.reshape(current.shape).clone())
        m = self.template
        self.nq, self.nv, self.nu = m.nq, m.nv, m.nu
        self.state_dim = m.nq + m.nv + self.context_dim
        self.action_dim = m.nu
        lo = np.array([r[0] for r in m.actuator_ctrlrange], dtype=np.float64)
        hi = np.array([r[1] for r in m.actuator_ctrlrange], dtype=np.float64)
        self.ctrl_low, self.ctrl_high = lo, hi
        self.action_space = spaces.Box(low=lo.astype(np.float32), high=hi.astype(np.float32), dtype=np.float32)
        self.params = torch.zeros(1, dtype=torch.float64, device=device)  # physical parameters live in template
        self._models: dict[int, object] = {}

    def model_for(self, n: int):
        """The template replicated over ``n`` worlds (expanded: gradients reach the template's tensors)."""
        fields = {k: getattr(self.template, k).expand(n, *getattr(self.template, k).shape[1:]) for k in PARAM_NAMES}
        return dataclasses.replace(self.template, num_worlds=n, **fields)

    def transition(self, state, action, params=None, recompute: bool = False):
        n = state.shape[0]
        state = state.to(torch.float64)
        q, v = state[:, :self.nq], state[:, self.nq:self.nq + self.nv]
        u = action.to(torch.float64)
        qs, vs = rollout(self.model_for(n), q, v, u.unsqueeze(1).expand(n, self.frame_skip, self.nu),
                         recompute=recompute)
        next_state = torch.cat([qs[:, -1], vs[:, -1], state[:, self.nq + self.nv:]], dim=1)
        return next_state, self.reward(state, u, next_state)

    def reset(self, batch: int, generator: torch.Generator) -> torch.Tensor:
        seed = int(torch.randint(0, 2 ** 62, (1,), generator=generator))
        rng = np.random.default_rng(seed)
        return torch.as_tensor(self.sample_initial(rng, None, size=batch), dtype=torch.float64, device=self.device)

    def env_action(self, action) -> np.ndarray:
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        if a.shape != (self.nu,):
            raise ValueError(f"action must have shape ({self.nu},), got {np.shape(action)}")
        if not np.all(np.isfinite(a)):
            raise ValueError("action must be finite (no NaN or inf)")
        return np.clip(a, self.ctrl_low, self.ctrl_high)

    def reward(self, state, action, next_state):
        raise NotImplementedError

    # helpers for subclasses
    def split(self, state):
        return state[:, :self.nq], state[:, self.nq:self.nq + self.nv], state[:, self.nq + self.nv:]


class RigidEnv(ClassicEnv):
    """One world of a :class:`RigidDynamics` task."""

    def step(self, action):
        reward = self._transition(action)
        terminated = bool(self.dynamics.terminated(torch.as_tensor(self.state)[None])[0])
        return self._obs(), reward, terminated, False, {}


class RigidVectorEnv(ClassicVectorEnv):
    """All worlds of a :class:`RigidDynamics` task in one rollout per step (next-step autoreset)."""

    def _actions(self, actions):
        a = np.asarray(actions, dtype=np.float64)
        if a.shape != (self.num_envs, self.dynamics.nu):
            raise ValueError(f"actions must have shape ({self.num_envs}, {self.dynamics.nu}), got {a.shape}")
        if not np.all(np.isfinite(a)):
            raise ValueError("actions must be finite (no NaN or inf)")
        return np.clip(a, self.dynamics.ctrl_low, self.dynamics.ctrl_high)
