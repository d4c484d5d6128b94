import sys, numpy as np, torch, gymnasium as gym
from controllers.evaluate import load_policy
cfg, dyn, pol = load_policy(sys.argv[1])
def act(o):
    with torch.no_grad():
        return pol(torch.as_tensor(o, dtype=torch.float64)[None])[0].numpy()
env = gym.make("Ant-v5")
for ep in range(3):
    obs, _ = env.reset(seed=100 + ep)
    R, n, ctrl, fwd, zs = 0, 0, 0, 0, []
    while True:
        a = np.asarray(act(obs), dtype=np.float64)
        obs, r, term, trunc, info = env.step(a)
        R += r; n += 1; ctrl += info["reward_ctrl"]; fwd += info["reward_forward"]; zs.append(env.unwrapped.data.qpos[2])
        if term or trunc: break
    print(f"ep {ep}: return {R:.1f} steps {n} ctrl {ctrl:.1f} forward {fwd:.1f} z min {min(zs):.2f} max {max(zs):.2f} term {term}")
