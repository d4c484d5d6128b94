"""Small MLP vector fields compiled into the Warp solver: a neural ODE or a UDE solved without torch calls.

    field = mlp_field((2, 5, 5, 5, 2), activation="gaussian", known=lotka_volterra_known)
    ys = odeint(field.with_params(theta), y0, t, method="rk4", step_size=0.05)
    # theta: (P,) one network for every trajectory, or (R, P) one network per trajectory; gradients reach
    # y0 and theta through Warp's adjoint of the solver kernels

The network ``y -> W_L act(... act(W_1 y + b_1) ...) + b_L`` is emitted as straight-line Warp code (one
scalar per unit, no runtime loops, so ``wp.Tape`` replays it exactly), written to
``~/.cache/diffsim/ode/`` under a hash of its source and imported, like the rigid engine's generated
dynamics. The whole RK4 step of every trajectory then runs inside one kernel, where the torch path
(:mod:`diffsim.ode.torch_solver` with an ``nn.Module`` field) pays several small torch calls per stage.
Meant for small networks: the source grows with the parameter count (a 2-32-32-2 network is 1 218
parameters, about as many multiply-adds in the source), and so does Warp's compile time.

Flat parameter layout, layer by layer (sizes ``a -> b``): the weights ``W[i, j]`` (input ``i`` to unit
``j``) at ``i * b + j``, then the ``b`` biases. :func:`flatten_linears` converts torch ``nn.Linear`` layers
(weight ``(b, a)``, also stacked over runs by ``torch.func.stack_module_state``) into it; :func:`torch_mlp`
evaluates the same network in torch (the reference the Warp path is tested against).
"""
from __future__ import annotations

import hashlib

import torch
import warp as wp

from diffsim import runtime
from diffsim.ode.field import WarpVectorField

ACTIVATIONS = {"tanh": "wp.tanh({a})", "gaussian": "wp.exp(-{a} * {a})"}
_TORCH_ACTIVATIONS = {"tanh": torch.tanh, "gaussian": lambda a: torch.exp(-a * a)}
_LOADED: dict = {}


def _check_sizes(sizes) -> tuple:
    sizes = tuple(sizes)
    if len(sizes) < 2 or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in sizes):
        raise ValueError(f"sizes must list >= 2 positive ints (input, hidden..., output), got {sizes!r}")
    return sizes


def parameter_count(sizes) -> int:
    """Number of weights and biases of the MLP with layer widths ``sizes``."""
    sizes = _check_sizes(sizes)
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def _source(sizes, activation: str, known: bool) -> str:
    lines = ["from typing import Any", "", "import warp as wp", "", "", "@wp.func",
             "def mlp_field(t: Any, y: Any, p: Any):"]
    h = [f"y[{i}]" for i in range(sizes[0])]
    off, last = 0, len(sizes) - 2
    for layer, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        out = []
        for j in range(b):
            terms = " + ".join(f"{h[i]} * p[{off + i * b + j}]" for i in range(a))
            name = f"h{layer + 1}_{j}"
            lines.append(f"    {name} = p[{off + a * b + j}] + {terms}")
            if layer < last:
                lines.append(f"    {name} = " + ACTIVATIONS[activation].format(a=name))
            out.append(name)
        off += a * b + b
        h = out
    net = f"type(y)({', '.join(h)})"
    lines.append(f"    return {net} + known(t, y)" if known else f"    return {net}")
    return "\n".join(lines) + "\n"


def mlp_field(sizes, activation: str = "tanh", known: wp.Function | None = None, params=None,
              name: str = "mlp_field") -> WarpVectorField:
    """A Warp vector field ``dy/dt = MLP(y) [+ known(t, y)]``.

    Args:
        sizes: layer widths ``(D, hidden..., D)``; input and output width ``D`` are the state's.
        activation: ``"tanh"`` or ``"gaussian"`` (``exp(-x^2)``) on every hidden layer; the last is linear.
        known: optional ``@wp.func known(t, y) -> dy/dt`` of the same vector type (the fixed terms of a UDE),
            written generically (``typing.Any``) like any field.
        params: flat parameters ``(P,)`` or ``(*batch, P)`` (default zeros); see :func:`parameter_count`.
    """
    sizes = _check_sizes(sizes)
    if sizes[0] != sizes[-1]:
        raise ValueError(f"sizes must start and end with the state width (a vector field), got {sizes}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    if known is not None and not isinstance(known, wp.Function):
        raise TypeError(f"known must be a @wp.func known(t, y) or None, got {type(known).__name__}")
    P = parameter_count(sizes)
    if params is None:
        params = torch.zeros(P, dtype=torch.float64)
    params = torch.as_tensor(params)
    if params.dim() == 0 or params.shape[-1] != P:
        raise ValueError(f"params must have shape (..., {P}) for sizes {sizes}, got {tuple(params.shape)}")
    return WarpVectorField(_load(sizes, activation, known), sizes[0], params, name)


def _load(sizes, activation, known):
    src = _source(sizes, activation, known is not None)
    key = (src, known)
    if key not in _LOADED:
        # one module object per (source, known): Warp resolves ``known`` from the module's globals at build time
        suffix = "" if known is None else f"_{hashlib.sha256(known.key.encode()).hexdigest()[:8]}_{id(known):x}"
        module, _ = runtime.import_generated(src, "ode", "mlp", suffix, {"known": known})
        _LOADED[key] = module.mlp_field
    return _LOADED[key]


def flatten_linears(linears) -> torch.Tensor:
    """Flat parameters from torch ``nn.Linear`` layers in order, or from ``(weight, bias)`` pairs stacked over
    runs (weights ``(R, b, a)``, biases ``(R, b)``, as ``torch.func.stack_module_state`` gives): ``(P,)`` or
    ``(R, P)``. Differentiable."""
    parts = []
    for layer in linears:
        w, b = (layer.weight, layer.bias) if isinstance(layer, torch.nn.Linear) else layer
        if b is None:
            raise ValueError("every layer needs a bias (the flat layout has one per unit)")
        parts += [w.transpose(-1, -2).reshape(*w.shape[:-2], -1), b]
    return torch.cat(parts, -1)


def torch_mlp(theta: torch.Tensor, y: torch.Tensor, sizes, activation: str = "tanh") -> torch.Tensor:
    """The same MLP in torch: ``theta`` ``(P,)`` or ``(R, P)`` (then ``y`` is ``(R, ..., D)``)."""
    sizes = _check_sizes(sizes)
    act = _TORCH_ACTIVATIONS[activation]
    batched = theta.dim() == 2
    h = y.reshape(y.shape[0], -1, sizes[0]) if batched else y
    off = 0
    for layer, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        w = theta[..., off:off + a * b].reshape(*theta.shape[:-1], a, b)
        bias = theta[..., off + a * b:off + a * b + b]
        h = torch.baddbmm(bias.unsqueeze(1), h, w) if batched else h @ w + bias
        if layer < len(sizes) - 2:
            h = act(h)
        off += a * b + b
    return h.reshape(y.shape[:-1] + (sizes[-1],))
