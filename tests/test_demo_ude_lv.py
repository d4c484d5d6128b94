"""``python -m demos.ude_lv``: the batched UDEs are the package's UDE row by row, the refit finds the true
coefficients, and a short run writes its results."""
import json

import numpy as np
import pytest
import torch

from diffsim.ode.mlp_field import torch_mlp


@pytest.fixture
def ude_lv():
    """Imported by the tests that use it: it imports PySINDy and scikit-learn (seconds), and every pytest-xdist
    worker collects this file."""
    from demos import ude_lv

    return ude_lv


def test_each_ensemble_row_is_its_own_ude(ude_lv):
    ens = ude_lv.Ensemble(3, seed=0, path="torch")
    torch.manual_seed(0)
    first = ude_lv.UDE(ude_lv.known, dof=1, hidden=5, layers=3, activation="gaussian")  # run 0, same seed
    y = torch.tensor([[0.5, 4.0], [1.0, 1.0], [2.0, 0.1]], dtype=torch.float64)
    rows = ens.field(ens.theta)(0.0, y)
    torch.testing.assert_close(rows[:1], first(0.0, y[:1]), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(ens.unknown(ens.theta, y[:, None])[:1, 0], first.unknown(y[:1]), rtol=1e-12,
                               atol=1e-12)
    # a change to run 1's parameters moves run 1's row only
    theta = ens.theta.clone()
    theta[1] += 0.1
    moved = ens.field(theta)(0.0, y)
    assert torch.equal(moved[0], rows[0]) and torch.equal(moved[2], rows[2]) and not torch.equal(moved[1], rows[1])


def test_warp_and_torch_paths_are_the_same_model(ude_lv):
    # (the Warp network's solves and gradients equal torch_mlp's: tests/ode/test_mlp_field.py)
    y = torch.tensor([[0.5, 4.0], [1.0, 1.0]], dtype=torch.float64)
    ens = ude_lv.Ensemble(2, seed=0, path="torch")
    theta = ens.theta + 0.1 * torch.randn(ens.theta.shape, generator=torch.Generator().manual_seed(1),
                                          dtype=torch.float64)
    expected = ude_lv.known(0.0, y) + torch_mlp(theta, y.unsqueeze(1), ude_lv.Ensemble.SIZES, "gaussian")[:, 0]
    torch.testing.assert_close(ens.field(theta)(0.0, y), expected, rtol=1e-13, atol=1e-13)
    warp = ude_lv.Ensemble(2, seed=0, path="warp")
    assert torch.equal(warp.theta, ens.theta)
    torch.testing.assert_close(warp.field(theta).evaluate(y), expected, rtol=1e-13, atol=1e-13)


def test_refit_finds_the_true_coefficients_from_clean_data(ude_lv):
    t = torch.linspace(0, 3, 31, dtype=torch.float64)
    clean = ude_lv.truth(3.0, 31)
    coef = ude_lv.refit(np.array([[-0.8, 0.7]]), clean[None], t, step=0.05)
    np.testing.assert_allclose(coef[0], [-ude_lv.B, ude_lv.C], rtol=1e-3)


def test_short_run_writes_results(ude_lv, tmp_path):
    r = ude_lv.main(["--runs", "1", "--noise", "0.001", "--adam-steps", "3", "--maxiter", "3", "--t-end", "4",
                     "--path", "torch", "--out", str(tmp_path), "--no-progress"])
    (level,) = r["levels"]
    assert level["runs"] == 1 and level["paper"] == 0.75 and len(level["terms"]) == 1
    assert json.loads((tmp_path / "results.json").read_text())["levels"][0]["noise"] == 0.001
    assert (tmp_path / "recovery.png").stat().st_size > 0
    assert torch.load(tmp_path / "networks.pt", weights_only=True)["theta"].shape[0] == 1
