"""Per step of an Ant window: |dL/da_t| total vs the control cost's direct part (disc_t a_t / (n H)), for the Ant
recipe as of commit b9e0faa (sampled actions, default initialisation, no soft walls, no reference worlds).
Usage: PYTHONPATH=. python grad_split.py [ITERATIONS trained first]."""
import sys
import time

import torch

from controllers.recipes import recipe
from controllers.shac import Trainer
from envs import make_functional

iters = int(sys.argv[1]) if len(sys.argv) > 1 else 0
cfg = recipe("diffsim/Ant-v0", seed=0, iterations=800, stochastic=True, mean_init_scale=1.0, reference=None,
             shaping=False)
dyn = make_functional(cfg.env_id, **cfg.env_kwargs())
tr = Trainer(cfg, dyn)
t0 = time.time()
for i in range(iters):
    tr.step()
print("trained", iters, "in", time.time() - t0)
acts, grads = [], []
orig = dyn.step
def step(s, a):
    acts.append(a)
    a.register_hook(lambda g: grads.append(g.detach().clone()))
    return orig(s, a)
dyn.step = step
loss, _ = tr.actor_loss()
loss.backward()
grads = grads[::-1]  # hooks fire in reverse order
n, H = acts[0].shape[0], len(acts)
for t, (a, g) in enumerate(zip(acts, grads)):
    direct = 0.99 ** t * 0.5 * 2 * a.detach() / (n * H)  # d(-(-0.5|a|^2) disc)/da / (nH)
    print(t, "total %.3e  ctrl %.3e  median world total %.3e ctrl %.3e  cos %.3f" % (
        g.norm(), direct.norm(), g.norm(dim=1).median(), direct.norm(dim=1).median(),
        torch.nn.functional.cosine_similarity(g.flatten(), direct.flatten(), dim=0)))
print("mean |a|^2", torch.stack([(a.detach()**2).sum(-1).mean() for a in acts]).mean())
print("log_std", tr.actor.log_std.detach() if hasattr(tr.actor, "log_std") else None)
print("rows", tr.rows[-3:] if tr.rows else None)
