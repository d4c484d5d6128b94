"""Evaluate a trained controller on the Gymnasium env, the way stable-baselines3 does, and write a GIF:

    python -m controllers.evaluate outputs/diffsim_Pendulum-v0_shac/checkpoint.pt [--episodes 20] [--gif out.gif]

Loads the checkpoint safely (``weights_only=True``), rebuilds the policy from its saved
configuration and reports the mean return of the deterministic policy over ``--episodes``
episodes of the Gymnasium env (seeds 1000, 1001, ...), and, for a diffsim env that is
step-identical to one of Gymnasium's own (Pendulum -> ``Pendulum-v1``), over the same
episodes of that env too. One episode is rendered to a GIF.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

import envs  # noqa: F401
from controllers.recipes import GYMNASIUM_TWIN
from controllers.shac import TrainConfig, make_actor
from envs import make_functional
from envs.rendering import write_gif

EVAL_SEED = 1000


def load_policy(checkpoint: Path):
    """``(config, dynamics, policy)`` of a training checkpoint; ``policy`` maps a float64 batch of
    observations ``(B, obs_dim)`` to deterministic actions ``(B, act_dim)``."""
    saved = torch.load(checkpoint, weights_only=True)
    cfg = TrainConfig.from_dict(saved["config"])
    dyn = make_functional(cfg.env_id, **cfg.env_kwargs())
    policy = make_actor(dyn, cfg)
    policy.load_state_dict(saved["actor"])
    policy.eval()
    return cfg, dyn, policy


def gym_action(env: gym.Env, action: np.ndarray):
    """A policy's continuous action as ``env`` takes it (a discrete env: the push/torque sign, e.g.
    CartPole's left/right; Acrobot's -1/0/+1 torque by rounding)."""
    if isinstance(env.action_space, gym.spaces.Discrete):
        if env.action_space.n == 2:
            return int(action[0] > 0)
        return int(np.clip(np.rint(action[0]), -1, 1)) + 1
    return np.asarray(action, dtype=np.float32)


def episode_returns(env_id: str, act, episodes: int = 20, seed: int = EVAL_SEED, **make_kwargs) -> np.ndarray:
    """Undiscounted returns of ``episodes`` episodes of ``gym.make(env_id)`` (seeds ``seed + i``), acting
    with ``act(obs (obs_dim,) float32) -> action``."""
    env = gym.make(env_id, **make_kwargs)
    out = []
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        total, done = 0.0, False
        while not done:
            obs, reward, term, trunc, _ = env.step(gym_action(env, act(obs)))
            total += float(reward)
            done = term or trunc
        out.append(total)
    env.close()
    return np.asarray(out)


def policy_act(policy):
    """``act(obs)`` for :func:`episode_returns` from a batch policy (deterministic, no gradients)."""
    def act(obs):
        with torch.no_grad():
            return policy(torch.as_tensor(obs, dtype=torch.float64)[None])[0].numpy()
    return act


def evaluate_on_gymnasium(env_id: str, policy, episodes: int = 20) -> dict:
    """``{gymnasium id: returns}`` for ``env_id`` and, where there is one, its Gymnasium twin."""
    act = policy_act(policy)
    out = {env_id: episode_returns(env_id, act, episodes)}
    if env_id in GYMNASIUM_TWIN:
        out[GYMNASIUM_TWIN[env_id]] = episode_returns(GYMNASIUM_TWIN[env_id], act, episodes)
    return out


def render_episode(env_id: str, policy, steps: int, seed: int = EVAL_SEED):
    env = gym.make(env_id, render_mode="rgb_array")
    obs, _ = env.reset(seed=seed)
    frames, total, act = [env.render()], 0.0, policy_act(policy)
    for _ in range(steps):
        obs, reward, terminated, truncated, _ = env.step(gym_action(env, act(obs)))
        total += reward
        frames.append(env.render())
        if terminated or truncated:
            break
    return frames, total


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--gif", type=Path, default=None, help="default: next to the checkpoint")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--steps", type=int, default=200, help="length of the rendered episode")
    args = parser.parse_args(argv)
    if not args.checkpoint.exists():
        parser.error(f"no checkpoint at {args.checkpoint}")
    if args.episodes < 1:
        parser.error(f"--episodes must be >= 1, got {args.episodes}")
    cfg, _, policy = load_policy(args.checkpoint)
    results = evaluate_on_gymnasium(cfg.env_id, policy, args.episodes)
    for name, returns in results.items():
        print(f"{name}: mean return {returns.mean():.1f} ± {returns.std():.1f} over {len(returns)} episodes")
    frames, ret = render_episode(cfg.env_id, policy, args.steps)
    gif = write_gif(frames, args.gif or args.checkpoint.with_name("policy.gif"))
    print(f"rendered episode return {ret:.1f}; GIF {gif}")
    return results, gif


if __name__ == "__main__":
    main()
