"""The alpha-order gradient: exact where the return is smooth, unbiased where it jumps; the throw recipe uses it."""
import math

import pytest
import torch

from controllers.alpha_order import alpha_order
from controllers.recipes import recipe
from controllers.shac import TrainConfig, Trainer, evaluate


def _draws(states, samples, dim, mu, log_std, seed=0):
    gen = torch.Generator().manual_seed(seed)
    eps = torch.randn(states * samples, dim, generator=gen, dtype=torch.float64)
    mu = torch.full((states * samples, dim), mu, dtype=torch.float64)
    log_std = torch.full_like(mu, log_std)
    return mu, log_std, eps, mu + log_std.exp() * eps


def test_linear_return_mixes_two_unbiased_estimates_by_their_variances():
    """r = w . z: both estimates are unbiased, so few states are rejected (under 6 % at 8 draws); the others get
    alpha = var0 / (var0 + var1) of their pooled draws; the mixture's mean is within 5 % of w (the decision's
    small bias, see the module) with a smaller spread than the zeroth order alone."""
    w = torch.tensor([0.7, -1.3], dtype=torch.float64)
    states, samples = 500, 8
    mu, log_std, eps, z = _draws(states, samples, 2, 0.3, -1.0)
    r = z @ w
    g_mu, g_log_std, alpha = alpha_order(r, w.expand_as(z), eps, log_std, samples=samples)
    kept = alpha > 0
    assert float(kept.double().mean()) > 0.94
    sigma = log_std.exp()
    first = torch.cat([w.expand_as(z), w * sigma * eps], 1).reshape(states, samples, 4)
    b = r.reshape(states, samples)
    adv = (b - (b.sum(1, keepdim=True) - b) / (samples - 1)).reshape(-1, 1)
    zeroth = torch.cat([adv * eps / sigma, adv * (eps ** 2 - 1)], 1).reshape(states, samples, 4)
    var0, var1 = zeroth.var(1).sum(-1)[kept].sum(), first.var(1).sum(-1)[kept].sum()
    torch.testing.assert_close(alpha[kept], (var0 / (var0 + var1)).expand(int(kept.sum())))
    per_state = g_mu.reshape(states, samples, 2).mean(1)
    assert torch.all((per_state.mean(0) - w).abs() < 0.05 * w.abs()), (per_state.mean(0), w)
    assert torch.all(per_state.std(0) < zeroth[..., :2].mean(1).std(0))


def test_step_return_falls_back_to_the_unbiased_zeroth_order_gradient():
    """r = 1[z > 0] at mu = 0: the exact gradient is 0 almost everywhere (a biased first-order estimate of
    d/dmu E[r] = phi(0) / sigma); the bias test drops it for most states and the mixed estimate is unbiased."""
    states, samples, sigma = 400, 32, 0.5
    mu, log_std, eps, z = _draws(states, samples, 1, 0.0, math.log(sigma), seed=1)
    r = (z[:, 0] > 0).to(torch.float64)
    g_mu, g_log_std, alpha = alpha_order(r, torch.zeros_like(z), eps, log_std, samples=samples)
    assert (alpha == 0).float().mean() > 0.8, alpha
    truth = 1.0 / math.sqrt(2 * math.pi) / sigma  # d/dmu P(mu + sigma eps > 0) at mu = 0
    per_state = g_mu.reshape(states, samples).mean(1)
    err = per_state.std() / math.sqrt(states)
    assert abs(float(per_state.mean()) - truth) < 4 * err + 0.1 * truth, (float(per_state.mean()), truth)
    assert abs(float(g_log_std.mean())) < 4 * float(g_log_std.reshape(states, samples).mean(1).std()) / states ** 0.5


def test_zeroth_order_part_is_unbiased_for_a_quadratic():
    """r = -(z - c)^2 with the first-order part switched off (alpha forced to 0 through a wrong first-order
    gradient): the zeroth-order estimate's mean is the analytic (-2 (mu - c), -2 sigma^2)."""
    states, samples, c, sigma = 2000, 8, 1.0, 0.3
    mu, log_std, eps, z = _draws(states, samples, 1, 0.2, math.log(sigma), seed=2)
    r = -((z[:, 0] - c) ** 2)
    wrong = torch.full_like(z, 50.0)  # far from the truth: the bias test rejects it
    g_mu, g_log_std, alpha = alpha_order(r, wrong, eps, log_std, samples=samples)
    assert bool((alpha == 0).all())
    for g, truth in ((g_mu, -2 * (0.2 - c)), (g_log_std, -2 * sigma ** 2)):
        per_state = g.reshape(states, samples).mean(1)
        assert abs(float(per_state.mean()) - truth) < 4 * float(per_state.std()) / states ** 0.5, (g.mean(), truth)


def test_bad_input_is_refused():
    z = torch.zeros(6, 1, dtype=torch.float64)
    with pytest.raises(ValueError, match="samples must be >= 2"):
        alpha_order(z[:, 0], z, z, z, samples=1)
    with pytest.raises(ValueError, match="multiple of samples=4"):
        alpha_order(z[:, 0], z, z, z, samples=4)
    with pytest.raises(ValueError, match="gradient must be one of"):
        TrainConfig(gradient="second")
    with pytest.raises(ValueError, match="needs algo='apg', window=1 and episode_steps=1"):
        TrainConfig(gradient="alpha")
    with pytest.raises(ValueError, match="samples_per_state must be >= 2 and divide num_envs=8"):
        TrainConfig(algo="apg", window=1, episode_steps=1, gradient="alpha", num_envs=8, samples_per_state=3)


def test_throw_recipe_learns_to_aim():
    """The throw recipe (alpha-order APG), 20 of its updates: the mean miss over 32 targets falls below 0.5 m
    from over 1 m, every state shared by samples_per_state consecutive worlds."""
    from envs import make_functional

    dyn = make_functional("diffsim/Throw-v0")
    cfg = recipe("diffsim/Throw-v0", iterations=20)
    trainer = Trainer(cfg, dyn)
    k = cfg.samples_per_state
    starts = trainer.state.reshape(-1, k, trainer.state.shape[1])
    assert torch.equal(starts, starts[:, :1].expand_as(starts))
    before = evaluate(dyn, trainer.actor, 32, 1)
    for _ in range(cfg.iterations):
        trainer.step()
    after = evaluate(dyn, trainer.actor, 32, 1)
    assert before < -1.0 and after > -0.5, (before, after)
