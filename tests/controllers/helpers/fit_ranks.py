"""Fit an HNN for a few steps with ``controllers.dynamics.fit`` under ``torchrun`` (or alone) and save its
parameters (for the distributed tests):  ``torchrun --nproc_per_node=2 fit_ranks.py OUT.pt``"""
import sys

import torch

from controllers import distributed
from controllers.dynamics import HNN, fit
from controllers.dynamics.data import hnn_task


def fitted(ctx):
    """The HNN after 5 minibatch steps (one torch thread per process, as the ranks have)."""
    torch.set_num_threads(1)
    data = hnn_task("spring", seed=0)
    torch.manual_seed(0)
    model = HNN(dof=1)
    fit(model, data["t"], data["x_train"], dys=data["dx_train"], steps=5, lr=1e-3, batch_size=48, progress=False,
        ctx=ctx)
    return model


if __name__ == "__main__":
    ctx = distributed.init()
    model = fitted(ctx)
    if ctx.is_main:
        torch.save(model.state_dict(), sys.argv[1])
    distributed.close(ctx)
