"""The alpha-order policy gradient: first-order (through the simulator) and zeroth-order (likelihood-ratio)
estimates mixed per state by their variances, the first-order one dropped where it is biased.

Suh, Simchowitz, Zhang, Tedrake, "Do differentiable simulators give better policy gradients?", ICML 2022.
Contact makes a simulator's gradient unreliable in two ways: stiff contacts give first-order estimates a
large variance, and a landing that switches which corner touches first (a discontinuity of the return
in the action) gives an exact gradient that points the wrong way for the *smoothed* objective
``E_eps[r(mu + sigma eps)]`` that a stochastic policy optimises. The zeroth-order estimate of that
objective's gradient is unbiased whatever the dynamics. The paper mixes the two,
``g = alpha g1 + (1 - alpha) g0``, with ``alpha = var0 / (var0 + var1)`` (the variance-minimising weight)
when the two means agree within their statistical error, and ``alpha = 0`` when they do not.

Here both estimates are taken per state in the space of the Gaussian's parameters ``(mu, log_std)``
(pre-squash), from ``K`` reparameterised draws of the same state, ``z = mu + sigma eps``:

* first order: ``dr/dmu = dr/dz`` and ``dr/dlog_std = dr/dz * sigma eps`` (back-propagated through the
  simulator);
* zeroth order: ``(r - b) eps / sigma`` and ``(r - b) (eps^2 - 1)``, with the leave-one-out baseline ``b``
  (the mean return of the state's other ``K - 1`` draws), which keeps it unbiased;
* ``alpha`` from the two estimates' sample variances (traces) over the draws, pooled over the states that pass
  the bias test (a weight from a state's own few draws would favour the draws that happen to vary little),
  and 0 for a state whose two means differ by more than ``z`` standard errors: ``|mean(d)|^2 > z^2 var(d) / K`` for the
  per-draw differences ``d = g1 - g0`` (paired: both estimates come from the same draw). With few draws the
  variance estimate is rough and the test rejects more often than a normal approximation says: for a return
  linear in the action, ``z = 3`` rejects 8 % of states at ``K = 4`` and 4 % at ``K = 8`` (these fall back to the
  zeroth-order estimate). The decision depends on the draws it then uses, which biases the mixture
  slightly towards zero: measured for that linear return, its mean is 7 % short of the true gradient at
  ``K = 4`` and 3 % at ``K = 8`` (a first-order estimate through a discontinuity can be 100 % off).

The mixed per-draw gradients are then pushed through the network by the surrogate
``-(g_mu . mu + g_log_std . log_std)``, so that the parameters receive ``E[g * d(mu, log_std)/dtheta]``.
Used for one-step (contextual) tasks, where ``r`` is the whole return of the draw.
"""
from __future__ import annotations

import torch


def alpha_order(reward: torch.Tensor, grad_z: torch.Tensor, eps: torch.Tensor, log_std: torch.Tensor,
                samples: int, z_score: float = 3.0):
    """Mixed per-draw gradients of the expected return w.r.t. the Gaussian's ``mu`` and ``log_std``.

    ``reward (B,)`` the return of each draw, ``grad_z (B, A)`` its gradient w.r.t. the pre-squash action
    ``z``, ``eps (B, A)`` the standard normal draw, ``log_std (B, A)``; draws ``k * samples ... (k+1) *
    samples - 1`` share state ``k`` (``B`` a multiple of ``samples >= 2``). Returns ``(g_mu (B, A),
    g_log_std (B, A), alpha (B / samples,))``, all detached."""
    if samples < 2:
        raise ValueError(f"samples must be >= 2 (the zeroth-order baseline and the variances need them), got {samples}")
    b, a = grad_z.shape
    if b % samples:
        raise ValueError(f"the batch ({b} draws) must be a multiple of samples={samples}")
    with torch.no_grad():
        sigma = log_std.exp()
        first = torch.cat([grad_z, grad_z * sigma * eps], dim=1).reshape(b // samples, samples, 2 * a)
        r = reward.reshape(b // samples, samples)
        baseline = (r.sum(1, keepdim=True) - r) / (samples - 1)  # leave one out: unbiased
        adv = (r - baseline).reshape(b, 1)
        zeroth = torch.cat([adv * eps / sigma, adv * (eps ** 2 - 1.0)], dim=1).reshape(b // samples, samples, 2 * a)
        d = first - zeroth
        biased = (d.mean(1) ** 2).sum(-1) > z_score ** 2 * d.var(1).sum(-1) / samples
        # one weight for the states that pass, from their pooled variances: a weight taken from a state's own
        # few draws would favour the draws that happen to vary little (a bias towards zero)
        kept = (~biased).to(first.dtype)
        var1 = (first.var(1).sum(-1) * kept).sum()
        var0 = (zeroth.var(1).sum(-1) * kept).sum()
        alpha = kept * var0 / (var0 + var1).clamp_min(torch.finfo(var0.dtype).tiny)
        mixed = alpha[:, None, None] * first + (1.0 - alpha[:, None, None]) * zeroth
        mixed = mixed.reshape(b, 2 * a)
    return mixed[:, :a], mixed[:, a:], alpha
