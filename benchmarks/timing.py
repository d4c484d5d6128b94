"""Wall-clock timing shared by the benchmark scripts."""
from __future__ import annotations

import time

import torch


def best_time(fn, repeats: int, device: str | torch.device = "cpu") -> float:
    """Seconds of the fastest of ``repeats`` calls of ``fn()``, after one untimed warm-up call. On a CUDA
    ``device`` each call is timed until the device has finished its work (``torch.cuda.synchronize``)."""
    def sync():
        if str(device).startswith("cuda"):
            torch.cuda.synchronize(device)

    fn()
    sync()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        best = min(best, time.perf_counter() - t0)
    return best
