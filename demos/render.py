"""Write a short GIF of an environment rollout: ``python -m demos.render --env diffsim/CartPole-v0``.

Frames come from the env's ``render_mode="rgb_array"``; actions are random (seeded) unless
``--zero`` is given. The GIF is written with Pillow (a matplotlib dependency) by :func:`envs.rendering.write_gif`.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import gymnasium as gym
import numpy as np

import envs  # noqa: F401  (registers the diffsim/ ids)
from envs.rendering import write_gif


def record(env_id: str, steps: int, seed: int = 0, zero: bool = False) -> list[np.ndarray]:
    """Frames (H, W, 3 uint8) of one rollout, the reset frame first; stops at the episode's end."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    env = gym.make(env_id, render_mode="rgb_array")
    env.reset(seed=seed)
    env.action_space.seed(seed)
    frames = [env.render()]
    for _ in range(steps):
        action = env.action_space.sample()
        if zero:
            action = np.zeros_like(action) if isinstance(env.action_space, gym.spaces.Box) else 0
        _, _, terminated, truncated, _ = env.step(action)
        frames.append(env.render())
        if terminated or truncated:
            break
    env.close()
    return frames


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="diffsim/CartPoleSwingUp-v0")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--zero", action="store_true", help="zero actions instead of random ones")
    parser.add_argument("--out", type=Path, default=None, help="GIF path (default outputs/<env>.gif)")
    args = parser.parse_args(argv)
    out = args.out or Path("outputs") / (args.env.replace("/", "_") + ".gif")
    path = write_gif(record(args.env, args.steps, args.seed, args.zero), out)
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    main()
