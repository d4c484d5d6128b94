"""Play a checkpoint's deterministic policy in Gymnasium's Ant-v5 (MuJoCo): return, length, control cost, forward
reward and the torso's height range of 3 episodes. Usage: ``python eval_in_mujoco.py CHECKPOINT``."""
import sys

import gymnasium as gym
import numpy as np
import torch

from controllers.evaluate import load_policy

cfg, dyn, policy = load_policy(sys.argv[1])
env = gym.make("Ant-v5")
for episode in range(3):
    obs, _ = env.reset(seed=100 + episode)
    total, steps, ctrl, forward, heights = 0.0, 0, 0.0, 0.0, []
    while True:
        with torch.no_grad():
            action = policy(torch.as_tensor(obs, dtype=torch.float64)[None])[0].numpy()
        obs, reward, term, trunc, info = env.step(np.asarray(action, dtype=np.float64))
        total, steps = total + reward, steps + 1
        ctrl, forward = ctrl + info["reward_ctrl"], forward + info["reward_forward"]
        heights.append(env.unwrapped.data.qpos[2])
        if term or trunc:
            break
    print(f"ep {episode}: return {total:.1f} steps {steps} ctrl {ctrl:.1f} forward {forward:.1f} "
          f"z min {min(heights):.2f} max {max(heights):.2f} term {term}")
