"""The distributed tests' two-rank runs in one ``torchrun`` job (a job's start-up, torchrun and each rank importing
torch, Warp and the package, takes seconds):

    torchrun --nproc_per_node=2 ranks.py OUT <controllers.train arguments>

1. ``fit_ranks.fitted`` on the ranks; rank 0 saves the HNN's parameters to ``OUT/fit.pt``;
2. ``controllers.train`` for 2 iterations into ``OUT/train``;
3. ``controllers.train`` for 6 iterations into ``OUT/faulty`` with rank 1's loss NaN at iteration 2: the job then
   fails as ``faulty_rank.py nan`` does.
Rank 0 prints ``phase N done`` after each of the first two. The phases share one process group (``close`` between
them only waits for every rank): a process joins its group once (``distributed.init`` refuses after ``close``;
re-created between phases, the group hung once in a full test run, 2026-12-01)."""
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from faulty_rank import make_faulty
from fit_ranks import fitted

from controllers import distributed, train

out, argv = Path(sys.argv[1]), sys.argv[2:]
distributed.close = lambda ctx: dist.barrier()

ctx = distributed.init()
model = fitted(ctx)
if ctx.is_main:
    torch.save(model.state_dict(), out / "fit.pt")
dist.barrier()
if ctx.is_main:
    print("phase 1 done", flush=True)

train.main([*argv, "--iterations", "2", "--out", str(out / "train")])
if ctx.is_main:
    print("phase 2 done", flush=True)

make_faulty("nan")
train.main([*argv, "--iterations", "6", "--out", str(out / "faulty")])
