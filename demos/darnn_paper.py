"""DA-RNN in its paper's setting, on a chaotic series generated here: ``python -m demos.darnn_paper``.

The DA-RNN paper (Qin et al., IJCAI 2017) predicts a target series one step ahead from its past and from ``n``
driving series (window T = 10, hidden m = p = 64 and 128, Adam 1e-3, minibatch 128) on two public data sets
that cannot be downloaded here. Its SML 2010 set has 16 driving series and 3 200 / 400 / 537 train / valid /
test samples; this demo keeps those sizes on a series that can be generated exactly: Lorenz-96 with 17
variables (forcing 8, chaotic; :func:`controllers.predictors.data.lorenz96`, one sample every 0.05 time units),
variable 0 the target and the other 16 the driving series, split in time. Every model sees the target's
last ``--window`` values and the driving series over the same samples plus the predicted one (the paper's
NARX setting: ``y_1 .. y_T`` and ``x_1 .. x_{T+1}`` for ``y_{T+1}``).

Models (:mod:`controllers.predictors`): ``DARNN``, the encoder-decoder ``LSTMSeq2Seq`` and
``AttentionSeq2Seq(score="additive")`` (the paper's "Attention RNN"), each at hidden 64 and 128, ``--seeds``
each. Reported on the test segment, in the target's units: MAE and RMSE, mean +- std over seeds (MAPE, the
paper's third metric, is not: Lorenz-96 values cross zero). The paper's SML 2010 numbers are printed beside
for scale only: the data differ.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from controllers.predictors import DARNN, AttentionSeq2Seq, LSTMSeq2Seq, fit, predict, windows
from controllers.predictors.data import lorenz96

# the paper's Table 2, SML 2010 (MAE, RMSE in units of 1e-2 degrees C), mean over 10 runs
PAPER_SML = {("lstm", 64): (2.59, 3.37), ("lstm", 128): (1.91, 2.52), ("attention", 64): (1.78, 2.32),
             ("attention", 128): (1.77, 2.33), ("darnn", 64): (1.53, 2.02), ("darnn", 128): (1.50, 1.97)}
SPLIT = (3200, 400, 537)


def build(name: str, hidden: int, exog: int, window: int):
    if name == "darnn":
        return DARNN(input_dim=1, exog_dim=exog, hidden=hidden, window=window)
    if name == "attention":
        return AttentionSeq2Seq(input_dim=1, exog_dim=exog, hidden=hidden, score="additive")
    return LSTMSeq2Seq(input_dim=1, exog_dim=exog, hidden=hidden)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=["darnn", "lstm", "attention"],
                        default=["darnn", "lstm", "attention"])
    parser.add_argument("--hidden", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--steps", type=int, default=3000, help="Adam steps (minibatches of 128) per model")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--split", type=int, nargs=3, default=list(SPLIT), help="train, valid, test windows")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("outputs/darnn_paper"))
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.window < 1 or min(args.split) < 1 or args.steps < 1:
        parser.error("--window, --split and --steps must be >= 1")
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    series = lorenz96(samples=sum(args.split) + args.window, seed=0).float()  # (L, 17)
    past, future, exog = windows(series[None, :, :1], args.window, 1, series[None, :, 1:])
    n_train, n_valid, _ = args.split
    train = slice(0, n_train)
    test = slice(n_train + n_valid, n_train + n_valid + args.split[2])
    print(f"# Lorenz-96, 17 variables: {past[train].shape[0]} training and {past[test].shape[0]} test windows "
          f"(target std {float(series[:, 0].std()):.2f}), window {args.window}")
    rows = []
    for name in args.models:
        for hidden in args.hidden:
            for seed in args.seeds:
                torch.manual_seed(seed)
                model = build(name, hidden, exog.shape[-1], args.window)
                start = time.perf_counter()
                fit(model, past[train], future[train], exog[train], steps=args.steps, lr=1e-3, batch_size=128,
                    seed=seed, progress=not args.no_progress)
                seconds = time.perf_counter() - start
                pred, _ = predict(model, past[test], 1, exog[test])
                err = (pred - future[test])[:, 0, 0].double()
                rows.append(dict(model=name, hidden=hidden, seed=seed, mae=float(err.abs().mean()),
                                 rmse=float(err.square().mean().sqrt()), seconds=seconds))
                print(f"{name:10s} {hidden:4d} seed {seed}: MAE {rows[-1]['mae']:.4f}  RMSE {rows[-1]['rmse']:.4f} "
                      f"({seconds:.0f} s)", flush=True)
    (args.out / "results.json").write_text(json.dumps(dict(rows=rows, settings=vars(args) | {"out": str(args.out)})))
    print("\n| model | hidden | MAE (mean ± sd) | RMSE (mean ± sd) | train s | paper, SML 2010: MAE, RMSE (x 1e-2) |")
    print("|---|---|---|---|---|---|")
    for name in args.models:
        for hidden in args.hidden:
            mine = [r for r in rows if r["model"] == name and r["hidden"] == hidden]
            mae, rmse = np.array([r["mae"] for r in mine]), np.array([r["rmse"] for r in mine])
            paper = PAPER_SML.get((name, hidden))
            print(f"| {name} | {hidden} | {mae.mean():.4f} ± {mae.std():.4f} | {rmse.mean():.4f} ± {rmse.std():.4f} | "
                  f"{np.mean([r['seconds'] for r in mine]):.0f} | {f'{paper[0]}, {paper[1]}' if paper else '-'} |")
    print(f"results.json written to {args.out}/")
    return rows


if __name__ == "__main__":
    main()
