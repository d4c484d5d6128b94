"""Training under torchrun (gloo, two CPU processes): the same step as one process, checkpoints that resume on
another number of ranks, a two-"node" rendezvous on the loopback address, and a failing rank that stops the job
(one torchrun job serves the default tests; the two-node run and the killed rank are `slow`: each starts its own
processes, ~10-30 s)."""
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from controllers import distributed
from controllers.train import main as train_main

HELPERS = Path(__file__).parent / "helpers"
ARGS = ["--env", "diffsim/Pendulum-v0", "--num-envs", "8", "--window", "8", "--eval-episodes", "0", "--no-progress"]


def torchrun(*args, nproc=2, timeout=180, extra=()):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", *extra, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))


def params(path):
    saved = torch.load(path, weights_only=True)
    return saved, torch.cat([v.reshape(-1).double() for k, v in sorted(saved["actor"].items())]), \
        torch.cat([v.reshape(-1).double() for k, v in sorted(saved["critic"].items())])


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    """One torchrun job of two ranks runs the three phases of helpers/ranks.py (a fit, 2 SHAC iterations, a run
    whose rank 1 fails) after the same fit and training in this process, which the ranks are compared with (run
    first: the ranks then find their compiled kernels). Returns the output folder and the finished job."""
    out = tmp_path_factory.mktemp("ranks")
    sys.path.insert(0, str(HELPERS))
    try:
        from fit_ranks import fitted
    finally:
        sys.path.remove(str(HELPERS))
    torch.save(fitted(distributed.Context()).state_dict(), out / "fit_one.pt")
    train_main([*ARGS, "--iterations", "2", "--out", str(out / "one")])
    return out, torchrun(str(HELPERS / "ranks.py"), str(out), *ARGS, timeout=240)


def test_two_ranks_take_one_process_step_and_checkpoints_resume_on_one(two_ranks):
    """2 ranks x 4 worlds == 1 process x 8 worlds after 2 SHAC iterations (actor float64 to 1e-9, critic float32
    to 1e-4: the all-reduce sums in another order); the 2-rank checkpoint resumed by one process for a third
    iteration ends where the 1-process run continued does."""
    out, run = two_ranks
    assert "phase 2 done" in run.stdout, run.stderr[-3000:]
    two, one = out / "train", out / "one"
    s2, a2, c2 = params(two / "checkpoint.pt")
    s1, a1, c1 = params(one / "checkpoint.pt")
    assert s2["iteration"] == s1["iteration"] == 2
    torch.testing.assert_close(a2, a1, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(c2, c1, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(s2["state"], s1["state"], rtol=1e-9, atol=1e-9)  # every world's state is kept
    assert torch.equal(s2["age"], s1["age"])
    ranks = (two / "distributed.json").read_text()
    assert '"world_size": 2' in ranks and '"worlds": [\n   4,\n   8\n  ]' in ranks
    # the 2-rank checkpoint resumes in one process
    train_main([*ARGS, "--iterations", "3", "--out", str(two), "--resume"])
    train_main([*ARGS, "--iterations", "3", "--out", str(one), "--resume"])
    _, a2, _ = params(two / "checkpoint.pt")
    _, a1, _ = params(one / "checkpoint.pt")
    torch.testing.assert_close(a2, a1, rtol=1e-8, atol=1e-8)


def test_fit_on_two_ranks_takes_the_steps_of_one(two_ranks):
    out, run = two_ranks
    assert "phase 1 done" in run.stdout, run.stderr[-3000:]
    one = torch.load(out / "fit_one.pt", weights_only=True)
    two = torch.load(out / "fit.pt", weights_only=True)
    for k in one:
        torch.testing.assert_close(two[k], one[k], rtol=1e-10, atol=1e-12)


def test_a_nan_on_one_rank_stops_every_rank_and_the_last_good_checkpoint_is_kept(two_ranks):
    out, run = two_ranks
    assert "phase 2 done" in run.stdout, run.stderr[-3000:]
    assert run.returncode != 0
    assert "non-finite loss at iteration 2 on rank(s) [1]" in run.stderr
    saved = torch.load(out / "faulty" / "checkpoint.pt", weights_only=True)  # written after 2 good iterations
    assert saved["iteration"] == 2
    assert all(torch.isfinite(v).all() for v in saved["actor"].values())


@pytest.mark.slow
def test_two_nodes_rendezvous_on_the_loopback_address(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=2", "--nproc_per_node=1", "--rdzv-backend=c10d",
           f"--rdzv-endpoint=127.0.0.1:{port}", "--rdzv-id=diffsim-test", "-m", "controllers.train", *ARGS,
           "--iterations", "2", "--out", str(tmp_path)]
    nodes = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=180) for p in nodes]
    assert all(p.returncode == 0 for p in nodes), [o[1][-2000:] for o in outs]
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert saved["iteration"] == 2 and saved["state"].shape[0] == 8


@pytest.mark.slow
def test_a_killed_rank_stops_every_rank_and_the_last_good_checkpoint_is_kept(tmp_path):
    run = torchrun(str(HELPERS / "faulty_rank.py"), "kill", *ARGS, "--iterations", "6", "--out", str(tmp_path),
                   timeout=120)
    assert run.returncode != 0
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)  # written after 2 good iterations
    assert saved["iteration"] == 2
    assert all(torch.isfinite(v).all() for v in saved["actor"].values())


@pytest.mark.parametrize("gpus, local_rank, device", [(1, 0, "cpu"), (1, 1, "cpu"), (2, 0, "cuda:0"), (4, 1, "cuda:1")])
def test_ranks_take_a_gpu_each_or_all_run_on_the_cpu(monkeypatch, gpus, local_rank, device):
    """Two local ranks on a machine with one GPU would mix NCCL and gloo in one process group: both run on the CPU."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
    for name, value in dict(WORLD_SIZE="1", RANK="0", LOCAL_RANK=str(local_rank), LOCAL_WORLD_SIZE="2").items():
        monkeypatch.setenv(name, value)
    assert distributed.init().device == device


def test_joining_again_after_close_is_refused(monkeypatch):
    """A second process group in one process would reuse the first one's keys on torchrun's store (it hung once):
    init() after close() raises before touching the store."""
    for name, value in dict(WORLD_SIZE="2", RANK="0", LOCAL_RANK="0", LOCAL_WORLD_SIZE="2").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(distributed, "_left_group", True)
    monkeypatch.setattr(distributed.dist, "init_process_group", lambda *a, **k: pytest.fail("joined again"))
    with pytest.raises(RuntimeError, match="joins the torchrun process group once"):
        distributed.init()
