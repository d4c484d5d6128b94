"""Evaluate a trained controller and write a GIF of it:

    python -m controllers.evaluate outputs/diffsim_Pendulum-v0_apg/checkpoint.pt [--gif out.gif] [--episodes 8]

Loads the checkpoint safely (``weights_only=True``), rebuilds the policy from its saved
configuration, reports the mean return of the deterministic policy over ``--episodes``
differentiable-env episodes, and renders one episode of the Gymnasium env to a GIF.
"""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

import envs  # noqa: F401
from controllers.apg import APGConfig, evaluate, make_policy
from envs import make_functional
from envs.rendering import write_gif


def load_policy(checkpoint: Path):
    saved = torch.load(checkpoint, weights_only=True)
    fields = {f.name for f in dataclasses.fields(APGConfig)}
    cfg = APGConfig(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in saved["config"].items() if k in fields})
    dyn = make_functional(cfg.env_id)
    policy = make_policy(dyn, cfg)
    policy.load_state_dict(saved["policy"])
    policy.eval()
    return cfg, dyn, policy


def render_episode(env_id: str, policy, steps: int, seed: int = 0):
    env = gym.make(env_id, render_mode="rgb_array")
    obs, _ = env.reset(seed=seed)
    frames, total = [env.render()], 0.0
    for _ in range(steps):
        with torch.no_grad():
            action = policy(torch.as_tensor(obs, dtype=torch.float64)[None])[0].numpy()
        if isinstance(env.action_space, gym.spaces.Discrete):
            action = int(action[0] > 0)  # the differentiable step's push sign -> the discrete action
        obs, reward, terminated, truncated, _ = env.step(np.asarray(action, dtype=np.float32)
                                                         if not isinstance(action, int) else action)
        total += reward
        frames.append(env.render())
        if terminated or truncated:
            break
    return frames, total


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--gif", type=Path, default=None, help="default: next to the checkpoint")
    parser.add_argument("--episodes", type=int, default=8)
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args(argv)
    if not args.checkpoint.exists():
        parser.error(f"no checkpoint at {args.checkpoint}")
    cfg, dyn, policy = load_policy(args.checkpoint)
    mean_return = evaluate(dyn, policy, episodes=args.episodes, steps=args.steps)
    frames, ret = render_episode(cfg.env_id, policy, args.steps)
    gif = write_gif(frames, args.gif or args.checkpoint.with_name("policy.gif"))
    print(f"{cfg.env_id}: mean return {mean_return:.1f} over {args.episodes} episodes; rendered episode return "
          f"{ret:.1f}; GIF {gif}")
    return mean_return, gif


if __name__ == "__main__":
    main()
