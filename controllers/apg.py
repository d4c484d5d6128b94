"""Analytic policy gradient (back-propagation through time through the differentiable env step), and SHAC.

Each iteration rolls ``num_envs`` worlds forward for ``window`` steps with the policy in
the loop and back-propagates the discounted return through the simulator into the
policy. Windows are truncated: the next window continues from the detached last state
(episodes restart after ``episode_steps``), which bounds memory and the gradient
explosion of long chaotic rollouts (``shared/reference/warp.md`` section 7). Gradients are
clipped by global norm; a non-finite loss or gradient stops training with a message
(the last good checkpoint is kept).

``algo="shac"`` is Short-Horizon Actor-Critic (Xu et al., ICLR 2022): the same short
windows, plus a learned value function that bootstraps the tail, ``gamma^T V(s_T)``,
whose gradient also flows through the simulator; the critic is fitted to TD(lambda)
targets from the window (target network updated softly).
"""
from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from controllers.policies import MLPPolicy


@dataclass(frozen=True)
class APGConfig:
    env_id: str = "diffsim/Pendulum-v0"
    num_envs: int = 64
    window: int = 32
    episode_steps: int = 200
    iterations: int = 200
    lr: float = 3e-3
    gamma: float = 0.99
    grad_clip: float = 1.0
    hidden: tuple = (64, 64)
    seed: int = 0
    algo: str = "apg"  # or "shac"
    lam: float = 0.95  # SHAC: TD(lambda)
    critic_lr: float = 1e-3
    critic_epochs: int = 8
    target_tau: float = 0.2  # SHAC: soft update of the target critic


def _action_bounds(dyn):
    if hasattr(dyn, "ctrl_low"):
        return dyn.ctrl_low, dyn.ctrl_high
    space = dyn.action_space
    if hasattr(space, "low"):
        return space.low.astype("float64"), space.high.astype("float64")
    return [-1.0], [1.0]  # a discrete env's differentiable step takes a continuous action in [-1, 1]


def make_policy(dyn, cfg: APGConfig) -> MLPPolicy:
    obs_dim = dyn.observe(dyn.reset(1, torch.Generator().manual_seed(0))).shape[-1]
    low, high = _action_bounds(dyn)
    return MLPPolicy(obs_dim, dyn.action_dim, low, high, hidden=cfg.hidden)


class Critic(torch.nn.Module):
    """V(obs): an MLP on normalised observations (the policy's running statistics)."""

    def __init__(self, obs_dim: int, hidden=(64, 64)):
        super().__init__()
        layers, d = [], obs_dim
        for h in hidden:
            layers += [torch.nn.Linear(d, h), torch.nn.Tanh()]
            d = h
        layers.append(torch.nn.Linear(d, 1))
        self.net = torch.nn.Sequential(*layers).double()

    def forward(self, obs_normalised):
        return self.net(obs_normalised).squeeze(-1)


def _td_lambda(rewards, values, dones, gamma, lam):
    """TD(lambda) targets for t = 0..T-1 from rewards (T, N), values (T+1, N), dones (T, N)."""
    targets = torch.zeros_like(rewards)
    g = values[-1]
    for t in reversed(range(rewards.shape[0])):
        nxt = (1 - lam) * values[t + 1] + lam * g
        g = rewards[t] + gamma * (1.0 - dones[t]) * nxt
        targets[t] = g
    return targets


def evaluate(dyn, policy, episodes: int = 32, steps: int = 200, seed: int = 123) -> float:
    """Mean undiscounted return of the deterministic policy over ``episodes`` worlds."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        state = dyn.reset(episodes, gen)
        total = torch.zeros(episodes, dtype=torch.float64)
        alive = torch.ones(episodes, dtype=torch.bool)
        for _ in range(steps):
            state, obs, reward, term = dyn.step(state, policy(dyn.observe(state)))
            total += reward * alive
            alive &= ~term
    return float(total.mean())


def train_apg(cfg: APGConfig, dyn, out: Path, resume: bool = False, progress: bool = True, log_every: int = 10,
              on_log=None):
    """Train; writes ``out/checkpoint.pt`` and ``out/log.csv``; returns ``(policy, rows)``.

    ``on_log(row, policy)``, if given, is called after every logged iteration (e.g. to evaluate
    the policy elsewhere)."""
    from tqdm import tqdm

    if cfg.algo not in ("apg", "shac"):
        raise ValueError(f"algo must be 'apg' or 'shac', got {cfg.algo!r}")
    out.mkdir(parents=True, exist_ok=True)
    ckpt, log_path = out / "checkpoint.pt", out / "log.csv"
    torch.manual_seed(cfg.seed)
    policy = make_policy(dyn, cfg)
    opt = torch.optim.Adam(policy.parameters(), lr=cfg.lr)
    critic = target = critic_opt = None
    if cfg.algo == "shac":
        critic = Critic(policy.norm.mean.shape[0], cfg.hidden)
        target = Critic(policy.norm.mean.shape[0], cfg.hidden)
        target.load_state_dict(critic.state_dict())
        critic_opt = torch.optim.Adam(critic.parameters(), lr=cfg.critic_lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    start, rows = 0, []
    state, age = None, 0
    if resume:
        if not ckpt.exists():
            raise FileNotFoundError(f"--resume: no checkpoint at {ckpt}")
        saved = torch.load(ckpt, weights_only=True)
        if saved["config"] != _config_dict(cfg):
            raise ValueError(f"--resume: {ckpt} was written with another configuration")
        policy.load_state_dict(saved["policy"])
        opt.load_state_dict(saved["optimizer"])
        if critic is not None:
            critic.load_state_dict(saved["critic"])
            target.load_state_dict(saved["target"])
            critic_opt.load_state_dict(saved["critic_optimizer"])
        gen.set_state(saved["rng"])
        start, state, age = saved["iteration"], saved["state"], saved["age"]
        rows = [dict(zip(("iteration", "env_steps", "window_return", "eval_return"), r)) for r in saved["rows"].tolist()]
    bar = tqdm(range(start, cfg.iterations), initial=start, total=cfg.iterations, desc=f"apg {cfg.env_id}",
               disable=not progress, mininterval=0.5)
    for it in bar:
        if state is None or age >= cfg.episode_steps:
            state, age = dyn.reset(cfg.num_envs, gen), 0
        ret = torch.zeros(cfg.num_envs, dtype=torch.float64)
        discount = 1.0
        s = state.detach()
        alive = torch.ones(cfg.num_envs, dtype=torch.float64)
        observations, rewards, dones = [], [], []
        for _ in range(cfg.window):
            obs = dyn.observe(s)
            policy.norm.update(obs)
            s, _, reward, term = dyn.step(s, policy(obs))
            ret = ret + discount * alive * reward
            discount *= cfg.gamma
            observations.append(obs.detach())
            rewards.append(reward.detach())
            dones.append(term.to(torch.float64))
            alive = alive * (1.0 - term.to(torch.float64))
        if critic is not None:  # bootstrap the tail with the target critic; its gradient flows through s
            ret = ret + discount * alive * target(policy.norm(dyn.observe(s)))
        loss = -ret.mean() / cfg.window
        if not torch.isfinite(loss):
            raise FloatingPointError(f"non-finite loss at iteration {it}; last checkpoint: {ckpt}")
        opt.zero_grad()
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(policy.parameters(), cfg.grad_clip)
        if not torch.isfinite(norm):
            raise FloatingPointError(f"non-finite gradient at iteration {it}; last checkpoint: {ckpt}")
        opt.step()
        if critic is not None:
            _fit_critic(critic, target, critic_opt, policy, observations, rewards, dones, dyn.observe(s).detach(), cfg)
        state, age = s.detach(), age + cfg.window
        done = it + 1
        if done % log_every == 0 or done == cfg.iterations:
            eval_ret = evaluate(dyn, policy, steps=cfg.episode_steps)
            rows.append(dict(iteration=done, env_steps=done * cfg.window * cfg.num_envs,
                             window_return=float(ret.detach().mean()), eval_return=eval_ret))
            bar.set_postfix(eval_return=f"{eval_ret:.1f}")
            _save(ckpt, policy, opt, gen, done, state, age, rows, cfg, critic, target, critic_opt)
            with open(log_path, "w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=list(rows[0]))
                w.writeheader()
                w.writerows(rows)
            if on_log is not None:
                on_log(rows[-1], policy)
    return policy, rows


def _config_dict(cfg):
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(cfg).items()}


def _fit_critic(critic, target, critic_opt, policy, observations, rewards, dones, last_obs, cfg):
    with torch.no_grad():
        obs_n = policy.norm(torch.stack(observations + [last_obs]))  # (T+1, N, obs)
        values = target(obs_n)
        targets = _td_lambda(torch.stack(rewards), values, torch.stack(dones), cfg.gamma, cfg.lam)
    x, y = obs_n[:-1].reshape(-1, obs_n.shape[-1]), targets.reshape(-1)
    for _ in range(cfg.critic_epochs):
        critic_opt.zero_grad()
        loss = ((critic(x) - y) ** 2).mean()
        loss.backward()
        critic_opt.step()
    with torch.no_grad():
        for p_t, p in zip(target.parameters(), critic.parameters()):
            p_t.mul_(1 - cfg.target_tau).add_(cfg.target_tau * p)


def _save(path, policy, opt, gen, iteration, state, age, rows, cfg, critic=None, target=None, critic_opt=None):
    tmp = path.with_suffix(".tmp")
    payload = {"policy": policy.state_dict(), "optimizer": opt.state_dict(), "rng": gen.get_state(),
               "iteration": iteration, "state": state, "age": age, "config": _config_dict(cfg),
               "rows": torch.tensor([[r["iteration"], r["env_steps"], r["window_return"], r["eval_return"]]
                                     for r in rows], dtype=torch.float64)}
    if critic is not None:
        payload.update(critic=critic.state_dict(), target=target.state_dict(), critic_optimizer=critic_opt.state_dict())
    torch.save(payload, tmp)
    tmp.replace(path)


def plot_curve(rows, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([r["env_steps"] for r in rows], [r["eval_return"] for r in rows], marker=".")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("evaluation return")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


__all__ = ["APGConfig", "Critic", "train_apg", "evaluate", "make_policy", "plot_curve"]
