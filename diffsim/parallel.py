"""Per-world kernel launches spread over the CPU's cores, differentiably.

Warp's CPU backend runs a launch on one thread. Worlds are independent, so a
sequence of per-world launches (a rollout) can run as contiguous blocks of worlds
on several Python threads at once: Warp calls its compiled CPU kernels through
``ctypes``, which releases the GIL, so the blocks run in parallel on the cores.

``launch_worlds(launches, num_worlds, device)`` runs ``launches`` -- a list of
``(kernel, inputs)`` -- in order for every world. Each kernel must take a last
parameter ``w0: int`` and handle world ``wp.tid() + w0``, reading and writing only
that world's entries of every array (so that neither the forward nor the adjoint of
two blocks touch the same memory). On the CPU with more than one thread and enough
worlds, each thread runs the whole sequence on its block; otherwise one launch per
kernel covers all worlds. Launches are replayed from recorded commands (only changed
scalar arguments are repacked). Under an active ``wp.Tape`` the sequence is recorded
as one tape function that runs the adjoints in reverse, block-parallel too.
``record_worlds`` records such a sequence once and returns a function that replays it
(forward, or the adjoints in reverse), for callers that keep their buffers between calls.

Threads: ``$DIFFSIM_CPU_THREADS`` if set, else the number of CPU cores the process
may use; ``set_cpu_threads(n)`` overrides both. Blocks have at least
``MIN_WORLDS_PER_THREAD`` worlds (thread hand-off costs tens of microseconds).
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

import warp as wp

MIN_WORLDS_PER_THREAD = 128

_threads: int | None = None
_pool: ThreadPoolExecutor | None = None


def cpu_threads() -> int:
    """Threads used for CPU launches (>= 1)."""
    if _threads is not None:
        return _threads
    env = os.environ.get("DIFFSIM_CPU_THREADS")
    if env:
        try:
            n = int(env)
        except ValueError:
            raise ValueError(f"DIFFSIM_CPU_THREADS must be an integer >= 1, got {env!r}") from None
        if n < 1:
            raise ValueError(f"DIFFSIM_CPU_THREADS must be an integer >= 1, got {env!r}")
        return n
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def set_cpu_threads(n: int | None) -> None:
    """Use ``n`` threads for CPU launches (``None``: back to the default)."""
    global _threads
    if n is not None and (not isinstance(n, int) or n < 1):
        raise ValueError(f"n must be an int >= 1 or None, got {n!r}")
    _threads = n


def blocks(num_worlds: int, device, min_per_thread: int | None = None) -> list[tuple[int, int]]:
    """The ``[lo, hi)`` world blocks a CPU launch of ``num_worlds`` is split into (blocks of at least
    ``min_per_thread`` worlds, default ``MIN_WORLDS_PER_THREAD``: cheap kernels need more to pay the hand-off)."""
    n = 1
    if str(device) == "cpu":
        n = max(1, min(cpu_threads(), num_worlds // (min_per_thread or MIN_WORLDS_PER_THREAD)))
    edges = [num_worlds * i // n for i in range(n + 1)]
    return [(edges[i], edges[i + 1]) for i in range(n)]


def map_threads(fn, items: Sequence) -> list:
    """``fn`` over ``items``: the first on this thread, the rest on the pool; re-raises the first error."""
    global _pool
    if len(items) == 1:
        return [fn(items[0])]
    if _pool is None or _pool._max_workers < len(items) - 1:
        _pool = ThreadPoolExecutor(max_workers=len(items) - 1, thread_name_prefix="diffsim-cpu")
    futures = [_pool.submit(fn, item) for item in items[1:]]
    first = fn(items[0])
    return [first, *(f.result() for f in futures)]


def active_tape():
    """The ``wp.Tape`` being recorded, if any (Warp keeps it on its runtime; no public accessor in 1.19)."""
    from warp._src import context  # noqa: PLC0415

    return context.runtime.tape


def _adjoint(a):
    return a.grad if isinstance(a, wp.array) and a.grad is not None else None


def _plan(launches, lo: int, hi: int, device, adjoint: bool) -> list:
    """``launches`` over worlds ``[lo, hi)`` (reversed, as adjoints, if ``adjoint``) as recorded commands.

    A launch is recorded once per kernel (``record_cmd``) and replayed; when the next launch of
    that kernel has the same arrays, only its changed scalar arguments are repacked. (Packing every
    argument of every launch was most of the cost of a short rollout.) Returns
    ``[(command, [(arg index, value), ...]), ...]``; the commands are created here, on the
    calling thread (recording from several threads at once crashed Warp 1.19).
    """
    plan, recorded = [], {}
    for kernel, inputs in (reversed(launches) if adjoint else launches):
        args = [*inputs, lo]
        cmd, old, arrays, scalars = recorded.get(kernel, (None, None, None, None))
        if cmd is None or any(args[i] is not old[i] for i in arrays):
            kw = dict(adj_inputs=[_adjoint(a) for a in args], adjoint=True) if adjoint else {}
            cmd = wp.launch(kernel, hi - lo, inputs=args, device=device, record_tape=False, record_cmd=True, **kw)
            arrays = [i for i, b in enumerate(args) if isinstance(b, wp.array)]  # a kernel's argument types are fixed
            scalars = [i for i, b in enumerate(args) if not isinstance(b, wp.array)]
            # (re)set every scalar when this command starts, so the plan can run more than once
            updates = [(i, args[i]) for i in scalars]
        else:
            updates = [(i, args[i]) for i in scalars if args[i] is not old[i]]
        recorded[kernel] = (cmd, args, arrays, scalars)
        plan.append((cmd, updates))
    return plan


def launch_commands(commands: Sequence) -> None:
    """Launch recorded commands (one per world block, from :func:`blocks`) at once, one thread each."""
    map_threads(_launch, commands)


def _launch(command) -> None:
    command.launch()


def _run(plan) -> None:
    for cmd, updates in plan:
        for i, value in updates:
            cmd.set_param_at_index(i, value)
        cmd.launch()


def record_worlds(launches: Sequence[tuple[wp.Kernel, Sequence]], num_worlds: int, device, adjoint: bool = False):
    """``launches`` over ``num_worlds`` worlds recorded once: returns a function that runs them (no tape)
    each time it is called, on the arrays given here (for callers that keep persistent buffers).
    ``adjoint=True``: their adjoints in reverse order, accumulating into the arrays' ``.grad``."""
    plans = [_plan(launches, lo, hi, device, adjoint=adjoint) for lo, hi in blocks(num_worlds, device)]
    return lambda: map_threads(_run, plans)


def launch_worlds(launches: Sequence[tuple[wp.Kernel, Sequence]], num_worlds: int, device) -> None:
    """Run ``launches`` (a list of ``(kernel, inputs)``) in order over ``num_worlds`` worlds; see the module doc."""
    record_worlds(launches, num_worlds, device)()
    tape = active_tape()
    if tape is not None:
        with_grad = {id(a): a for _, inputs in launches for a in inputs if _adjoint(a) is not None}
        tape.record_func(lambda: record_worlds(launches, num_worlds, device, adjoint=True)(), list(with_grad.values()))
