"""Environments over :mod:`diffsim.rigid` models: the dynamics object the env classes share.

A task's state row is ``[qpos, qvel, context, factors]`` (the context, e.g. a goal position, and the
domain-randomisation factors of a ``randomize``d Gymnasium MuJoCo task are carried unchanged). One env step
holds the action for ``frame_skip`` simulator steps (RK4) and is one differentiable
:func:`diffsim.rigid.rollout` over all worlds, so the functional ``step(state, action)`` has gradients
w.r.t. state and action, and w.r.t. the physical parameters of ``dynamics.template`` (a one-world
:class:`Model`; set ``requires_grad`` on its tensors). The env classes are those of :mod:`envs.core`.
"""
from __future__ import annotations

import dataclasses
import os

import numpy as np
import torch
import warp as wp
from gymnasium import spaces

from diffsim import runtime
from diffsim.rigid import builtin_model, load_mjcf, rollout
from diffsim.rigid.model import FRICTION_SMOOTHING, PARAM_NAMES
from diffsim.rigid.rollout import INTEGRATORS
from envs import pcg64
from envs.core import ClassicDynamics, ClassicEnv, ClassicVectorEnv, box_action
from envs.rendering import side_view

RANDOMIZABLE = {  # name -> the (Model field, column or None for all) it scales, one factor per world and episode
    "friction": (("geom_contact", 0), ("pair_contact", 0)),
    "contact_stiffness": (("geom_contact", 1), ("pair_contact", 1)),
    "contact_damping": (("geom_contact", 2), ("pair_contact", 2)),
    "limit_stiffness": (("dof_limit", 0),),
    "limit_damping": (("dof_limit", 1),),
    "joint_damping": (("dof_damping", None),),
    "density": (("body_mass", None), ("body_inertia", None)),
}
"""What ``randomize=`` may scale (:class:`GymnasiumMujocoDynamics`)."""


class RigidDynamics(ClassicDynamics):
    """Subclasses set ``model_name``, ``frame_skip``, ``context_dim`` and implement
    ``initial_bounds``, ``observe``, ``reward``, ``terminated``; ``action_low``/``action_high`` bound
    the continuous actions, which map linearly onto the actuators' control ranges. ``timestep`` (s) overrides the
    model file's, ``substeps`` the task's number of diffsim steps per simulator step (longer steps run faster
    but stiff contacts may chatter or blow up), ``integrator`` what each of those steps runs (``"rk4"``,
    ``"euler"`` or ``"implicit_contacts"``, :func:`diffsim.rigid.rollout`; default: the task's), ``structure``
    how the model's dynamics run
    (:attr:`diffsim.rigid.Model.structure`: generated code or loops; default ``"auto"``),
    ``friction_smoothing`` (m/s) the slip speed of the contacts'
    smooth Coulomb friction (:attr:`diffsim.rigid.Model.friction_smoothing`: larger slows the growth of gradients
    through sliding feet over long windows), other keywords the physical parameters of ``template``."""

    model_name: str
    frame_skip: int
    context_dim: int = 0
    integrator: str = "rk4"  # what one simulator step runs (see diffsim.rigid.rollout's INTEGRATORS)
    substeps: int = 1  # diffsim steps per simulator step (penalty contacts may need a shorter step than MuJoCo's)
    randomize: dict = {}  # {name: (low, high)} scale factors per world (GymnasiumMujocoDynamics); none here

    def model_file(self) -> str:
        """The MJCF file: the built-in model ``model_name`` unless a subclass says otherwise."""
        return builtin_model(self.model_name)

    def __init__(self, device: str = "cpu", timestep: float | None = None, substeps: int | None = None,
                 friction_smoothing: float = FRICTION_SMOOTHING, integrator: str | None = None,
                 structure: str = "auto", **overrides):
        if integrator is not None:
            if integrator not in INTEGRATORS:
                raise ValueError(f"integrator must be None or one of {INTEGRATORS}, got {integrator!r}")
            self.integrator = integrator
        if substeps is not None:
            if isinstance(substeps, bool) or not isinstance(substeps, (int, np.integer)) or substeps < 1:
                raise ValueError(f"substeps must be an int >= 1 (diffsim steps per simulator step), got {substeps!r}")
            self.substeps = int(substeps)
        self.device = device
        self.template = load_mjcf(self.model_file(), num_worlds=1, dtype=torch.float64, device=device,
                                  timestep=timestep, friction_smoothing=friction_smoothing, structure=structure)
        for name, value in overrides.items():  # physical parameter overrides, e.g. body_mass=tensor
            if name not in PARAM_NAMES:
                raise ValueError(f"unknown physical parameter {name!r}; one of {PARAM_NAMES}")
            current = getattr(self.template, name)
            value = torch.as_tensor(value, dtype=torch.float64, device=device)
            if value.shape != current.shape[1:] and value.shape != current.shape:
                raise ValueError(f"{name} must have shape {tuple(current.shape[1:])}, got {tuple(value.shape)}")
            setattr(self.template, name, value.reshape(current.shape).clone())
        self.template.check_params()  # e.g. a negative body_mass override is refused here, naming it
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
        return self.template.expand(n)

    def model_at(self, state: torch.Tensor):
        """The model of each world of ``state (B, S)``: :meth:`model_for` ``(B)``, with every ``randomize``d
        parameter scaled by the world's factor (the last ``len(randomize)`` state columns)."""
        model = self.model_for(state.shape[0])
        if not self.randomize:
            return model
        factors = state[:, state.shape[1] - len(self.randomize):].to(torch.float64)
        scaled = {}
        for j, name in enumerate(self.randomize):
            for field, col in RANDOMIZABLE[name]:
                t = scaled.get(field, getattr(model, field))
                f = factors[:, j].reshape(-1, *([1] * (t.dim() - 1)))
                if col is not None:  # only that column: 1 elsewhere
                    mask = torch.zeros(t.shape[-1], dtype=t.dtype, device=t.device)
                    mask[col] = 1.0
                    f = 1.0 + (f - 1.0) * mask
                scaled[field] = t * f
        return dataclasses.replace(model, **scaled)

    def transition(self, state, action, params=None, recompute: bool = False):
        n = state.shape[0]
        state = state.to(torch.float64)
        q, v = state[:, :self.nq], state[:, self.nq:self.nq + self.nv]
        u = action.to(torch.float64)
        qs, vs = rollout(self.model_at(state), q, v, u.unsqueeze(1).expand(n, self.frame_skip * self.substeps, self.nu),
                         integrator=self.integrator, timestep=self.template.timestep / self.substeps,
                         recompute=recompute)
        next_state = torch.cat([qs[:, -1], vs[:, -1], state[:, self.nq + self.nv:]], dim=1)
        return next_state, self.reward(state, u, next_state)

    def env_action(self, action) -> np.ndarray:
        return np.clip(box_action(action, (self.nu,)), self.ctrl_low, self.ctrl_high)

    def device_sampler(self, device):
        """``(kernel, inputs)`` drawing initial states on ``device``: ``kernel(rng, *inputs, mask, out)`` over the
        worlds (world ``i`` from PCG64 stream ``i``, the numbers :meth:`sample_initial` draws from that stream);
        by default :func:`envs.pcg64.draw_rows` of :meth:`initial_bounds` and :meth:`initial_normal_std`."""
        low, high = self.initial_bounds()
        std = self.initial_normal_std()
        std = np.zeros(len(low)) if std is None else std
        return pcg64.draw_rows, [wp.array(np.asarray(b, dtype=dt), dtype=wt, device=device) for b, dt, wt in (
            (low, np.float64, wp.float64), (high, np.float64, wp.float64), (std, np.float64, wp.float64),
            (pcg64.ZIG_K, np.uint64, wp.uint64), (pcg64.ZIG_W, np.float64, wp.float64),
            (pcg64.ZIG_F, np.float64, wp.float64))]

    def reward(self, state, action, next_state):
        raise NotImplementedError

    # helpers for subclasses
    def split(self, state):
        """``(qpos, qvel, context)`` of ``state``: the task's own context (``context_dim`` columns; the
        ``randomize`` factors after it are not part of it)."""
        c = self.nq + self.nv
        return state[:, :self.nq], state[:, self.nq:c], state[:, c:c + self.context_dim]


def gymnasium_asset(name: str) -> str:
    """Path of one of Gymnasium's MuJoCo model files (``gymnasium/envs/mujoco/assets/<name>.xml``)."""
    import gymnasium

    return os.path.join(os.path.dirname(gymnasium.__file__), "envs", "mujoco", "assets", f"{name}.xml")


class GymnasiumMujocoDynamics(RigidDynamics):
    """A Gymnasium MuJoCo v5 task on its own model file: starts at qpos0 and zero velocity plus
    ``U(-reset_noise_scale, reset_noise_scale)`` on every position and, by ``velocity_noise``, the same uniform
    noise or ``reset_noise_scale * N(0, 1)`` on every velocity (Gymnasium's draws, in its order).

    ``randomize={name: (low, high)}`` (domain randomisation, off by default): every world draws, at each reset, one
    factor per name uniformly in ``[low, high]`` and runs its episode with those parameters of the model scaled by
    it (:data:`RANDOMIZABLE`: ``friction``, ``contact_stiffness``, ``contact_damping``, ``limit_stiffness``,
    ``limit_damping``, ``joint_damping``, ``density`` (mass and inertia)). The factors ride in the state's last
    columns, after the position and velocity noise is drawn (so the start states are Gymnasium's), and are not
    observed: a policy trained this way must do well across the range."""

    reset_noise_default: float
    velocity_noise: str = "uniform"  # or "normal" (HalfCheetah, Ant)

    def __init__(self, device="cpu", reset_noise_scale: float | None = None, randomize: dict | None = None,
                 **overrides):
        noise = self.reset_noise_default if reset_noise_scale is None else reset_noise_scale
        if not (np.isfinite(noise) and noise >= 0):
            raise ValueError(f"reset_noise_scale must be a finite number >= 0, got {noise!r}")
        self.reset_noise_scale = float(noise)
        self.randomize = check_randomize(randomize)
        super().__init__(device=device, **overrides)
        self.state_dim += len(self.randomize)

    def model_file(self) -> str:
        return gymnasium_asset(self.model_name)

    def initial_bounds(self, options=None):
        from diffsim.rigid.state import default_state

        center = torch.cat([default_state(self.template).qpos[0], torch.zeros(self.nv, dtype=torch.float64)])
        center = center.cpu().numpy()
        spread = np.full(self.nq + self.nv, self.reset_noise_scale)
        if self.velocity_noise == "normal":
            spread[self.nq:] = 0.0
        low, high = center - spread, center + spread
        if self.randomize:  # the task's context starts at zero, then one factor per randomised name
            pad = np.zeros(self.context_dim)
            low = np.concatenate([low, pad, [lo for lo, _ in self.randomize.values()]])
            high = np.concatenate([high, pad, [hi for _, hi in self.randomize.values()]])
        return low, high

    def initial_normal_std(self):
        if self.velocity_noise != "normal":
            return None
        std = np.concatenate([np.zeros(self.nq), np.full(self.nv, self.reset_noise_scale)])
        return np.concatenate([std, np.zeros(self.context_dim + len(self.randomize))]) if self.randomize else std


def soft_wall(x: torch.Tensor, soft: float, edge: float) -> torch.Tensor:
    """A training-only wall before a termination edge (the locomotion tasks' ``shaping``): 0 while ``x`` is on
    ``soft``'s side of ``soft``, then ``((x - soft) / (edge - soft))^2``, 1 at ``edge`` (works for either side)."""
    return torch.relu((x - soft) / (edge - soft)) ** 2


def check_randomize(randomize) -> dict:
    """``randomize`` as ``{name: (low, high)}`` in :data:`RANDOMIZABLE`'s order, or a clear error."""
    if randomize is None:
        return {}
    if not isinstance(randomize, dict):
        raise ValueError(f"randomize must be a dict {{name: (low, high)}}, got {type(randomize).__name__}")
    out = {}
    for name in randomize:
        if name not in RANDOMIZABLE:
            raise ValueError(f"randomize: unknown parameter {name!r}; one of {sorted(RANDOMIZABLE)}")
    for name in RANDOMIZABLE:
        if name not in randomize:
            continue
        r = randomize[name]
        try:
            lo, hi = (float(x) for x in r)
        except (TypeError, ValueError):
            raise ValueError(f"randomize[{name!r}] must be a pair (low, high), got {r!r}") from None
        if not (0 < lo <= hi < np.inf):
            raise ValueError(f"randomize[{name!r}] must satisfy 0 < low <= high < inf (scale factors), got {r!r}")
        out[name] = (lo, hi)
    return out


class PlanarLocomotionDynamics(GymnasiumMujocoDynamics):
    """Gymnasium's planar walkers (Hopper, Walker2d; root qpos = x, z, angle): observation
    ``[qpos[1:], clip(qvel, -10, 10)]``, reward ``dx/dt + healthy - ctrl_cost_weight |a|^2`` (v5 defaults: forward
    and healthy weights 1), terminated when not :meth:`healthy` (the subclass's rule)."""

    ctrl_cost_weight: float = 1e-3

    def __init__(self, device="cpu", reset_noise_scale: float | None = None, **overrides):
        super().__init__(device=device, reset_noise_scale=reset_noise_scale, **overrides)
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(self.nq + self.nv - 1,), dtype=np.float32)
        self.dt = self.template.timestep * self.frame_skip

    def healthy(self, state: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def observe(self, state):
        q, v, _ = self.split(state)
        return torch.cat([q[:, 1:], v.clamp(-10.0, 10.0)], dim=1)

    def reward(self, state, action, next_state):
        x_velocity = (next_state[:, 0] - state[:, 0]) / self.dt
        return x_velocity + self.healthy(next_state).to(state.dtype) - self.ctrl_cost_weight * (action ** 2).sum(-1)

    def terminated(self, state):
        return ~self.healthy(state)

    def render_frame(self, state):
        return side_view(float(state[0]), float(state[1]))


class RigidEnv(ClassicEnv):
    """One world of a :class:`RigidDynamics` task."""

    def step(self, action):
        reward = self._transition(action)
        terminated = bool(self.dynamics.terminated(torch.as_tensor(self.state)[None])[0])
        return self._obs(), reward, terminated, False, {}


class RigidVectorEnv(ClassicVectorEnv):
    """All worlds of a :class:`RigidDynamics` task in one rollout per step (next-step autoreset).

    States, step counters and each world's PCG64 generator state stay on the dynamics' device;
    an autoreset draws the world's new initial state there (:func:`envs.pcg64.draw_rows`),
    the numbers a single env seeded like that world draws. Per step only the actions go in and
    ``(obs, reward, terminated, truncated)`` come out.
    """

    def __init__(self, dynamics: RigidDynamics, num_envs: int, max_episode_steps: int, render_mode=None):
        super().__init__(dynamics, num_envs, max_episode_steps, render_mode)
        self._device = runtime.resolve_device(dynamics.device)
        self._torch_device = torch.device(dynamics.device)
        self._rng = wp.zeros((self.num_envs, 4), dtype=wp.uint64, device=self._device)
        self._draw_kernel, self._draw_inputs = dynamics.device_sampler(self._device)
        self._state = None

    @property
    def state(self):
        """Current states ``(num_envs, state_dim)`` float64 (a host copy), or ``None`` before ``reset``."""
        return None if self._state is None else self._state.cpu().numpy()

    def _draw(self, state: torch.Tensor, mask: torch.Tensor) -> None:
        """Overwrite the rows of ``state`` where ``mask``, in place, with fresh initial states."""
        with runtime.torch_stream(state.device):
            wp.launch(self._draw_kernel, self.num_envs,
                      inputs=[self._rng, *self._draw_inputs, wp.from_torch(mask, dtype=wp.bool),
                              wp.from_torch(state, dtype=wp.float64)], device=self._device)

    def reset(self, *, seed=None, options=None):
        given = self._given_states(options)
        streams = self._stream_states(seed, self._state is not None)
        if streams is not None:
            self._rng.assign(streams)
        n, dev = self.num_envs, self._torch_device
        if given is None:
            state = torch.empty(n, self.dynamics.state_dim, dtype=torch.float64, device=dev)
            self._draw(state, torch.ones(n, dtype=torch.bool, device=dev))
        else:
            state = torch.as_tensor(given, device=dev)
        self._state = state
        self._steps = torch.zeros(n, dtype=torch.int64, device=dev)
        self._autoreset = torch.zeros(n, dtype=torch.bool, device=dev)
        with torch.no_grad():
            obs = self.dynamics.observe(state)
        return obs.cpu().numpy().astype(np.float32), {}

    def _actions(self, actions):
        a = box_action(actions, (self.num_envs, self.dynamics.nu), "actions")
        return np.clip(a, self.dynamics.ctrl_low, self.dynamics.ctrl_high)

    def step(self, actions):
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        u = torch.as_tensor(self._actions(actions), device=self._torch_device)
        with torch.no_grad():
            state, reward = self.dynamics.transition(self._state, u)
            state = state.contiguous()
            term = self.dynamics.terminated(state)
            # worlds that ended on the previous step start afresh now (Gymnasium's next-step autoreset)
            resetting = self._autoreset
            self._draw(state, resetting)
            steps = torch.where(resetting, 0, self._steps + 1)
            reward = torch.where(resetting, 0.0, reward)
            term = term & ~resetting
            trunc = (steps >= self.max_episode_steps) & ~resetting
            obs = self.dynamics.observe(state)
        self._state, self._steps, self._autoreset = state, steps, term | trunc
        return (obs.cpu().numpy().astype(np.float32), reward.cpu().numpy(), term.cpu().numpy(), trunc.cpu().numpy(),
                {})
