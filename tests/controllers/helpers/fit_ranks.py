"""The HNN fit the distributed tests run in one process and on two ranks (``ranks.py``), with
``controllers.dynamics.fit``."""
import torch

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

