"""First-order policy optimisation through the differentiable simulator: APG, SHAC and SAPO.

One loop, three algorithms (as the SHAC/SAPO reference code does it, ``algo`` switches parts on):

* every iteration rolls ``num_envs`` worlds ``window`` steps forward with the actor in the loop,
  starting from the detached last state of the previous window (truncated back-propagation
  through time; episodes restart after ``train_episode_steps`` or on termination, and the graph is cut
  there), and back-propagates the return into the actor through the simulator;
* ``apg``: the loss is minus the discounted window return (Brax's APG);
* ``shac``: each segment's return is completed by ``gamma^k V(s_end)`` from a learned critic
  (0 when the episode terminated, ``V`` of the last observation when it was only truncated), whose
  gradient also flows through the simulator; the critic is fitted to TD(lambda) targets, 16
  passes of 4 shuffled minibatches per iteration, against a soft-updated target critic
  (Xu et al., ICLR 2022; ``NVlabs/DiffRL``);
* ``sapo``: SHAC with a maximum-entropy objective: the reward becomes ``r + alpha h`` with ``h`` the
  normalised entropy estimate ``(-log pi(a|s) - H_target) / (2 |H_target|)`` of each taken action,
  so its gradient also flows back through the simulator; ``alpha`` is tuned to hold the entropy
  at ``H_target = -0.5 dim(A)``; two critics (the mean for the actor, the min for targets) and no
  target network (Xing et al., ICLR 2025; ``etaoxing/mineral``).

With ``reference="mujoco"`` (Gymnasium MuJoCo tasks, :mod:`controllers.reference`) diffsim supplies only the
actor's gradient over each window: after the actor's update the window is run again in MuJoCo from the same start
states, without gradients, and that run is what the critic fits and where the next window starts; the policy
trains on the states it visits in the engine it is meant for, and its critic values MuJoCo's returns.

The actor samples its actions during training (reparameterised) and acts with its mean when
evaluated. Observations are normalised with running statistics that stay fixed within a window.
Adam with betas (0.7, 0.95), learning rates decayed linearly to ``min_lr``, gradients clipped
by global norm; a non-finite loss or gradient stops training with a message (the last
good checkpoint is kept). Each log point writes ``checkpoint.pt`` (everything needed to continue
bit for bit, loaded with ``weights_only=True``) and ``log.csv``.
"""
from __future__ import annotations

import csv
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch

from controllers import distributed
from controllers.alpha_order import alpha_order
from controllers.policies import Actor, Critic, squash

ALGOS = ("apg", "shac", "sapo")
GRADIENTS = ("first", "alpha")
LOG_FIELDS = ("iteration", "env_steps", "window_return", "eval_return", "alpha")


@dataclass(frozen=True)
class TrainConfig:
    env_id: str = "diffsim/Pendulum-v0"
    algo: str = "shac"
    num_envs: int = 64
    window: int = 32
    episode_steps: int = 200       # the env's time limit (evaluation episodes)
    train_episode_steps: int | None = None  # training episodes restart after this many steps (None: episode_steps);
    #                                         shorter ones practise the start (a swing-up) more often, the critic
    #                                         values what a truncation cuts off
    iterations: int = 500
    actor_lr: float = 2e-3
    critic_lr: float = 1e-3
    min_lr: float = 1e-5           # both learning rates decay linearly to this at the last iteration
    gamma: float = 0.99
    lam: float = 0.95              # TD(lambda) of the critic targets
    grad_clip: float = 1.0         # global gradient norm (actor and critic)
    world_clip: float | None = None  # per step, each world's action gradient is capped at world_clip x the median
    #                                  world's norm (None: off): a few worlds whose gradients explode through stiff
    #                                  contacts would otherwise set the whole batch's direction
    hidden: tuple = (64, 64)
    critic_hidden: tuple = (64, 64)
    activation: str = "elu"
    state_std: bool = False        # per-state log-std head (SAPO) instead of one learned log-std
    log_std_init: float = -1.0
    mean_init_scale: float = 1.0   # the actor's mean layer starts at this multiple of PyTorch's default init (near 0:
    #                                the policy starts at the action box's centre; controllers.policies.Actor)
    stochastic: bool = True        # sample actions while training (False: act with the mean)
    mean_bound: float = 2.0        # pre-squash means beyond +-mean_bound are penalised ...
    bound_coef: float = 1.0        # ... by bound_coef * excess^2 (tanh saturates there and its gradient dies)
    critic_iterations: int = 16
    critic_float32: bool = True    # the critic computes in float32 (faster); False: float64
    critic_minibatches: int = 4
    target_keep: float = 0.2       # target critic <- keep * target + (1 - keep) * critic (SHAC)
    alpha_init: float = 1.0        # SAPO: entropy temperature, tuned with alpha_lr
    alpha_lr: float = 5e-3
    reward_scale: float = 1.0      # rewards are multiplied by this for training only
    shaping: bool = True           # add the env's training-only ``shaping`` term to its reward
    gradient: str = "first"        # "alpha": APG on a one-step task with the alpha-order mix of first- and
    samples_per_state: int = 4     # zeroth-order estimates (controllers.alpha_order), from this many draws per state
    seed: int = 0
    eval_episodes: int = 32
    friction_smoothing: float | None = None  # contact tasks: the friction's slip speed (m/s) of the env trained on
    #                                          (None: the env's default; see diffsim.rigid.Model.friction_smoothing)
    substeps: int | None = None    # rigid tasks: diffsim steps per MuJoCo step of the env trained on (None: the env's)
    integrator: str | None = None  # rigid tasks: what each of those steps runs, "rk4", "euler" or
    # "implicit_contacts" (diffsim.rigid.rollout; None: the env's)
    structure: str | None = None   # rigid tasks: "generated" or "loops" (diffsim.rigid.Model.structure; None: "auto")
    randomize: dict | None = None  # Gymnasium MuJoCo tasks: {parameter: (low, high)} scale factors drawn per world
    #                                and episode in the env trained on (envs.rigid_core.RANDOMIZABLE)
    reference: str | None = None   # Gymnasium MuJoCo tasks, "mujoco": each window starts where the policy's own
    #                                actions took MuJoCo's copy of the task, and the critic learns MuJoCo's returns;
    #                                diffsim gives the actor's gradient over the window (controllers.reference)

    def __post_init__(self):
        if self.algo not in ALGOS:
            raise ValueError(f"algo must be one of {ALGOS}, got {self.algo!r}")
        if self.gradient not in GRADIENTS:
            raise ValueError(f"gradient must be one of {GRADIENTS}, got {self.gradient!r}")
        if self.gradient == "alpha":
            if self.algo != "apg" or self.window != 1 or self.episode_steps != 1:
                raise ValueError("gradient='alpha' needs algo='apg', window=1 and episode_steps=1 (a one-step task), "
                                 f"got algo={self.algo!r}, window={self.window}, episode_steps={self.episode_steps}")
            if self.samples_per_state < 2 or self.num_envs % self.samples_per_state:
                raise ValueError(f"samples_per_state must be >= 2 and divide num_envs={self.num_envs}, "
                                 f"got {self.samples_per_state}")
        for name in ("num_envs", "window", "episode_steps", "iterations", "critic_iterations",
                     "critic_minibatches", "eval_episodes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("actor_lr", "critic_lr", "alpha_lr", "grad_clip", "reward_scale"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if not 0 <= self.mean_init_scale < math.inf:
            raise ValueError(f"mean_init_scale must be a finite factor >= 0, got {self.mean_init_scale!r}")
        if self.world_clip is not None and not 0 < self.world_clip < math.inf:
            raise ValueError(f"world_clip must be None or a factor > 0, got {self.world_clip!r}")
        if self.friction_smoothing is not None and not 0 < self.friction_smoothing < math.inf:
            raise ValueError("friction_smoothing must be None or a slip speed > 0 (m/s), "
                             f"got {self.friction_smoothing!r}")
        if self.substeps is not None and self.substeps < 1:
            raise ValueError(f"substeps must be None or >= 1, got {self.substeps!r}")
        if self.integrator is not None or self.structure is not None:
            from diffsim.rigid.model import STRUCTURES
            from diffsim.rigid.rollout import INTEGRATORS

            for name, accepted in (("integrator", INTEGRATORS), ("structure", STRUCTURES)):
                if getattr(self, name) is not None and getattr(self, name) not in accepted:
                    raise ValueError(f"{name} must be None or one of {accepted}, got {getattr(self, name)!r}")
        if self.randomize is not None:
            from envs.rigid_core import check_randomize

            object.__setattr__(self, "randomize", check_randomize(self.randomize) or None)  # frozen: normalised
        if self.reference is not None:
            from controllers.reference import REFERENCES

            if self.reference not in REFERENCES:
                raise ValueError(f"reference must be None or one of {REFERENCES}, got {self.reference!r}")
            if self.gradient != "first":
                raise ValueError(f"reference={self.reference!r} needs gradient='first', got {self.gradient!r}")
        if self.train_episode_steps is not None and self.train_episode_steps < 1:
            raise ValueError(f"train_episode_steps must be >= 1 or None, got {self.train_episode_steps}")
        for name in ("gamma", "lam", "target_keep"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")

    def as_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    def env_kwargs(self) -> dict:
        """Keywords for ``envs.make_functional(env_id, ...)``: the env this configuration trains on."""
        names = ("friction_smoothing", "substeps", "integrator", "structure", "randomize")
        return {k: getattr(self, k) for k in names if getattr(self, k) is not None}

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items() if k in names})


def action_bounds(dyn):
    """The box the actor's actions live in (a discrete env's differentiable step takes ``[-1, 1]``)."""
    if hasattr(dyn, "ctrl_low"):
        return dyn.ctrl_low, dyn.ctrl_high
    space = dyn.action_space
    if hasattr(space, "low"):
        return space.low.astype("float64"), space.high.astype("float64")
    return [-1.0], [1.0]


def make_actor(dyn, cfg: TrainConfig) -> Actor:
    obs_dim = dyn.observe(dyn.reset(1, torch.Generator().manual_seed(0))).shape[-1]
    low, high = action_bounds(dyn)
    return Actor(obs_dim, dyn.action_dim, low, high, hidden=cfg.hidden, activation=cfg.activation,
                 state_std=cfg.state_std, log_std_init=cfg.log_std_init, mean_init_scale=cfg.mean_init_scale)


def closed_loop(dyn, act, state: torch.Tensor, steps: int):
    """Run ``act(state (B, S)) -> action (B, A)`` in closed loop on ``dyn`` (no gradients through the steps):
    ``(returns (B,), states (K + 1, B, S))``, undiscounted; a world stops collecting reward when it terminates,
    and the loop stops early (``K < steps``) once every world has."""
    states, total = [state], torch.zeros(state.shape[0], dtype=torch.float64, device=state.device)
    alive = torch.ones(state.shape[0], dtype=torch.bool, device=state.device)
    for _ in range(steps):
        action = act(state)
        with torch.no_grad():
            state, _, reward, term = dyn.step(state, action.detach())
        total += reward * alive
        alive &= ~term
        states.append(state)
        if not alive.any():
            break
    return total, torch.stack(states)


def evaluate(dyn, policy, episodes: int = 32, steps: int = 200, seed: int = 123) -> float:
    """Mean undiscounted return of the deterministic ``policy`` over ``episodes`` worlds of the
    differentiable env (start states from ``seed``; a world stops collecting at termination)."""
    def act(state):
        with torch.no_grad():
            return policy(dyn.observe(state))

    returns, _ = closed_loop(dyn, act, dyn.reset(episodes, torch.Generator().manual_seed(seed)), steps)
    return float(returns.mean())


def clip_rows(grad: torch.Tensor, factor: float) -> torch.Tensor:
    """``grad (B, A)`` with every row's norm capped at ``factor`` times the median row norm (no host sync)."""
    norms = grad.norm(dim=-1)
    cap = factor * norms.median()
    return grad * torch.clamp(cap / norms.clamp_min(torch.finfo(grad.dtype).tiny), max=1.0).unsqueeze(-1)


def td_lambda(rewards, next_values, ends, gamma: float, lam: float):
    """TD(lambda) targets ``(T, N)``: ``G_t = r_t + gamma ((1 - lam) V'_t + lam G_{t+1})``, with
    ``G_{t+1} = V'_t`` where the segment ends at ``t`` (``ends``; ``V'`` already 0 after a termination)."""
    targets = torch.empty_like(rewards)
    g = next_values[-1]
    for t in reversed(range(rewards.shape[0])):
        g = torch.where(ends[t], next_values[t], (1 - lam) * next_values[t] + lam * g)
        g = rewards[t] + gamma * g
        targets[t] = g
    return targets


class _WindowObjective(torch.nn.Module):
    """The actor's window loss as one module call, so that DistributedDataParallel averages the actor's
    gradients once per window (the actor is called at every step of it)."""

    def __init__(self, trainer):
        super().__init__()
        self.actor = trainer.actor
        self.__dict__["trainer"] = trainer  # not a submodule

    def forward(self):
        return self.trainer.actor_loss()


class Trainer:
    """Holds everything a run needs; :meth:`train` runs it to ``cfg.iterations``.

    ``ctx`` (:func:`controllers.distributed.init`): under ``torchrun`` this process simulates its share of the
    ``cfg.num_envs`` worlds on ``ctx.device`` and the ranks' gradients are averaged (see
    :mod:`controllers.distributed`); by default one process does everything."""

    def __init__(self, cfg: TrainConfig, dyn, ctx: distributed.Context | None = None):
        self.cfg, self.dyn = cfg, dyn
        self.ctx = ctx or distributed.Context()
        self.worlds = self.ctx.share(cfg.num_envs)  # this rank's worlds
        self.device = torch.device(getattr(dyn, "device", "cpu"))
        torch.manual_seed(cfg.seed)
        self.actor = make_actor(dyn, cfg).to(self.device)
        betas = (0.7, 0.95)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=cfg.actor_lr, betas=betas, foreach=True)
        self.critic = self.target = self.critic_opt = None
        if cfg.algo != "apg":
            obs_dim = self.actor.norm.mean.shape[0]
            n = 2 if cfg.algo == "sapo" else 1
            dtype = torch.float32 if cfg.critic_float32 else torch.float64
            self.critic = Critic(obs_dim, cfg.critic_hidden, n=n, activation=cfg.activation, dtype=dtype)
            self.critic.to(self.device)
            self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=cfg.critic_lr, betas=betas, foreach=True)
            if cfg.algo == "shac":
                self.target = Critic(obs_dim, cfg.critic_hidden, n=n, activation=cfg.activation, dtype=dtype)
                self.target.to(self.device)
                self.target.load_state_dict(self.critic.state_dict())
        self.log_alpha = torch.tensor(math.log(cfg.alpha_init), dtype=torch.float64, device=self.device,
                                      requires_grad=True)
        self.alpha_opt = torch.optim.Adam([self.log_alpha], lr=cfg.alpha_lr, betas=betas)
        self.target_entropy = -0.5 * dyn.action_dim
        self.gen = torch.Generator().manual_seed(cfg.seed)  # on the CPU: the same numbers on every device
        self.iteration, self.rows = 0, []
        self.state = self._starts(1)[0]
        self.age = torch.zeros(self.state.shape[0], dtype=torch.int64, device=self.device)
        self.reference = None
        if cfg.reference is not None:
            from controllers.reference import MujocoWorlds

            self.reference = MujocoWorlds(dyn, self.state.shape[0])
        self.objective = distributed.wrap(self.ctx, _WindowObjective(self))
        self.critic_ddp = distributed.wrap(self.ctx, self.critic) if self.critic is not None else None

    # --- one iteration ------------------------------------------------------------------------
    def _values(self, net, obs, reduce):
        v = net(self.actor.norm(obs))
        return v.mean(0) if reduce == "mean" else v.min(0).values

    def _saturation(self, mu):
        """``(B,)``: the bound penalty of pre-squash means beyond ``+-mean_bound``."""
        return (torch.relu(mu.abs() - self.cfg.mean_bound) ** 2).sum(-1)

    def _noise(self, mu):
        """Standard normal noise like ``mu``: every world's drawn from the run's generator, this rank's kept."""
        eps = torch.randn((self.cfg.num_envs, mu.shape[1]), generator=self.gen, dtype=mu.dtype)[self.worlds]
        return eps.to(mu.device)

    def _training_reward(self, s, action, s_next, reward):
        """The env's reward plus its training-only ``shaping`` term (if on), times ``reward_scale``."""
        extra = self.dyn.shaping(s, action, s_next) if self.cfg.shaping else None
        return (reward if extra is None else reward + extra) * self.cfg.reward_scale

    def _entropy_bonus(self, log_prob):
        """SAPO's normalised entropy estimate ``h (B,)`` of the taken actions (see the module docstring)."""
        return (-log_prob - self.target_entropy) / (2 * abs(self.target_entropy))

    def _episode_ends(self, term, age, t: int):
        """``(restart, end)`` at step ``t`` of a window: worlds whose episode restarts (terminated, or ``age``
        reached the training episode length), and worlds whose return segment ends (a restart or the window's end)."""
        restart = term | (age >= (self.cfg.train_episode_steps or self.cfg.episode_steps))
        return restart, restart | (t == self.cfg.window - 1)

    def _act(self, obs):
        """``(action, log_prob, saturation)``: ``saturation (B,)`` is the bound penalty of the pre-squash mean."""
        mu, log_std = self.actor.distribution(obs)
        saturation = self._saturation(mu)
        if self.cfg.stochastic:
            return (*self.actor.draw(mu, log_std, eps=self._noise(mu), log_prob=self.cfg.algo == "sapo"),
                    saturation)
        zeros = torch.zeros(mu.shape[0], dtype=mu.dtype, device=mu.device)
        return squash(mu, self.actor.low, self.actor.high), zeros, saturation

    def _starts(self, count: int) -> torch.Tensor:
        """``(count, worlds, state_dim)``: ``count`` start states for each of this rank's worlds, drawn for all
        worlds (the same numbers on any number of ranks); with ``gradient="alpha"`` each state is shared by
        ``samples_per_state`` consecutive worlds."""
        k = self.cfg.samples_per_state if self.cfg.gradient == "alpha" else 1
        n = self.cfg.num_envs // k
        s = self.dyn.reset(count * n, self.gen).reshape(count, n, -1)
        return s.repeat_interleave(k, dim=1)[:, self.worlds] if k > 1 else s[:, self.worlds]

    def _alpha_order_loss(self):
        """A one-step task's surrogate loss whose gradient is the alpha-order policy gradient
        (:mod:`controllers.alpha_order`); ``(loss, window)`` as :meth:`actor_loss`."""
        cfg, dyn = self.cfg, self.dyn
        s = self.state.detach()
        obs = dyn.observe(s)
        mu, log_std = self.actor.distribution(obs)
        eps = self._noise(mu)
        z = torch.addcmul(mu.detach(), log_std.detach().exp(), eps).requires_grad_(True)
        action = squash(z, self.actor.low, self.actor.high)
        s_next, _, reward, _ = dyn.step(s, action)
        r = self._training_reward(s, action, s_next, reward)
        (grad_z,) = torch.autograd.grad(r.sum(), z)
        g_mu, g_log_std, _ = alpha_order(r.detach(), grad_z, eps, log_std.detach(), cfg.samples_per_state)
        surrogate = (g_mu * mu).sum() + (g_log_std * log_std).sum()
        window = dict(obs=obs.detach()[None], state=self._starts(1)[0], age=torch.zeros_like(self.age),
                      mean_reward=reward.detach().mean())
        return -surrogate / s.shape[0] + cfg.bound_coef * self._saturation(mu).mean(), window

    def actor_loss(self):
        """Roll the window out with the actor in the loop: ``(loss, window)``, the loss differentiable
        w.r.t. the actor (through the simulator), ``window`` what the critic and the next window need."""
        if self.cfg.gradient == "alpha":
            return self._alpha_order_loss()
        cfg, dyn = self.cfg, self.dyn
        n, horizon, dev = self.state.shape[0], cfg.window, self.device
        alpha = float(self.log_alpha.detach().exp())
        entropy_on = cfg.algo == "sapo"
        ret = torch.zeros(n, dtype=torch.float64, device=dev)
        disc = torch.ones(n, dtype=torch.float64, device=dev)
        raw = torch.zeros((), dtype=torch.float64, device=dev)
        bound = torch.zeros((), dtype=torch.float64, device=dev)
        s, age = self.state.detach(), self.age.clone()
        obs = dyn.observe(s)
        # the start states of episodes restarting in this window, drawn and observed in one go
        fresh = self._starts(horizon)
        fresh_obs = dyn.observe(fresh.reshape(n * horizon, -1)).reshape(horizon, n, -1)
        buf = {k: [] for k in ("obs", "rewards", "next_obs", "term", "ends", "entropy")}
        segments = []
        for t in range(horizon):  # no host round trip: every branch is a torch.where
            action, log_prob, saturation = self._act(obs)
            if cfg.world_clip is not None and action.requires_grad:
                action.register_hook(lambda g: clip_rows(g, cfg.world_clip))
            bound = bound + saturation.mean()
            s_next, obs_next, reward, term = dyn.step(s, action)
            raw = raw + reward.detach().mean()
            r = self._training_reward(s, action, s_next, reward)
            if entropy_on:
                r = r + alpha * self._entropy_bonus(log_prob)
                buf["entropy"].append(-log_prob.detach())
            ret = ret + disc * r
            disc = disc * cfg.gamma
            age = age + 1
            restart, end = self._episode_ends(term, age, t)
            segments.append((torch.where(end, ret, 0.0), torch.where(end & ~term, disc, 0.0), obs_next))
            ret = torch.where(end, 0.0, ret)
            disc = torch.where(end, 1.0, disc)
            for k, v in (("obs", obs), ("rewards", r), ("next_obs", obs_next), ("term", term), ("ends", end)):
                buf[k].append(v.detach())
            s = torch.where(restart[:, None], fresh[t], s_next)  # the graph is cut at a restart
            obs = torch.where(restart[:, None], fresh_obs[t], obs_next)
            age = torch.where(restart, 0, age)
        # each segment's return, completed by gamma^k V(s_end) (0 after a termination): one critic call
        returns, tail_weights, ends_obs = (torch.stack(x) for x in zip(*segments))
        total = returns.sum()
        if self.critic is not None:
            total = total + (tail_weights * self._values(self.critic, ends_obs, "mean")).sum()
        window = {k: torch.stack(v) for k, v in buf.items() if v}
        window.update(state=s.detach(), age=age, mean_reward=raw / horizon)
        return -total / (n * horizon) + self.cfg.bound_coef * bound / horizon, window

    def _reference_window(self):
        """With ``cfg.reference``: the window run again, from the same start states and with the updated actor
        (sampling its actions), in the reference worlds (:mod:`controllers.reference`), without gradients. It
        replaces diffsim's window as what the critic fits and the observation statistics see, and its last states
        start the next window."""
        cfg, dyn = self.cfg, self.dyn
        alpha = float(self.log_alpha.detach().exp())
        s, age = self.state.detach(), self.age.clone()
        fresh = self._starts(cfg.window)
        raw = torch.zeros((), dtype=torch.float64, device=self.device)
        buf = {k: [] for k in ("obs", "rewards", "next_obs", "term", "ends", "entropy")}
        with torch.no_grad():
            for t in range(cfg.window):
                obs = dyn.observe(s)
                action, log_prob, _ = self._act(obs)
                s_next = self.reference.step(s, action)
                reward, term = dyn.reward(s, action, s_next), dyn.terminated(s_next)
                raw = raw + reward.mean()
                r = self._training_reward(s, action, s_next, reward)
                if cfg.algo == "sapo":
                    r = r + alpha * self._entropy_bonus(log_prob)
                    buf["entropy"].append(-log_prob)
                age = age + 1
                restart, end = self._episode_ends(term, age, t)
                for k, v in (("obs", obs), ("rewards", r), ("next_obs", dyn.observe(s_next)), ("term", term),
                             ("ends", end)):
                    buf[k].append(v)
                s = torch.where(restart[:, None], fresh[t], s_next)
                age = torch.where(restart, 0, age)
        window = {k: torch.stack(v) for k, v in buf.items() if v}
        window.update(state=s, age=age, mean_reward=raw / cfg.window)
        return window

    def step(self) -> float:
        """One window: actor update, then critic (and temperature) updates. Returns the window's mean
        env reward per world step (with ``cfg.reference``: the reference worlds' window)."""
        cfg, it, ctx = self.cfg, self.iteration, self.ctx
        loss, window = self.objective()
        where = distributed.failure(ctx, bool(torch.isfinite(loss)))
        if where is not None:
            raise FloatingPointError(f"non-finite loss at iteration {it}{where}")
        self.actor_opt.zero_grad()
        loss.backward()  # under torchrun: the ranks' actor gradients averaged (DDP)
        norm = torch.nn.utils.clip_grad_norm_(self.actor.parameters(), cfg.grad_clip)
        if not torch.isfinite(norm):
            raise FloatingPointError(f"non-finite actor gradient at iteration {it}")
        self._set_lr()
        self.actor_opt.step()
        if self.reference is not None:
            window = self._reference_window()
        if self.critic is not None:
            self._fit_critic(window["obs"], window["rewards"], window["next_obs"], window["term"], window["ends"])
        if "entropy" in window:
            entropy = distributed.mean_over_ranks(ctx, window["entropy"].mean())
            alpha_loss = self.log_alpha.exp() * abs(self.target_entropy) * (entropy - self.target_entropy)
            self.alpha_opt.zero_grad()
            alpha_loss.backward()
            self.alpha_opt.step()
        self.actor.norm.update(distributed.gather_worlds(ctx, window["obs"], dim=1))  # fixed within a window
        self.state, self.age = window["state"], window["age"]
        self.iteration += 1
        return float(distributed.mean_over_ranks(ctx, window["mean_reward"]))

    def _set_lr(self):
        frac = self.iteration / max(1, self.cfg.iterations - 1)
        for opt, lr0 in ((self.actor_opt, self.cfg.actor_lr), (self.critic_opt, self.cfg.critic_lr)):
            if opt is not None:
                for group in opt.param_groups:
                    group["lr"] = lr0 + (self.cfg.min_lr - lr0) * min(1.0, frac)

    def _fit_critic(self, obs, rewards, next_obs, term, ends):
        cfg = self.cfg
        with torch.no_grad():
            source = self.target if self.target is not None else self.critic
            next_v = torch.where(term, 0.0, self._values(source, next_obs, "min"))
            targets = td_lambda(rewards, next_v, ends, cfg.gamma, cfg.lam).reshape(-1)
            x = self.actor.norm(obs).reshape(-1, obs.shape[-1])
        x, targets = x.to(self.critic.dtype), targets.to(self.critic.dtype)
        # minibatches of the samples of *all* worlds (index t * num_envs + world); each rank fits the ones of
        # its own worlds, its loss scaled so that the ranks' average gradient is the whole minibatch's
        big_n, n, lo = cfg.num_envs, obs.shape[1], self.worlds.start
        size = obs.shape[0] * big_n
        batch = max(1, size // cfg.critic_minibatches)
        norms = torch.zeros((), dtype=self.critic.dtype, device=self.device)
        for _ in range(cfg.critic_iterations):
            order = torch.randperm(size, generator=self.gen)
            for k in range(cfg.critic_minibatches):
                idx = order[k * batch:(k + 1) * batch]
                t, w = idx // big_n, idx % big_n
                mine = (w >= lo) & (w < lo + n)
                local = (t[mine] * n + w[mine] - lo).to(self.device)
                err = (self.critic_ddp(x[local]) - targets[local]) ** 2
                loss = err.sum() * (self.ctx.world_size / idx.numel())
                self.critic_opt.zero_grad()
                loss.backward()
                norms = norms + torch.nn.utils.clip_grad_norm_(self.critic.parameters(), cfg.grad_clip)
                self.critic_opt.step()
        if not torch.isfinite(norms):  # one check per window (no host round trip per minibatch)
            raise FloatingPointError(f"non-finite critic gradient at iteration {self.iteration}")
        if self.target is not None:
            with torch.no_grad():
                for p_t, p in zip(self.target.parameters(), self.critic.parameters()):
                    p_t.mul_(cfg.target_keep).add_((1 - cfg.target_keep) * p)

    # --- checkpoints --------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Everything needed to continue; the states of *all* worlds (under ``torchrun`` every rank must call it:
        the ranks' worlds are gathered), so that a run resumes on any number of ranks."""
        ctx = self.ctx
        out = {"config": self.cfg.as_dict(), "iteration": self.iteration, "actor": self.actor.state_dict(),
               "actor_optimizer": self.actor_opt.state_dict(), "log_alpha": self.log_alpha.detach().clone(),
               "alpha_optimizer": self.alpha_opt.state_dict(), "rng": self.gen.get_state(),
               "state": distributed.gather_worlds(ctx, self.state).cpu(),
               "age": distributed.gather_worlds(ctx, self.age).cpu(),
               "rows": torch.tensor([[r[k] for k in LOG_FIELDS] for r in self.rows], dtype=torch.float64)}
        if self.critic is not None:
            out.update(critic=self.critic.state_dict(), critic_optimizer=self.critic_opt.state_dict())
        if self.target is not None:
            out.update(target=self.target.state_dict())
        return out

    def load_state_dict(self, saved: dict) -> None:
        mine, theirs = self.cfg.as_dict(), dict(saved["config"])
        theirs["iterations"] = mine["iterations"]  # a finished run may be extended
        if theirs != mine:
            diff = sorted(k for k in mine if mine[k] != theirs.get(k))
            raise ValueError(f"the checkpoint was written with another configuration (differs in {diff})")
        self.actor.load_state_dict(saved["actor"])
        self.actor_opt.load_state_dict(saved["actor_optimizer"])
        with torch.no_grad():
            self.log_alpha.copy_(saved["log_alpha"])
        self.alpha_opt.load_state_dict(saved["alpha_optimizer"])
        if self.critic is not None:
            self.critic.load_state_dict(saved["critic"])
            self.critic_opt.load_state_dict(saved["critic_optimizer"])
        if self.target is not None:
            self.target.load_state_dict(saved["target"])
        self.gen.set_state(saved["rng"])
        self.iteration = int(saved["iteration"])
        self.state = saved["state"][self.worlds].to(self.device)
        self.age = saved["age"][self.worlds].to(self.device)
        self.rows = [dict(zip(LOG_FIELDS, r)) for r in saved["rows"].tolist()]
        for r in self.rows:
            r["iteration"], r["env_steps"] = int(r["iteration"]), int(r["env_steps"])

    def resume(self, out: Path) -> None:
        """Continue from ``out/checkpoint.pt`` (also to a larger ``cfg.iterations``)."""
        ckpt = Path(out) / "checkpoint.pt"
        if not ckpt.exists():
            raise FileNotFoundError(f"resume: no checkpoint at {ckpt}")
        self.load_state_dict(torch.load(ckpt, weights_only=True))

    def save(self, path: Path) -> None:
        """Write :meth:`state_dict` to ``path`` (rank 0 writes; under ``torchrun`` every rank must call it)."""
        state = self.state_dict()
        if self.ctx.is_main:
            tmp = path.with_suffix(".tmp")
            torch.save(state, tmp)
            tmp.replace(path)  # atomic: a run killed while saving keeps the previous checkpoint

    # --- the loop -----------------------------------------------------------------------------
    def train(self, out: Path, progress: bool = True, log_every: int = 10, on_log=None, stop=None):
        """Run to ``cfg.iterations``; logs, evaluates and checkpoints every ``log_every`` iterations.
        ``on_log(row, actor)`` is called after each log point. ``stop()``, checked after every iteration, ends
        the run early (that iteration is logged; e.g. a wall-clock budget). Returns the log rows.
        Under ``torchrun`` rank 0 alone evaluates, logs and writes files (``distributed.json`` records every
        rank's worlds, device and threads)."""
        import json

        from tqdm import tqdm

        cfg, main = self.cfg, self.ctx.is_main
        out = Path(out)
        ckpt = out / "checkpoint.pt"
        info = dict(self.ctx.describe(), worlds=[self.worlds.start, self.worlds.stop], seed=cfg.seed)
        ranks = distributed.gather_objects(self.ctx, info)
        if main:
            out.mkdir(parents=True, exist_ok=True)
            (out / "distributed.json").write_text(json.dumps(ranks, indent=1))
        bar = tqdm(total=cfg.iterations, initial=self.iteration, desc=f"{cfg.algo} {cfg.env_id}",
                   disable=not (progress and main), mininterval=0.5)
        window_return = float("nan")
        while self.iteration < cfg.iterations:
            try:
                window_return = self.step()
            except FloatingPointError as exc:
                bar.close()
                raise FloatingPointError(f"{exc}; last good checkpoint: {ckpt}") from None
            bar.update(1)
            done = self.iteration
            stopping = stop is not None and stop()
            if stop is not None and self.ctx.world_size > 1:  # every rank stops together: rank 0's answer
                stopping = bool(distributed.gather_objects(self.ctx, stopping)[0])
            log_now = done % log_every == 0 or done == cfg.iterations or stopping
            if log_now and not main:
                self.save(ckpt)  # its worlds' states go into rank 0's checkpoint
            elif log_now:
                eval_return = evaluate(self.dyn, self.actor, cfg.eval_episodes, cfg.episode_steps)
                self.rows.append(dict(iteration=done, env_steps=done * cfg.window * cfg.num_envs,
                                      window_return=window_return, eval_return=eval_return,
                                      alpha=float(self.log_alpha.detach().exp())))
                bar.set_postfix(eval_return=f"{eval_return:.1f}")
                self.save(ckpt)
                write_log(self.rows, out / "log.csv")
                if on_log is not None:
                    on_log(self.rows[-1], self.actor)
            if stopping:
                break
        bar.close()
        return self.rows


def write_log(rows, path: Path) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(LOG_FIELDS))
        w.writeheader()
        w.writerows(rows)


def train(cfg: TrainConfig, dyn, out: Path, resume: bool = False, **kwargs):
    """Train (or, with ``resume``, continue ``out/checkpoint.pt``, also to a larger ``cfg.iterations``);
    returns ``(actor, rows)``. ``kwargs`` go to :meth:`Trainer.train`."""
    trainer = Trainer(cfg, dyn)
    if resume:
        trainer.resume(out)
    rows = trainer.train(Path(out), **kwargs)
    return trainer.actor, rows


def plot_curve(rows, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([r["env_steps"] for r in rows], [r["eval_return"] for r in rows], marker=".")
    ax.set_xlabel("environment steps (all worlds)")
    ax.set_ylabel("evaluation return (deterministic)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
