"""Run ``controllers.train`` under ``torchrun`` with rank 1 failing at iteration 2 (for the distributed tests):

    torchrun --nproc_per_node=2 tests/controllers/helpers/faulty_rank.py nan|kill  <controllers.train arguments>

``nan``: rank 1's window loss is NaN; ``kill``: rank 1 kills itself with SIGKILL."""
import math
import os
import signal
import sys

from controllers import shac, train


def make_faulty(mode: str) -> None:
    """From now on rank 1 fails at SHAC iteration 2 (``mode``: ``nan`` or ``kill``)."""
    original = shac.Trainer.actor_loss

    def faulty(self):
        loss, window = original(self)
        if self.ctx.rank == 1 and self.iteration == 2:
            if mode == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            loss = loss * math.nan
        return loss, window

    shac.Trainer.actor_loss = faulty


if __name__ == "__main__":
    make_faulty(sys.argv[1])
    train.main(sys.argv[2:])
