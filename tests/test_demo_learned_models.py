"""The learned-model demos end to end on tiny budgets: ``demos.learned_mpc`` and ``demos.lnn``."""
import json
import math

import pytest
import torch

from controllers import fit_checkpoint
from controllers.dynamics import LNN, MLPField
from demos import learned_mpc, lnn


def test_learned_mpc_fits_then_plans_on_both_models(tmp_path):
    r = learned_mpc.main(["--trajectories", "8", "--steps", "6", "--fit-steps", "4", "--episodes", "2",
                          "--episode-steps", "5", "--horizon", "2", "--iterations", "1", "--out", str(tmp_path),
                          "--no-progress"])
    for name in ("simulator", "learned model"):
        assert len(r[name]["returns"]) == 2 and r[name]["mean"] < 0
    assert r["one_step_rmse"] > 0
    assert json.loads((tmp_path / "results.json").read_text())["settings"]["episodes"] == 2
    assert (tmp_path / "angle.png").stat().st_size > 0


def test_lnn_demo_trains_and_scores_both_models(tmp_path):
    r = lnn.main(["--steps", "3", "--batch", "16", "--hidden", "16", "--t-end", "0.5", "--dt", "0.05",
                  "--out", str(tmp_path), "--no-progress"])
    for name in ("lnn", "baseline"):
        assert len(r[name]["errors"]) == 40 and r[name]["final_l1"] > 0
    assert (tmp_path / "results.json").exists()
    for name in ("lnn", "baseline"):  # the trained models are kept, loadable safely
        assert torch.load(tmp_path / f"{name}.pt", weights_only=True)["step"] == 3
    again = lnn.main(["--steps", "3", "--batch", "16", "--hidden", "16", "--t-end", "0.5", "--dt", "0.05",
                      "--out", str(tmp_path), "--no-progress", "--resume", "--models", "lnn"])
    assert again["lnn"]["errors"] == r["lnn"]["errors"]  # a finished checkpoint is scored as it was


def _small_lnn():
    torch.manual_seed(0)
    return LNN(dof=2, hidden=16, layers=3, periodic=[True, True], kinetic_prior=1.0)


@pytest.mark.parametrize("clip_factor", [None, 0.5])  # 0.5: clipped at every step after the first
def test_lnn_training_resumes_bit_for_bit_after_an_interruption(tmp_path, monkeypatch, clip_factor):
    full = _small_lnn()
    losses = lnn.train(full, 20, 16, 3e-3, 0, False, check_every=5, clip_factor=clip_factor)
    ck = tmp_path / "lnn.pt"
    save, saves = fit_checkpoint.save, []

    def interrupt_after_two(*a, **k):
        save(*a, **k)
        saves.append(1)
        if len(saves) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(fit_checkpoint, "save", interrupt_after_two)
    with pytest.raises(KeyboardInterrupt):
        lnn.train(_small_lnn(), 20, 16, 3e-3, 0, False, checkpoint=ck, check_every=5, checkpoint_every=5,
                  clip_factor=clip_factor)
    monkeypatch.setattr(fit_checkpoint, "save", save)
    assert torch.load(ck, weights_only=True)["step"] == 10
    resumed = _small_lnn()
    resumed_losses = lnn.train(resumed, 20, 16, 3e-3, 0, False, checkpoint=ck, resume=True, check_every=5,
                               checkpoint_every=5, clip_factor=clip_factor)
    assert resumed_losses == losses
    for a, b in zip(full.parameters(), resumed.parameters()):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="other settings"):
        lnn.train(_small_lnn(), 30, 16, 3e-3, 0, False, checkpoint=ck, resume=True, clip_factor=clip_factor)
    other_prior = LNN(dof=2, hidden=16, layers=3, periodic=[True, True], kinetic_prior=0.5)
    with pytest.raises(ValueError, match="kinetic_prior"):  # the same weights under another prior: another model
        lnn.train(other_prior, 20, 16, 3e-3, 0, False, checkpoint=ck, resume=True, clip_factor=clip_factor)


def test_lnn_demo_training_stops_on_a_non_finite_loss_naming_the_step(tmp_path):
    model = MLPField(dof=2, hidden=16, layers=3, periodic=[True, True])  # (the LNN's SVD refuses NaN itself)
    with torch.no_grad():
        model.net[0].weight[0, 0] = float("nan")
    with pytest.raises(FloatingPointError, match="non-finite loss at step 0; last checkpoint: none"):
        lnn.train(model, 10, 16, 3e-3, 0, False, checkpoint=tmp_path / "lnn.pt", check_every=5)


def test_lnn_demo_refuses_a_budget_with_resume_and_bad_sizes():
    with pytest.raises(SystemExit):
        lnn.main(["--resume", "--time-budget", "10"])
    with pytest.raises(SystemExit):
        lnn.main(["--batch", "0"])


def test_steps_for_budget_scales_with_the_budget():
    few = lnn.steps_for_budget(_small_lnn, 16, 0.05, timed_steps=10, loss_cap=100.0, clip_factor=2.0)
    many = lnn.steps_for_budget(_small_lnn, 16, 5.0, timed_steps=10)
    assert 1 <= few < many


def test_loss_cap_takes_no_gradient_from_errors_beyond_it():
    capped, plain = _small_lnn(), _small_lnn()
    before = [p.detach().clone() for p in capped.parameters()]
    losses = lnn.train(capped, 3, 16, 3e-3, 0, False, loss_cap=1e-9)  # every error is beyond the cap
    assert all(torch.equal(a, b) for a, b in zip(before, capped.parameters()))
    assert min(losses) > 1.0  # the plain L1 is reported, not the capped one
    lnn.train(plain, 3, 16, 3e-3, 0, False)
    assert not all(torch.equal(a, b) for a, b in zip(before, plain.parameters()))
    with pytest.raises(ValueError, match="loss_cap must be > 0"):
        lnn.train(_small_lnn(), 3, 16, 3e-3, 0, False, loss_cap=-1.0)


def test_gradients_are_clipped_to_a_factor_of_the_recent_median_norm():
    w = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))
    w.grad = torch.tensor([6.0, 8.0], dtype=torch.float64)  # norm 10
    unseen = torch.full((4,), float("nan"), dtype=torch.float64)
    assert float(lnn._clip_to_recent_median([w], unseen, 3.0)) == 10.0
    torch.testing.assert_close(w.grad, torch.tensor([6.0, 8.0], dtype=torch.float64))  # nothing seen yet: kept
    recent = torch.tensor([1.0, 2.0, 2.0, float("nan")], dtype=torch.float64)  # median 2: cap 6
    assert float(lnn._clip_to_recent_median([w], recent, 3.0)) == 10.0
    torch.testing.assert_close(w.grad, torch.tensor([3.6, 4.8], dtype=torch.float64))
    lnn._clip_to_recent_median([w], recent, 10.0)  # under the cap: kept
    torch.testing.assert_close(w.grad, torch.tensor([3.6, 4.8], dtype=torch.float64))
    with pytest.raises(ValueError, match="clip_factor must be > 0"):
        lnn.train(_small_lnn(), 3, 16, 3e-3, 0, False, clip_factor=0.0)


def _definite_fraction(model, n=512):
    """The fraction of random training-range states where the LNN's learned mass matrix is definite (either sign)."""
    u = torch.rand(n, 4, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    y = torch.cat([2 * torch.pi * u[:, :2], 20 * u[:, 2:] - 10], -1)
    ev = torch.linalg.eigvalsh(model.accelerations_and_mass(y[:, :2], y[:, 2:])[1].detach())
    return max(float((ev > 0).all(-1).double().mean()), float((ev < 0).all(-1).double().mean()))


def _definite_fractions(seed: int, **option) -> list:
    """The definite fraction of a small LNN (seed ``seed``) at initialisation, after 150 steps of the plain capped and
    clipped loss, and after the same steps with ``option`` (a keyword of ``lnn.train``) from the same start."""
    fractions = []
    for options in ({}, option):
        torch.manual_seed(seed)
        model = LNN(dof=2, hidden=16, layers=3, periodic=[True, True])
        start = _definite_fraction(model)
        lnn.train(model, 150, 32, 3e-3, seed, False, loss_cap=100.0, clip_factor=2.0, **options)
        fractions.append(_definite_fraction(model))
    return [start, *fractions]


@pytest.mark.parametrize("name", ["inverse_weight", "definite_weight"])
def test_lnn_options_for_the_mass_matrix_refuse_other_models_and_bad_weights(name):
    with pytest.raises(ValueError, match=f"{name} needs a model with a learned mass matrix"):
        lnn.train(MLPField(dof=2, hidden=8), 1, 4, 1e-3, 0, False, **{name: 1.0})
    for bad in (-1.0, 0.0, math.nan, math.inf):
        with pytest.raises(ValueError, match=f"{name} must be > 0 or None"):
            lnn.train(_small_lnn(), 1, 4, 1e-3, 0, False, **{name: bad})


def test_lnn_inverse_weight_turns_the_learned_mass_matrix_definite():
    """Under the plain loss this network's d2L/dqdot2 goes from definite on 15 % of the states to 5 %; with the
    inverse-dynamics term (no inverse of that matrix, so a gradient where it is singular) to every state."""
    start, plain, inverse = _definite_fractions(0, inverse_weight=1.0)
    assert 0.1 < start < 0.2 and plain < 0.1 and inverse > 0.95


def test_lnn_definite_weight_makes_the_learned_mass_matrix_definite():
    """This network starts with d2L/dqdot2 definite on a third of the states and, under the plain loss, ends
    indefinite everywhere; with the indefiniteness term it ends definite on (nearly) every state: all 512 on AMD EPYC
    machines, 496 of 512 on an AVX-512 Xeon, where 150 float64 Adam steps round differently."""
    start, plain, term = _definite_fractions(2, definite_weight=100.0)
    assert 0.2 < start < 0.5 and plain < 0.05 and term > 0.95
    with pytest.raises(ValueError, match=r"definite_margin must be in \[0, 1 / dof\) = \[0, 0.5\)"):
        lnn.train(_small_lnn(), 1, 4, 1e-3, 0, False, definite_weight=1.0, definite_margin=0.5)
