"""Sequence predictors: training and inference throughput (sequences/s), and the causal transformer beside the same
architecture built from ``nn.TransformerEncoder``, in one run.

For every model of :mod:`controllers.predictors` (width ``--width``), on random windows of ``--window`` steps of a
4-dimensional state with 2 inputs: one training step (forward + backward + Adam) on a batch of ``--batch``
windows with a ``--train-horizon``-step loss, and inference (``torch.no_grad``, evaluation mode) of
``--horizon`` steps; median of ``--repeats`` timings after a warm-up. The reference ``nn.TransformerEncoder``
model has the same token map, lag encoding, pre-norm layers (GELU, 4x MLP, causal mask), head and rolling
window as :class:`~controllers.predictors.CausalTransformer` (whose blocks use ``nn.MultiheadAttention`` so that
they can return the attention weights).

Usage: ``python -m benchmarks.bench_predictors [--width 32] [--threads 1]``
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch
from torch import nn

from controllers.predictors import DARNN, AttentionSeq2Seq, CausalTransformer, LSTMSeq2Seq, MemoryNetwork
from controllers.predictors.base import Predictor
from controllers.predictors.memory import lag_encoding


class TorchEncoderTransformer(Predictor):
    """The causal transformer from ``nn.TransformerEncoder`` (no attention weights returned)."""

    def __init__(self, input_dim, exog_dim=0, dim=64, heads=4, layers=2):
        super().__init__(input_dim, exog_dim)
        self.dim = dim
        self.tokens = nn.Linear(input_dim + exog_dim, dim)
        layer = nn.TransformerEncoderLayer(dim, heads, 4 * dim, dropout=0.0, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, input_dim)

    def _predict(self, x, horizon, u):
        T = x.shape[1]
        window = self.inputs_at(x, u, slice(0, T))
        position = lag_encoding(T, self.dim, x.dtype, x.device)
        mask = nn.Transformer.generate_square_subsequent_mask(T, dtype=x.dtype, device=x.device)
        last, out = x[:, -1], []
        for k in range(horizon):
            h = self.encoder(self.tokens(window) + position, mask=mask, is_causal=True)
            last = last + self.head(self.norm(h[:, -1]))
            out.append(last)
            if k + 1 < horizon:
                step = last if u is None else torch.cat([last, u[:, T + k]], -1)
                window = torch.cat([window[:, 1:], step[:, None]], 1)
        return torch.stack(out, 1), {}


def _time(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--train-horizon", type=int, default=10)
    parser.add_argument("--horizon", type=int, default=50)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    D, E, w, T = 4, 2, args.width, args.window
    models = {
        "LSTM seq2seq (nn.LSTM)": LSTMSeq2Seq(D, E, hidden=w),
        "attention seq2seq, additive": AttentionSeq2Seq(D, E, hidden=w, score="additive"),
        "DA-RNN": DARNN(D, E, hidden=w, window=T),
        "memory network": MemoryNetwork(D, E, embed=w),
        "causal transformer (nn.MultiheadAttention blocks)": CausalTransformer(D, E, dim=w, heads=4, layers=2),
        "same, from nn.TransformerEncoder": TorchEncoderTransformer(D, E, dim=w, heads=4, layers=2),
    }
    past = torch.randn(args.batch, T, D)
    future = torch.randn(args.batch, args.train_horizon, D)
    exog = torch.randn(args.batch, T + args.horizon, E)
    print(f"# {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__} on {args.threads} thread(s); "
          f"width {w}, window {T}, batch {args.batch}")
    print(f"| model | training steps/s ({args.train_horizon}-step loss) | training sequences/s | "
          f"inference sequences/s ({args.horizon} steps) |")
    print("|---|---|---|---|")
    for name, model in models.items():
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        ex_train = exog[:, :T + args.train_horizon]

        def train_step():
            pred, _ = model(past, args.train_horizon, ex_train)
            loss = ((pred - future) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()

        def infer():
            with torch.no_grad():
                model(past, args.horizon, exog)

        model.train()
        t_train = _time(train_step, args.repeats)
        model.eval()
        t_infer = _time(infer, args.repeats)
        print(f"| {name} | {1 / t_train:.1f} | {args.batch / t_train:,.0f} | {args.batch / t_infer:,.0f} |",
              flush=True)


if __name__ == "__main__":
    main()
