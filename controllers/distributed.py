"""Training on several processes, GPUs or machines with ``torch.distributed``, launched by ``torchrun``.

    python -m controllers.train --env diffsim/DoublePendulum-v0                              # one process
    torchrun --nproc_per_node=2 -m controllers.train --env diffsim/DoublePendulum-v0         # two, same run
    torchrun --nnodes=2 --nproc_per_node=1 --rdzv-backend=c10d --rdzv-endpoint=HOST:29500 \\
        -m controllers.train --env diffsim/DoublePendulum-v0                                 # on two machines

:func:`init` reads what ``torchrun`` sets (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``LOCAL_WORLD_SIZE``) and joins the process group: NCCL where the rank has a GPU
(``cuda:LOCAL_RANK``), gloo on the CPU. Without ``torchrun`` it returns a one-process context and
nothing else changes. Under ``torchrun`` the CPU cores of a machine are split between its ranks: each
rank's torch and Warp launches (:func:`diffsim.parallel.set_cpu_threads`) use ``cores //
LOCAL_WORLD_SIZE`` threads, so K ranks on one machine never oversubscribe it.

How the trainers use it (:class:`controllers.shac.Trainer`, :func:`controllers.dynamics.fit.fit`):
rank ``r`` of ``K`` owns the ``r``-th contiguous share of the worlds (or samples); every rank
draws the random numbers of *all* of them from the run's seed and keeps its own share, so what a
world sees does not depend on how the worlds are split, and K ranks x N/K worlds follow the same
trajectory as 1 rank x N worlds (to floating-point summation order). Gradients are averaged by
:class:`torch.nn.parallel.DistributedDataParallel`; rank 0 alone logs, evaluates, plots and
writes checkpoints, which hold every world's state, so that any world size resumes them.
"""
from __future__ import annotations

import datetime
import gc
import inspect
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from diffsim import parallel

# set by close() once this process has left its process group: torch names a group created after the default one was
# destroyed as it named the first (its keys on torchrun's store carry the same prefix), so joining again in the same
# process can meet the old group's keys and hang; init() refuses instead
_left_group = False


@dataclass(frozen=True)
class Context:
    """Where this process stands in the job (``world_size`` 1 without ``torchrun``)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1
    device: str = "cpu"
    backend: str | None = None
    threads: int = 1

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def share(self, n: int, name: str = "num_envs") -> slice:
        """This rank's contiguous share of ``n`` items (worlds, samples); ``n`` must split evenly."""
        if n % self.world_size:
            raise ValueError(f"{name} ({n}) must be a multiple of the number of ranks ({self.world_size})")
        k = n // self.world_size
        return slice(self.rank * k, (self.rank + 1) * k)

    def describe(self) -> dict:
        return dict(rank=self.rank, world_size=self.world_size, local_rank=self.local_rank,
                    local_world_size=self.local_world_size, device=self.device, backend=self.backend,
                    threads=self.threads)


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def init(timeout_s: float = 300.0) -> Context:
    """Join the ``torchrun`` job this process belongs to (if any) and split the machine's cores among its ranks.

    ``timeout_s`` bounds how long a collective waits for a rank that stopped answering before the job
    fails (``torchrun`` also stops every rank as soon as one exits with an error)."""
    world_size = _env_int("WORLD_SIZE", 1)
    rank, local_rank = _env_int("RANK", 0), _env_int("LOCAL_RANK", 0)
    local_world_size = _env_int("LOCAL_WORLD_SIZE", world_size)
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"RANK ({rank}) must be in [0, WORLD_SIZE ({world_size}))")
    # one GPU per local rank, or the CPU for all of them: ranks on a GPU (NCCL) and on the CPU (gloo) cannot share a
    # process group, so K ranks on a machine with fewer than K GPUs all run on the CPU
    cuda = torch.cuda.is_available() and torch.cuda.device_count() >= local_world_size
    device = f"cuda:{local_rank}" if cuda else "cpu"
    backend, threads = None, parallel.cpu_threads()
    if world_size > 1:
        if _left_group and not dist.is_initialized():
            raise RuntimeError("a process joins the torchrun process group once: init() was called after close() in "
                               "this process; run each training in its own process, or call close() only after the "
                               "last one")
        threads = max(1, _cores() // max(1, local_world_size))
        torch.set_num_threads(threads)
        parallel.set_cpu_threads(threads)
        backend = "nccl" if cuda else "gloo"
        if cuda:
            torch.cuda.set_device(local_rank)
        if not dist.is_initialized():
            dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout_s))
    return Context(rank, world_size, local_rank, local_world_size, device, backend, threads)


def close(ctx: Context) -> None:
    """Leave the process group (at the end of a run), after a barrier (no collective still in flight on any rank
    when the connections close) and a garbage collection (whatever still holds gloo work is freed while the
    interpreter is whole). Without them a rank has occasionally aborted at exit, after finishing its work
    ("terminate called without an active exception", exit code -6: a race in torch's gloo teardown). The process
    cannot join a group again afterwards (:func:`init` raises)."""
    global _left_group
    if ctx.distributed and dist.is_initialized():
        dist.barrier()
        gc.collect()
        dist.destroy_process_group()
        _left_group = True


def gather_worlds(ctx: Context, x: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """Every rank's share of ``x`` concatenated along ``dim`` in rank order (the whole set of worlds)."""
    if not ctx.distributed:
        return x
    parts = [torch.empty_like(x) for _ in range(ctx.world_size)]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts, dim)


def gather_objects(ctx: Context, obj) -> list:
    """Every rank's ``obj`` (picklable), in rank order."""
    if not ctx.distributed:
        return [obj]
    out = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out


def mean_over_ranks(ctx: Context, x: torch.Tensor) -> torch.Tensor:
    """The average of ``x`` over the ranks (each rank's share has the same size)."""
    if not ctx.distributed:
        return x
    y = x.detach().clone()
    dist.all_reduce(y, op=dist.ReduceOp.SUM)
    return y / ctx.world_size


def failure(ctx: Context, ok: bool) -> str | None:
    """``None`` when every rank reports ``ok``, else where it failed for an error message: ``" on rank(s) [r]"``
    under ``torchrun``, ``""`` in one process (every rank calls it at the same point, so all stop together)."""
    if not ctx.distributed:
        return None if ok else ""
    flags = torch.zeros(ctx.world_size, dtype=torch.int32)
    flags[ctx.rank] = 0 if ok else 1
    dist.all_reduce(flags, op=dist.ReduceOp.SUM)
    failed = [r for r in range(ctx.world_size) if flags[r]]
    return f" on rank(s) {failed}" if failed else None


def wrap(ctx: Context, module: torch.nn.Module) -> torch.nn.Module:
    """``module`` in :class:`~torch.nn.parallel.DistributedDataParallel` when there are several ranks (its
    gradients averaged over them in ``backward``), else itself. Buffers are copied from rank 0 once, when
    wrapped; after that the trainers keep them equal (updated from every rank's data), not broadcast on each call."""
    if not ctx.distributed:
        return module
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [ctx.local_rank] if ctx.device.startswith("cuda") else None
    # torch 2.13 names the flag forward_sync_buffers; earlier releases (2.11 was checked) call it broadcast_buffers
    flag = ("forward_sync_buffers" if "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters
            else "broadcast_buffers")
    return DistributedDataParallel(module, device_ids=device_ids, **{flag: False})
