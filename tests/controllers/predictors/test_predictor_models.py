"""Sequence predictors: one interface, attention weights that are distributions, independence between samples,
enough capacity to overfit a tiny set, and clear errors on bad input."""
import pytest
import torch

from controllers.predictors import (
    DARNN,
    AttentionSeq2Seq,
    CausalTransformer,
    LSTMSeq2Seq,
    MemoryNetwork,
    fit,
    predict,
    windows,
)
from controllers.predictors.fit import _loss
from controllers.predictors.transformer import _Block

T, H, D, E = 10, 4, 3, 2
BUILDERS = {
    "lstm": lambda d, e: LSTMSeq2Seq(input_dim=d, exog_dim=e, hidden=32),
    "additive": lambda d, e: AttentionSeq2Seq(input_dim=d, exog_dim=e, hidden=32, score="additive"),
    "cosine": lambda d, e: AttentionSeq2Seq(input_dim=d, exog_dim=e, hidden=32, score="cosine"),
    "dot": lambda d, e: AttentionSeq2Seq(input_dim=d, exog_dim=e, hidden=32, score="dot"),
    "darnn": lambda d, e: DARNN(input_dim=d, exog_dim=e, hidden=32, window=T),
    "memory": lambda d, e: MemoryNetwork(input_dim=d, exog_dim=e, embed=32, hops=2),
    "transformer": lambda d, e: CausalTransformer(input_dim=d, exog_dim=e, dim=32, heads=2, layers=2),
}
ATTENTION = {"lstm": {}, "additive": {"temporal": T}, "cosine": {"temporal": T}, "dot": {"temporal": T},
             "darnn": {"input": D + E, "temporal": T}, "memory": {"memory": T}, "transformer": {"self": T}}


def _data(batch=5, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(batch, T, D, generator=gen), torch.randn(batch, T + H, E, generator=gen)


@pytest.mark.parametrize("name", list(BUILDERS))
def test_shapes_and_attention_distributions(name):
    torch.manual_seed(0)
    model = BUILDERS[name](D, E)
    past, exog = _data()
    pred, attention = model(past, H, exog)
    assert pred.shape == (5, H, D) and pred.dtype == past.dtype
    assert set(attention) == set(ATTENTION[name])
    for key, width in ATTENTION[name].items():
        w = attention[key]
        steps = T if key == "input" else H
        assert w.shape == (5, steps, width), (key, w.shape)
        assert bool((w >= 0).all())
        torch.testing.assert_close(w.sum(-1), torch.ones(5, steps))
    # without inputs (exog_dim=0): the same model family predicts from the states alone
    model0 = BUILDERS[name](D, 0)
    pred0, _ = model0(past, H)
    assert pred0.shape == (5, H, D)


@pytest.mark.parametrize("name", list(BUILDERS))
def test_one_sample_does_not_depend_on_another(name):
    torch.manual_seed(0)
    model = BUILDERS[name](D, E).eval()
    past, exog = _data()
    pred, _ = model(past, H, exog)
    past2, exog2 = past.clone(), exog.clone()
    past2[1:] = torch.randn_like(past2[1:]) * 3
    exog2[1:] = 0.0
    pred2, _ = model(past2, H, exog2)
    torch.testing.assert_close(pred2[0], pred[0])
    assert not torch.allclose(pred2[1], pred[1])


@pytest.mark.parametrize("name", list(BUILDERS))
def test_predictions_use_the_inputs_of_the_horizon(name):
    """The input at the last horizon step changes nothing (no step is predicted from it); the input of the first
    horizon step changes the predictions after it (a prediction is fed back with the next input)."""
    torch.manual_seed(0)
    model = BUILDERS[name](D, E).eval()
    past, exog = _data()
    pred, _ = model(past, H, exog)
    late = exog.clone()
    late[:, -1] += 1.0
    torch.testing.assert_close(model(past, H, late)[0], pred)
    early = exog.clone()
    early[:, T] += 1.0
    changed = model(past, H, early)[0]
    torch.testing.assert_close(changed[:, 0], pred[:, 0])
    assert not torch.allclose(changed[:, 1], pred[:, 1])


def test_transformer_attention_is_causal():
    """A token's output does not move when later tokens change, and does when earlier ones do."""
    torch.manual_seed(0)
    block = _Block(16, 2, 0.0)
    mask = torch.triu(torch.ones(6, 6, dtype=torch.bool), diagonal=1)
    h = torch.randn(3, 6, 16)
    later, earlier = h.clone(), h.clone()
    later[:, 4:] += torch.randn(2, 16)  # not a constant shift: LayerNorm would take that out
    earlier[:, 1] += torch.randn(16)
    out = block(h, mask, newest_weights=False)[0]
    torch.testing.assert_close(block(later, mask, newest_weights=False)[0][:, :4], out[:, :4], rtol=0, atol=1e-6)
    assert (block(earlier, mask, newest_weights=False)[0][:, 1:] - out[:, 1:]).abs().amin(-1).gt(1e-4).all()


def test_transformer_newest_only_is_the_full_blocks_last_row():
    torch.manual_seed(0)
    block = _Block(16, 4, 0.0)
    h = torch.randn(3, 7, 16)
    mask = torch.triu(torch.ones(7, 7, dtype=torch.bool), diagonal=1)
    full, w_full = block(h, mask, newest_weights=True)
    newest, w_newest = block(h, mask, newest_weights=True, newest_only=True)
    assert newest.shape == (3, 1, 16)
    torch.testing.assert_close(newest[:, 0], full[:, -1])
    torch.testing.assert_close(w_newest, w_full)


def test_transformer_newest_weights_are_multihead_attentions_own():
    torch.manual_seed(0)
    block = _Block(16, 4, 0.0)
    a = torch.randn(3, 7, 16)
    mask = torch.triu(torch.ones(7, 7, dtype=torch.bool), diagonal=1)
    _, ref = block.attn(a, a, a, attn_mask=mask, need_weights=True, average_attn_weights=True)
    torch.testing.assert_close(block.newest_weights(a), ref[:, -1])


@pytest.mark.parametrize("name", list(BUILDERS))
def test_each_model_overfits_a_tiny_set(name):
    """Eight windows of a driven oscillator: 150 Adam steps bring the loss below 2 % of the untrained model's
    (0.02-0.34 % for the seven models on 2026-12-01)."""
    t = torch.arange(T + H, dtype=torch.float32) * 0.2
    phase = torch.arange(8, dtype=torch.float32)[:, None] * 0.7
    u = torch.stack([torch.sin(0.5 * t + phase), torch.cos(0.3 * t - phase)], -1)
    states = torch.stack([torch.sin(t + phase), torch.cos(t + phase), 0.3 * torch.sin(2 * t + phase)], -1)
    states = states + 0.04 * torch.cumsum(u[..., :1], 1)
    past, future, exog = windows(states, T, H, u)
    torch.manual_seed(0)
    model = BUILDERS[name](D, E)
    model.set_scale(past, exog)
    with torch.no_grad():
        before = float(_loss(model, past, future, exog))
    fit(model, past, future, exog, steps=150, lr=6e-3, batch_size=8, progress=False)
    with torch.no_grad():
        after = float(_loss(model, past, future, exog))
    assert after < 0.02 * before, (after, before)


def test_bad_input_is_refused():
    model = AttentionSeq2Seq(input_dim=D, exog_dim=E, hidden=8)
    past, exog = _data()
    with pytest.raises(ValueError, match=r"history must be a tensor of shape \(batch, T, input_dim=3\)"):
        model(past[0], H, exog)
    with pytest.raises(ValueError, match="horizon must be an int >= 1"):
        model(past, 0, exog)
    bad = past.clone()
    bad[0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="history must be finite"):
        model(bad, H, exog)
    with pytest.raises(ValueError, match=r"exog must be a tensor of shape \(batch, T \+ horizon, exog_dim\)"):
        model(past, H, exog[:, :T])
    with pytest.raises(ValueError, match="exog must be a tensor"):
        model(past, H)
    with pytest.raises(ValueError, match="exog was given but the model was built with exog_dim=0"):
        LSTMSeq2Seq(input_dim=D)(past, H, exog)
    with pytest.raises(ValueError, match="score must be one of"):
        AttentionSeq2Seq(input_dim=D, score="general")
    with pytest.raises(ValueError, match="history must have T = window = 10"):
        DARNN(input_dim=D, exog_dim=E)(past[:, :5], H, exog[:, 5:])
    with pytest.raises(ValueError, match="input_dim must be an int >= 1"):
        MemoryNetwork(input_dim=0)


def test_predict_batches_and_restores_the_mode():
    torch.manual_seed(0)
    model = CausalTransformer(input_dim=D, exog_dim=E, dim=16, heads=2, layers=1, dropout=0.1)
    past, exog = _data(batch=7)
    model.train()
    pred, attention = predict(model, past, H, exog, batch_size=3)
    assert model.training
    model.eval()
    with torch.no_grad():
        ref, ref_att = model(past, H, exog)
    torch.testing.assert_close(pred, ref)
    torch.testing.assert_close(attention["self"], ref_att["self"])
