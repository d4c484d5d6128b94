"""``sparse_terms``: PySINDy finds exactly the terms a function is made of, with their coefficients."""
import numpy as np
import pytest
import torch

from diffsim.ode import fields, odeint

pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture
def sparse_terms():
    """Imported by the tests that use it: PySINDy and scikit-learn take seconds to import, and every pytest-xdist
    worker collects this file."""
    from controllers.dynamics.discovery import sparse_terms

    return sparse_terms


def _lv_trajectory():
    """States along the UDE paper's Lotka-Volterra trajectory (61 points on [0, 3])."""
    lv = fields.lotka_volterra([1.3, 0.9, 1.8, 0.8])
    t = torch.linspace(0, 3, 61, dtype=torch.float64)
    return odeint(lv, torch.tensor([[0.44249296, 4.6280594]], dtype=torch.float64), t, rtol=1e-12)[:, 0].numpy()


def test_recovers_the_lotka_volterra_interaction_terms(sparse_terms):
    X = _lv_trajectory()
    xy = X[:, 0] * X[:, 1]
    found = sparse_terms(X, np.stack([-0.9 * xy, 0.8 * xy], 1), ["x", "y"])
    assert found.supports() == [["x y"], ["x y"]]
    np.testing.assert_allclose([found.terms[0][0][1], found.terms[1][0][1]], [-0.9, 0.8], rtol=1e-6)
    assert found.equations(["dx", "dy"]) == ["dx = -0.9 x y", "dy = 0.8 x y"]


def test_keeps_every_term_of_a_richer_function_and_predicts_it(sparse_terms):
    # states spread over the plane: one trajectory's monomials are too collinear to tell three terms apart
    X = np.random.default_rng(1).uniform([0.2, 0.2], [2.0, 5.0], size=(200, 2))
    x, y = X[:, 0], X[:, 1]
    target = np.stack([0.7 * x - 0.9 * x * y + 0.2 * x ** 3, 0.8 * x * y - 0.3 * y ** 2], 1)
    found = sparse_terms(X, target, ["x", "y"])
    assert sorted(found.supports()[0]) == sorted(["x", "x y", "x^3"])
    assert sorted(found.supports()[1]) == sorted(["x y", "y^2"])
    np.testing.assert_allclose(found.model.predict(X), target, atol=1e-6)


def test_small_noise_on_the_targets_still_gives_the_terms(sparse_terms):
    X = _lv_trajectory()
    xy = X[:, 0] * X[:, 1]
    target = np.stack([-0.9 * xy, 0.8 * xy], 1)
    target += 0.01 * np.abs(target).mean(0) * np.random.default_rng(0).standard_normal(target.shape)
    found = sparse_terms(X, target, ["x", "y"])
    assert found.supports() == [["x y"], ["x y"]]
    np.testing.assert_allclose([found.terms[0][0][1], found.terms[1][0][1]], [-0.9, 0.8], rtol=0.01)


def test_bad_input_is_refused(sparse_terms):
    X = _lv_trajectory()
    with pytest.raises(ValueError, match="same n"):
        sparse_terms(X, X[:-1])
    with pytest.raises(ValueError, match="finite"):
        sparse_terms(np.where(X > 4, np.nan, X), X)
    with pytest.raises(ValueError, match="feature_names"):
        sparse_terms(X, X, ["x"])
    with pytest.raises(ValueError, match="max_terms"):
        sparse_terms(X, X, max_terms=0)
    with pytest.raises(ValueError, match="degree"):
        sparse_terms(X, X, degree=0)
