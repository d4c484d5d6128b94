"""``fit``: both modes lower the loss on a tiny data set; checkpoints resume bit for bit; bad data is refused."""
import math

import pytest
import torch

from controllers.dynamics import HNN, ControlledHNN, MLPField, fit
from diffsim.ode import fields, odeint

F64 = torch.float64


def _spring_data(n=4, T=12):
    field = fields.mass_spring()
    y0 = torch.tensor([[1.0, 0.0], [0.0, 0.5], [0.3, -0.3], [-0.6, 0.2]], dtype=F64)[:n]
    t = torch.linspace(0, 1.1, T, dtype=F64)
    ys = odeint(field, y0, t, method="dopri5", rtol=1e-10, atol=1e-12).transpose(0, 1)  # (N, T, 2)
    return t, ys, field.evaluate(ys)


@pytest.mark.parametrize("mode,method", [("derivative", None), ("trajectory", "rk4"), ("trajectory", "verlet")])
def test_a_short_fit_lowers_the_loss(mode, method):
    torch.manual_seed(0)
    t, ys, dys = _spring_data()
    model = HNN(dof=1, hidden=32)
    hist = fit(model, t, ys, mode=mode, dys=dys if mode == "derivative" else None, method=method or "rk4",
               window=3, steps=60, lr=3e-3, log_every=10, progress=False,
               test={"ys": ys[:2], "dys": dys[:2]} if mode == "derivative" else None)
    assert hist["step"] == [10, 20, 30, 40, 50, 60]
    assert hist["train"][-1] < 0.2 * hist["train"][0]
    if mode == "derivative":
        assert len(hist["test"]) == 6 and hist["test"][-1] < hist["test"][0]


def test_derivatives_default_to_central_differences():
    t, ys, dys = _spring_data(T=40)
    model = MLPField(dof=1, hidden=8)
    hist = fit(model, t, ys, steps=1, progress=False)
    fd = torch.gradient(ys, spacing=(t,), dim=1)[0]
    with torch.no_grad():
        expected = (model(0.0, ys.reshape(-1, 2)) - fd.reshape(-1, 2)).square().mean()
    assert len(hist["train"]) == 1 and (fd[:, 5:-5] - dys[:, 5:-5]).abs().max() < 1e-2
    assert expected > 0


def test_controlled_model_fits_held_inputs_through_the_solver():
    torch.manual_seed(0)
    # a forced oscillator q'' = -q + u, u held per interval
    N, T, dt = 3, 8, 0.1
    u = torch.randn(N, T, 1, dtype=F64)
    ys = [torch.tensor([[0.5, 0.0], [0.0, 0.3], [-0.2, 0.1]], dtype=F64)]
    for k in range(T - 1):
        uk = u[:, k]
        ys.append(odeint(lambda tt, y: torch.stack([y[:, 1], -y[:, 0] + uk[:, 0]], -1), ys[-1],
                         torch.tensor([0.0, dt], dtype=F64), method="rk4", step_size=0.01)[-1])
    ys = torch.stack(ys, 1)
    model = ControlledHNN(dof=1, control_dim=1, hidden=16)
    t = torch.arange(T, dtype=F64) * dt
    hist = fit(model, t, ys, mode="trajectory", controls=u, window=3, steps=40, lr=3e-3, log_every=10,
               progress=False)
    assert hist["train"][-1] < 0.5 * hist["train"][0]


def test_checkpoint_resume_continues_bit_for_bit_and_can_extend(tmp_path):
    t, ys, dys = _spring_data()
    kwargs = dict(mode="derivative", dys=dys, lr=1e-3, batch_size=16, log_every=5, progress=False)
    torch.manual_seed(0)
    straight = HNN(dof=1, hidden=16)
    fit(straight, t, ys, steps=20, checkpoint=tmp_path / "a.pt", **kwargs)
    torch.manual_seed(0)
    split = HNN(dof=1, hidden=16)
    fit(split, t, ys, steps=10, checkpoint=tmp_path / "b.pt", **kwargs)
    resumed = HNN(dof=1, hidden=16)
    hist = fit(resumed, t, ys, steps=20, checkpoint=tmp_path / "b.pt", resume=True, **kwargs)
    for a, b in zip(straight.parameters(), resumed.parameters()):
        assert torch.equal(a, b)
    assert hist["step"] == [5, 10, 15, 20]
    state = torch.load(tmp_path / "b.pt", weights_only=True)
    assert state["step"] == 20
    with pytest.raises(ValueError, match=r"other settings: \['lr'\]"):
        fit(HNN(dof=1, hidden=16), t, ys, steps=30, checkpoint=tmp_path / "b.pt", resume=True,
            **{**kwargs, "lr": 2e-3})


def test_l1_loss_and_cosine_schedule(tmp_path):
    """``loss="l1"`` scores the mean absolute error; the cosine rate falls to ~0 at the last step; a checkpoint
    written with one schedule does not resume under the other."""
    t, ys, dys = _spring_data()
    torch.manual_seed(0)
    model = MLPField(dof=1, hidden=8)
    with torch.no_grad():
        expected = float((model(0.0, ys.reshape(-1, 2)) - dys.reshape(-1, 2)).abs().mean())
    hist = fit(model, t, ys, dys=dys, steps=1, loss="l1", progress=False)
    assert hist["train"][0] == pytest.approx(expected, rel=1e-12)
    kwargs = dict(dys=dys, lr=1e-2, batch_size=16, log_every=5, progress=False, loss="l1")
    torch.manual_seed(0)
    cosine = HNN(dof=1, hidden=16)
    hist = fit(cosine, t, ys, steps=20, checkpoint=tmp_path / "a.pt", schedule="cosine", **kwargs)
    assert hist["train"][-1] < hist["train"][0]
    last_lr = torch.load(tmp_path / "a.pt", weights_only=True)["optimizer"]["param_groups"][0]["lr"]
    assert last_lr == pytest.approx(1e-2 * 0.5 * (1 + math.cos(math.pi * 19 / 20)), rel=1e-12)
    torch.manual_seed(0)
    constant = HNN(dof=1, hidden=16)
    fit(constant, t, ys, steps=20, **kwargs)
    assert not torch.equal(constant.net[0].weight, cosine.net[0].weight)
    with pytest.raises(ValueError, match=r"other settings: \['schedule'\]"):
        fit(HNN(dof=1, hidden=16), t, ys, steps=30, checkpoint=tmp_path / "a.pt", resume=True, **kwargs)


def test_adamw_decouples_the_weight_decay(tmp_path):
    """``optimizer="adamw"`` takes torch's AdamW steps (decay decoupled from the gradient), ``"adam"`` Adam's with the
    decay as L2; a checkpoint written with one does not resume under the other."""
    t, ys, dys = _spring_data()
    kwargs = dict(dys=dys, lr=1e-2, weight_decay=0.1, steps=5, progress=False)
    runs = {}
    for name in ("adam", "adamw"):
        torch.manual_seed(0)
        runs[name] = MLPField(dof=1, hidden=8)
        fit(runs[name], t, ys, optimizer=name, checkpoint=tmp_path / f"{name}.pt", **kwargs)
    torch.manual_seed(0)
    by_hand = MLPField(dof=1, hidden=8)
    opt = torch.optim.AdamW(by_hand.parameters(), lr=1e-2, weight_decay=0.1)
    for _ in range(5):
        loss = (by_hand(0.0, ys.reshape(-1, 2)) - dys.reshape(-1, 2)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    for a, b in zip(runs["adamw"].parameters(), by_hand.parameters()):
        assert torch.equal(a, b)
    assert not torch.equal(runs["adam"].net[0].weight, runs["adamw"].net[0].weight)
    with pytest.raises(ValueError, match=r"other settings: \['optimizer'\]"):
        fit(MLPField(dof=1, hidden=8), t, ys, optimizer="adam", checkpoint=tmp_path / "adamw.pt", resume=True,
            **{**kwargs, "steps": 8})


def test_non_finite_loss_stops_with_a_message():
    t, ys, dys = _spring_data()
    model = MLPField(dof=1, hidden=8)
    with torch.no_grad():
        model.net[0].weight.fill_(float("inf"))
    with pytest.raises(FloatingPointError, match="non-finite loss .* at step 0; last checkpoint: none"):
        fit(model, t, ys, dys=dys, steps=3, progress=False)


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(mode="energy"), ValueError, "mode must be one of"),
    (dict(steps=0), ValueError, "steps must be an int >= 1"),
    (dict(mode="trajectory", window=1), ValueError, "window must be an int >= 2"),
    (dict(mode="trajectory", window=50), ValueError, r"window \(50\) is longer than the trajectories"),
    (dict(batch_size=0), ValueError, "batch_size must be None"),
    (dict(loss="huber"), ValueError, "loss must be one of"),
    (dict(schedule="step"), ValueError, "schedule must be one of"),
    (dict(optimizer="sgd"), ValueError, "optimizer must be one of"),
    (dict(weight_decay=-1e-4), ValueError, "weight_decay must be >= 0"),
    (dict(nan=True), ValueError, "ys must be finite"),
    (dict(width=3), ValueError, "state width 3, the model expects 2 \\* dof = 2"),
    (dict(dys_shape=True), ValueError, "dys must have the shape of ys"),
    (dict(controls=torch.zeros(4, 12, 1, dtype=F64)), TypeError, "MLPField takes no input"),
])
def test_bad_data_and_settings_are_refused(kwargs, error, match):
    t, ys, dys = _spring_data()
    if kwargs.pop("nan", False):
        ys = ys.clone()
        ys[0, 3, 1] = float("nan")
    if kwargs.pop("width", None):
        ys = torch.cat([ys, ys[..., :1]], -1)
    if kwargs.pop("dys_shape", False):
        dys = dys[:, :5]
    with pytest.raises(error, match=match):
        fit(MLPField(dof=1, hidden=8), t, ys, dys=dys, progress=False, **kwargs)
