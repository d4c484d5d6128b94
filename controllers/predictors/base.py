"""What every sequence predictor shares: the calling convention, input checks, scaling and residual outputs.

    prediction, attention = model(history, horizon, exog=None)

* ``history (B, T, D)``: the last ``T`` observed states (``input_dim = D``);
* ``exog (B, T + horizon, E)``: inputs known over the history *and* the horizon (e.g. the controls
  applied), required when ``exog_dim = E > 0``, refused otherwise;
* ``prediction (B, horizon, D)``: the next ``horizon`` states, produced autoregressively (each predicted state is
  fed back for the next step);
* ``attention``: a dict of named weight tensors, each a probability distribution over its last axis
  (empty for models without attention).

States are scaled by per-dimension ``(x - mean) / std`` buffers (set from training data with
:meth:`Predictor.set_scale`; identity until then) and every model predicts the scaled *change* of the state
per step, which is added to the last state: a model that outputs zeros predicts "no motion".
"""
from __future__ import annotations

import torch
from torch import nn


class Predictor(nn.Module):
    """Base class: subclasses implement :meth:`_predict` on scaled inputs."""

    def __init__(self, input_dim: int, exog_dim: int = 0):
        super().__init__()
        for name, value, low in (("input_dim", input_dim, 1), ("exog_dim", exog_dim, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
        self.input_dim, self.exog_dim = input_dim, exog_dim
        self.register_buffer("state_mean", torch.zeros(input_dim))
        self.register_buffer("state_std", torch.ones(input_dim))
        self.register_buffer("exog_mean", torch.zeros(exog_dim))
        self.register_buffer("exog_std", torch.ones(exog_dim))

    @torch.no_grad()
    def set_scale(self, states: torch.Tensor, exog: torch.Tensor | None = None) -> None:
        """Scale states (and inputs) by the mean and standard deviation of ``states (..., D)`` (``exog (..., E)``)."""
        s = states.reshape(-1, self.input_dim)
        self.state_mean.copy_(s.mean(0))
        self.state_std.copy_(s.std(0).clamp_min(1e-6))
        if self.exog_dim:
            if exog is None:
                raise ValueError(f"exog must be given to set_scale when exog_dim={self.exog_dim}")
            e = exog.reshape(-1, self.exog_dim)
            self.exog_mean.copy_(e.mean(0))
            self.exog_std.copy_(e.std(0).clamp_min(1e-6))

    def check(self, history, horizon, exog):
        """Refuse bad input with a message naming the argument and what is accepted."""
        if not isinstance(history, torch.Tensor) or history.dim() != 3 or history.shape[-1] != self.input_dim:
            got = tuple(history.shape) if isinstance(history, torch.Tensor) else type(history).__name__
            raise ValueError(f"history must be a tensor of shape (batch, T, input_dim={self.input_dim}), got {got}")
        if history.shape[1] < 1:
            raise ValueError("history must hold at least one step (T >= 1)")
        if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
            raise ValueError(f"horizon must be an int >= 1, got {horizon!r}")
        if not bool(torch.isfinite(history).all()):
            raise ValueError("history must be finite (no NaN or inf)")
        if self.exog_dim == 0:
            if exog is not None:
                raise ValueError("exog was given but the model was built with exog_dim=0")
            return
        want = (history.shape[0], history.shape[1] + horizon, self.exog_dim)
        if not isinstance(exog, torch.Tensor) or tuple(exog.shape) != want:
            got = tuple(exog.shape) if isinstance(exog, torch.Tensor) else type(exog).__name__
            raise ValueError(f"exog must be a tensor of shape (batch, T + horizon, exog_dim) = {want}, got {got}")
        if not bool(torch.isfinite(exog).all()):
            raise ValueError("exog must be finite (no NaN or inf)")

    def forward(self, history: torch.Tensor, horizon: int, exog: torch.Tensor | None = None):
        self.check(history, horizon, exog)
        dtype = self.state_mean.dtype
        x = (history.to(dtype) - self.state_mean) / self.state_std
        u = None
        if self.exog_dim:
            u = (exog.to(dtype) - self.exog_mean) / self.exog_std
        pred, attention = self._predict(x, horizon, u)
        return (pred * self.state_std + self.state_mean).to(history.dtype), attention

    def _predict(self, x: torch.Tensor, horizon: int, u: torch.Tensor | None):
        """``x (B, T, D)`` scaled history, ``u (B, T + horizon, E)`` scaled inputs or ``None``: returns the scaled
        prediction ``(B, horizon, D)`` and the attention dict."""
        raise NotImplementedError

    @staticmethod
    def inputs_at(x: torch.Tensor, u: torch.Tensor | None, k: int | slice) -> torch.Tensor:
        """``[state, input]`` features: the states ``x[:, k]`` with the inputs ``u[:, k]`` appended (if any)."""
        if u is None:
            return x[:, k]
        return torch.cat([x[:, k], u[:, k]], dim=-1)
