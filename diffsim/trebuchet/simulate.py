"""``simulate``: the torch-facing trebuchet, batched and differentiable.

    distance = simulate(wind, angle, mass, model="original")

* ``wind``  -- wind speed in m/s, positive = tailwind (air moving along the throw);
* ``angle`` -- release angle in radians (folded into [-pi/2, pi/2] as asin(sin(angle)));
* ``mass``  -- counterweight mass in kg (the original took pounds: 1 lb = 0.45359237 kg);
* returns the landing distance in metres from the pivot, with the broadcast shape of
  the inputs and their dtype (float32 or float64).

All shots run in one Warp launch, on the inputs' device. The result is
differentiable w.r.t. all three inputs: each thread carries forward-mode dual
numbers, so the 3-column Jacobian comes out of the same launch and backward is a
product with it. Lanes that do not land are flagged, never silently wrong: see
``STATUS`` and ``return_info=True``: ``status``, ``t_release`` (s), ``release``
(projectile ``x, y, v_x, v_y`` at release, m and m/s), ``t_land`` (s), ``steps``, and
with ``record=True`` ``path`` (projectile ``x, y`` at every step, NaN after landing).
"""
from __future__ import annotations

import torch
import warp as wp

from diffsim import parallel, runtime
from diffsim.trebuchet.constants import MODELS, TrebuchetModel
from diffsim.trebuchet.kernel import STATUS, shot_kernel

SHOTS_PER_THREAD = 8  # fewest shots worth a CPU thread of their own


def _launch(model: TrebuchetModel, wind, angle, mass, record: bool):
    runtime.init()
    B = wind.numel()
    dev = wind.device
    dtype = wind.dtype
    out = dict(
        distance=torch.empty(B, dtype=dtype, device=dev),
        jac=torch.empty(B, 3, dtype=dtype, device=dev),
        status=torch.empty(B, dtype=torch.int32, device=dev),
        t_release=torch.empty(B, dtype=dtype, device=dev),
        release=torch.empty(B, 4, dtype=dtype, device=dev),
        t_land=torch.empty(B, dtype=dtype, device=dev),
        steps=torch.empty(B, dtype=torch.int32, device=dev),
        path=torch.full((B if record else 1, model.max_steps + 1 if record else 1, 2), float("nan"),
                        dtype=dtype, device=dev),
    )
    if B == 0:
        return out
    S = runtime.warp_scalar(dtype)
    kern = shot_kernel(model, dtype)

    def w(t, lo, hi, dt=None):
        return wp.from_torch(t[lo:hi], dtype=dt, requires_grad=False)

    def launch(block):
        lo, hi = block
        p = (lo, hi) if record else (0, 1)
        wp.launch(kern, hi - lo, inputs=[w(wind, lo, hi), w(angle, lo, hi), w(mass, lo, hi)],
                  outputs=[w(out["distance"], lo, hi), w(out["jac"], lo, hi, wp.types.vector(3, S)),
                           w(out["status"], lo, hi), w(out["t_release"], lo, hi),
                           w(out["release"], lo, hi, wp.types.vector(4, S)), w(out["t_land"], lo, hi),
                           w(out["steps"], lo, hi), int(record), w(out["path"], *p, wp.types.vector(2, S)),
                           int(model.max_steps)],
                  device=device)

    device = runtime.resolve_device(str(dev))
    with runtime.torch_stream(dev):
        # a shot is hundreds of steps: blocks of a few shots already pay the thread hand-off (CPU only)
        parallel.map_threads(launch, parallel.blocks(B, device, min_per_thread=SHOTS_PER_THREAD))
    return out


_EXTRAS = ("status", "t_release", "release", "t_land", "steps", "path")


class _Shot(torch.autograd.Function):
    @staticmethod
    def forward(ctx, model, record, wind, angle, mass):
        out = _launch(model, wind.detach().contiguous(), angle.detach().contiguous(), mass.detach().contiguous(),
                      record)
        ctx.save_for_backward(out["jac"])
        extras = [out[k] for k in _EXTRAS]
        ctx.mark_non_differentiable(*extras)
        return (out["distance"], *extras)

    @staticmethod
    def backward(ctx, grad_distance, *unused):
        (jac,) = ctx.saved_tensors
        g = grad_distance.unsqueeze(-1) * jac
        return None, None, g[:, 0], g[:, 1], g[:, 2]


def _as_tensor(name, x, like=None):
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(x, dtype=like.dtype if like is not None else torch.get_default_dtype(),
                            device=like.device if like is not None else None)
    if not x.is_floating_point():
        x = x.to(torch.get_default_dtype())
    if x.dtype not in runtime.SUPPORTED_DTYPES:
        raise TypeError(f"{name} must be float32 or float64, got {x.dtype}")
    if bool(torch.isnan(x).any()) or bool(torch.isinf(x).any()):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return x


def simulate(wind, angle, mass, model: str | TrebuchetModel = "original", *, return_info: bool = False,
             record: bool = False, nonpositive_mass: str = "raise"):
    """Landing distance (m) of a batch of shots; see the module docstring for units and flags.

    Raises ``ValueError`` for NaN/inf inputs, shapes that do not broadcast, an unknown model,
    or a counterweight ``mass`` <= 0 kg. ``nonpositive_mass="flag"`` lets such lanes through
    as the original Trebuchet.jl did (its unbounded aiming network can propose them): they
    get the status flag, the projectile's resting x as distance and zero gradient. A mass
    too light to lift the arm is a physical outcome, never an error: status flag, resting
    x, zero gradient. Lanes that hit the step cap get NaN.
    """
    if nonpositive_mass not in ("raise", "flag"):
        raise ValueError(f"nonpositive_mass must be 'raise' or 'flag', got {nonpositive_mass!r}")
    if isinstance(model, str):
        if model not in MODELS:
            raise ValueError(f"model must be one of {sorted(MODELS)}, got {model!r}")
        model = MODELS[model]
    if not isinstance(model, TrebuchetModel):
        raise TypeError(f"model must be a name or a TrebuchetModel, got {type(model).__name__}")
    if int(model.max_steps) < 1:
        raise ValueError(f"model.max_steps must be >= 1 (steps per shot), got {model.max_steps}")
    ref = next((x for x in (wind, angle, mass) if isinstance(x, torch.Tensor)), None)
    wind = _as_tensor("wind", wind, ref)
    angle = _as_tensor("angle", angle, wind)
    mass = _as_tensor("mass", mass, wind)
    if nonpositive_mass == "raise" and bool((mass <= 0).any()):
        raise ValueError(f"mass must be > 0 (counterweight, kg), got {float(mass.min())} "
                         f"(pass nonpositive_mass='flag' to flag such shots instead)")
    dtypes = {wind.dtype, angle.dtype, mass.dtype}
    if len(dtypes) != 1:
        raise TypeError(f"wind, angle and mass must share one dtype, got {sorted(map(str, dtypes))}")
    try:
        shape = torch.broadcast_shapes(wind.shape, angle.shape, mass.shape)
    except RuntimeError as exc:
        raise ValueError(f"wind {tuple(wind.shape)}, angle {tuple(angle.shape)} and mass {tuple(mass.shape)} "
                         f"do not broadcast") from exc
    wb, ab, mb = (x.expand(shape).reshape(-1) for x in (wind, angle, mass))
    dist, *extras = _Shot.apply(model, record, wb, ab, mb)
    dist = dist.reshape(shape)
    if not return_info:
        return dist
    info = {k: v.reshape(*shape, *v.shape[1:]) for k, v in zip(_EXTRAS, extras) if k != "path" or record}
    return dist, info


__all__ = ["simulate", "STATUS"]
