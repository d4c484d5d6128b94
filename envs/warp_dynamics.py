"""Classic-control dynamics written as Warp functions, and the device-resident vector env built on them.

An env gives three ``@wp.func``s over fixed-size float64 vectors:

* ``dynamics(state, action, params) -> (next_state, reward)``,
* ``observe(state) -> obs``,
* ``terminated(state) -> bool``,

and :func:`build_kernels` turns them into every kernel the env needs, so each piece of
physics is written once:

* ``transition``, ``observe`` and ``step`` (all four outputs of the functional step in
  one launch) -- differentiable, for the torch interface (:class:`WarpDynamics`, each
  wrapped as a :class:`diffsim.bridge.KernelOp`: no tape, recorded launches);
* ``terminated`` -- a flag per world;
* ``vector_step`` -- the whole vector-env step of all worlds in one launch: Gymnasium's
  next-step autoreset (a world that ended on the previous step starts from a fresh
  initial state and reports reward 0, not terminated, not truncated), dynamics, step
  counter and truncation, termination, float32 observation;
* ``draw_starts`` -- fresh initial states for every world (a reset without a seed).

Initial states are uniform between the env's bounds, drawn in the kernel from each world's
own NumPy PCG64 stream (:mod:`envs.pcg64`): the numbers the single env seeded like that
world draws on the host. State, counters and generator states stay in Warp arrays on the
env's device between steps.
"""

from dataclasses import dataclass

import numpy as np
import torch
import warp as wp

from diffsim import parallel, runtime
from diffsim.bridge import KernelOp
from envs import pcg64
from envs.core import ClassicDynamics, ClassicVectorEnv


@dataclass(frozen=True)
class ClassicKernels:
    state_type: type
    action_type: type
    obs_type: type
    obs32_type: type
    transition: KernelOp  # the differentiable kernels, as torch-facing ops
    observe: KernelOp
    step: KernelOp
    terminated: wp.Kernel
    vector_step: wp.Kernel
    draw_starts: wp.Kernel
    start_in_float32: bool


def build_kernels(dynamics, observe, terminated, state_dim: int, action_dim: int, obs_dim: int,
                  start_in_float32: bool = False) -> ClassicKernels:
    """Every kernel of one env from its three ``@wp.func``s (call at import time). ``start_in_float32``:
    initial states are rounded to float32 (as Gymnasium's Acrobot draws them)."""
    VS = wp.types.vector(state_dim, wp.float64)
    VA = wp.types.vector(action_dim, wp.float64)
    VO = wp.types.vector(obs_dim, wp.float64)
    VO32 = wp.types.vector(obs_dim, wp.float32)

    @wp.kernel(module="unique")
    def transition_kernel(state: wp.array(dtype=VS), action: wp.array(dtype=VA), params: wp.array(dtype=wp.float64),
                          next_state: wp.array(dtype=VS), reward: wp.array(dtype=wp.float64)):
        i = wp.tid()
        s, r = dynamics(state[i], action[i], params)
        next_state[i] = s
        reward[i] = r

    @wp.kernel(module="unique")
    def step_kernel(state: wp.array(dtype=VS), action: wp.array(dtype=VA), params: wp.array(dtype=wp.float64),
                    next_state: wp.array(dtype=VS), obs: wp.array(dtype=VO), reward: wp.array(dtype=wp.float64),
                    term: wp.array(dtype=wp.float64)):
        i = wp.tid()
        s, r = dynamics(state[i], action[i], params)
        next_state[i] = s
        obs[i] = observe(s)
        reward[i] = r
        term[i] = wp.where(terminated(s), wp.float64(1.0), wp.float64(0.0))  # a flag; its gradient is unused

    @wp.kernel(module="unique")
    def observe_kernel(state: wp.array(dtype=VS), obs: wp.array(dtype=VO)):
        i = wp.tid()
        obs[i] = observe(state[i])

    @wp.kernel(module="unique", enable_backward=False)
    def terminated_kernel(state: wp.array(dtype=VS), out: wp.array(dtype=wp.bool)):
        i = wp.tid()
        out[i] = terminated(state[i])

    @wp.func
    def draw_start(rng: wp.array2d(dtype=wp.uint64), i: int, low: VS, high: VS):
        """World ``i``'s next initial state: ``Generator.uniform(low, high)`` of its stream, component by component."""
        s = VS()
        for j in range(wp.static(state_dim)):
            u = pcg64.next_double(rng, i)
            x = low[j] + (high[j] - low[j]) * u
            if wp.static(start_in_float32):
                x = wp.float64(wp.float32(x))
            s[j] = x
        return s

    @wp.kernel(module="unique", enable_backward=False)
    def draw_starts(rng: wp.array2d(dtype=wp.uint64), low: VS, high: VS, state: wp.array(dtype=VS)):
        i = wp.tid()
        state[i] = draw_start(rng, i, low, high)

    @wp.kernel(module="unique", enable_backward=False)
    def vector_step(state: wp.array(dtype=VS), action: wp.array(dtype=VA), params: wp.array(dtype=wp.float64),
                    rng: wp.array2d(dtype=wp.uint64), low: VS, high: VS, max_steps: int,
                    steps: wp.array(dtype=wp.int32),
                    autoreset: wp.array(dtype=wp.bool), obs: wp.array(dtype=VO32),
                    reward: wp.array(dtype=wp.float64), term: wp.array(dtype=wp.bool),
                    trunc: wp.array(dtype=wp.bool), w0: int):
        i = wp.tid() + w0  # worlds [w0, w0 + launch size): a block of the vector env
        s = state[i]
        r = wp.float64(0.0)
        done = False
        cut = False
        n = int(0)
        if autoreset[i]:
            s = draw_start(rng, i, low, high)
        else:
            s, r = dynamics(s, action[i], params)
            n = int(steps[i]) + 1
            done = terminated(s)
            cut = n >= max_steps
        state[i] = s
        steps[i] = wp.int32(n)
        autoreset[i] = done or cut
        reward[i] = r
        term[i] = done
        trunc[i] = cut
        o = observe(s)
        o32 = VO32()
        for j in range(wp.static(obs_dim)):
            o32[j] = wp.float32(o[j])
        obs[i] = o32

    f64 = wp.float64
    not_params = (True, True, False)
    return ClassicKernels(VS, VA, VO, VO32,
                          transition=KernelOp(transition_kernel, (VS, VA, f64), (VS, f64), not_params),
                          observe=KernelOp(observe_kernel, (VS,), (VO,)),
                          step=KernelOp(step_kernel, (VS, VA, f64), (VS, VO, f64, f64), not_params),
                          terminated=terminated_kernel, vector_step=vector_step, draw_starts=draw_starts,
                          start_in_float32=start_in_float32)


def _warp_device(t: torch.Tensor) -> str:
    return runtime.resolve_device(str(t.device))


class WarpDynamics(ClassicDynamics):
    """A :class:`ClassicDynamics` whose physics are the Warp functions behind ``kernels``.

    Subclasses set ``kernels = build_kernels(...)`` and ``obs_dim`` besides what
    :class:`ClassicDynamics` asks for.
    """

    kernels: ClassicKernels
    obs_dim: int

    @property
    def start_in_float32(self) -> bool:
        """Whether initial states are rounded to float32 (fixed when the kernels were built)."""
        return self.kernels.start_in_float32

    def _apply(self, op, state, action, params):
        params = self.params if params is None else params
        return op(state.to(torch.float64), action.to(torch.float64), params.to(torch.float64))

    def transition(self, state: torch.Tensor, action: torch.Tensor, params: torch.Tensor | None = None,
                   recompute: bool = False):
        """See :meth:`ClassicDynamics.transition`; the op keeps only its inputs, so ``recompute`` changes nothing."""
        return self._apply(self.kernels.transition, state, action, params)

    def step(self, state: torch.Tensor, action: torch.Tensor, params: torch.Tensor | None = None):
        """Functional step ``(next_state, obs, reward, terminated)`` in one launch; see :class:`ClassicDynamics`."""
        self._check_step_shapes(state, action)
        next_state, obs, reward, term = self._apply(self.kernels.step, state, action, params)
        return next_state, obs, reward, term.detach() > 0.5

    def observe(self, state: torch.Tensor) -> torch.Tensor:
        """Observations ``(B, obs_dim)`` float64 of states ``(B, state_dim)``, differentiable."""
        return self.kernels.observe(state.to(torch.float64))[0]

    def terminated(self, state: torch.Tensor) -> torch.Tensor:
        """Termination flags ``(B,)`` (bool) of states ``(B, state_dim)``."""
        s = state.detach().to(torch.float64).contiguous()
        device = _warp_device(s)
        out = wp.empty(s.shape[0], dtype=wp.bool, device=device)
        with runtime.torch_stream(s.device):
            wp.launch(self.kernels.terminated, s.shape[0], inputs=[wp.from_torch(s, dtype=self.kernels.state_type)],
                      outputs=[out], device=device)
        return wp.to_torch(out).clone()


class WarpVectorEnv(ClassicVectorEnv):
    """All worlds of a :class:`WarpDynamics` stepped by one ``vector_step`` launch (on the CPU, one per
    core for large batches); nothing leaves the device but the actions coming in and the
    ``(obs, reward, terminated, truncated)`` going out. World ``i`` seeded ``seed + i`` draws its
    initial states (at reset and at every autoreset) as a single env seeded so would."""

    # a classic-control step is ~20 ns per world: a second thread pays its hand-off from a few thousand worlds
    MIN_WORLDS_PER_THREAD = 4096
    SHARE_HOST_MEMORY = True  # on the CPU, NumPy views of the Warp arrays (False: the host mirrors a GPU uses)

    def __init__(self, dynamics: WarpDynamics, num_envs: int, max_episode_steps: int, render_mode=None):
        super().__init__(dynamics, num_envs, max_episode_steps, render_mode)
        k, n = dynamics.kernels, self.num_envs
        self._device = runtime.resolve_device(dynamics.device)
        self._on_cpu = self._device == "cpu" and self.SHARE_HOST_MEMORY

        def zeros(dtype, shape=n):
            return wp.zeros(shape, dtype=dtype, device=self._device)

        self._wp = dict(state=zeros(k.state_type), action=zeros(k.action_type), rng=zeros(wp.uint64, (n, 4)),
                        steps=zeros(wp.int32), autoreset=zeros(wp.bool), obs=zeros(k.obs32_type),
                        reward=zeros(wp.float64), term=zeros(wp.bool), trunc=zeros(wp.bool))
        self._params = wp.from_torch(dynamics.params.contiguous())
        # on the CPU the Warp arrays *are* the host buffers (zero-copy NumPy views)
        self._view = {name: a.numpy() for name, a in self._wp.items()} if self._on_cpu else None
        self._seeded = False
        low, high = (k.state_type(*map(float, b)) for b in dynamics.initial_bounds())
        a = self._wp  # every argument is a persistent array: record the launches once, replay them each step
        args = [a["state"], a["action"], self._params, a["rng"], low, high, int(max_episode_steps), a["steps"],
                a["autoreset"], a["obs"], a["reward"], a["term"], a["trunc"]]
        # on the CPU, large batches step as blocks of worlds on all cores (diffsim.parallel)
        self._step_cmds = [wp.launch(k.vector_step, hi - lo, inputs=[*args, lo], device=self._device,
                                     record_tape=False, record_cmd=True)
                           for lo, hi in parallel.blocks(n, self._device, self.MIN_WORLDS_PER_THREAD)]
        self._draw_cmd = wp.launch(k.draw_starts, n, inputs=[a["rng"], low, high, a["state"]], device=self._device,
                                   record_tape=False, record_cmd=True)

    def _upload(self, name, values):
        if self._on_cpu:
            self._view[name][...] = values
        else:
            self._wp[name].assign(np.ascontiguousarray(values, dtype=np.uint64 if name == "rng" else np.float64))

    def _download(self, name) -> np.ndarray:
        return self._view[name].copy() if self._on_cpu else self._wp[name].numpy().copy()

    @property
    def state(self):
        """Current states ``(num_envs, state_dim)`` float64 (a copy), or ``None`` before ``reset``."""
        return self._download("state") if self._seeded else None

    @state.setter
    def state(self, value):
        raise AttributeError("set states through reset(options={'state': ...})")

    @property
    def _steps_host(self) -> np.ndarray:
        return self._download("steps")

    def reset(self, *, seed=None, options=None):
        given = self._given_states(options)
        streams = self._stream_states(seed, self._seeded)
        if streams is not None:
            self._upload("rng", streams)
            self._seeded = True
        if given is None:
            self._draw_cmd.launch()
        else:
            self._upload("state", given)
        self._wp["steps"].zero_()
        self._wp["autoreset"].zero_()
        state = self._download("state")
        obs = self.dynamics.observe(torch.as_tensor(state, device=self.dynamics.device))
        return obs.cpu().numpy().astype(np.float32), {}

    def step(self, actions):
        if not self._seeded:
            raise RuntimeError("call reset() before step()")
        self._upload("action", self._actions(actions))
        parallel.launch_commands(self._step_cmds)
        obs, reward = self._download("obs"), self._download("reward")
        term, trunc = self._download("term"), self._download("trunc")
        return obs, reward, term, trunc, {}
