"""``minimize_batched``: each problem takes exactly the steps scipy takes on it alone; failures stop every thread."""
import numpy as np
import pytest
import scipy.optimize
import torch

from controllers.dynamics.batched_minimize import minimize_batched


def _rosenbrock(theta, a):
    """Row r: a shifted Rosenbrock function with its own minimum at (a_r, a_r^2)."""
    x, y = theta[:, 0], theta[:, 1]
    return (a - x) ** 2 + 100 * (y - x * x) ** 2


def test_each_problem_matches_its_solo_scipy_run():
    a = torch.tensor([1.0, -0.5, 2.0, 0.3], dtype=torch.float64)
    x0 = np.array([[-1.2, 1.0], [0.0, 0.0], [1.5, 1.5], [3.0, -2.0]])
    batched = minimize_batched(lambda th: _rosenbrock(th, a), x0, options=dict(maxiter=500))
    for r in range(len(x0)):
        def solo(x, r=r):
            th = torch.tensor(x[None], requires_grad=True)
            loss = _rosenbrock(th, a[r:r + 1]).sum()
            (grad,) = torch.autograd.grad(loss, th)
            return float(loss.detach()), grad[0].numpy()
        alone = scipy.optimize.minimize(solo, x0[r], jac=True, method="L-BFGS-B", options=dict(maxiter=500))
        assert batched[r].nfev == alone.nfev
        np.testing.assert_array_equal(batched[r].x, alone.x)
        np.testing.assert_allclose(batched[r].x, [a[r], a[r] ** 2], atol=1e-3)
    assert len({r.nfev for r in batched}) > 1  # the problems finished at different times


def test_an_error_in_the_loss_stops_every_problem():
    calls = []

    def losses(theta):
        calls.append(1)
        if len(calls) == 3:
            raise ValueError("boom")
        return (theta ** 2).sum(1)

    with pytest.raises(ValueError, match="boom"):
        minimize_batched(losses, np.ones((3, 2)))


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="one loss per problem"):
        minimize_batched(lambda th: (th ** 2).sum(), np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"x0 must have shape \(R, P\)"):
        minimize_batched(lambda th: th.sum(1), np.ones(3))
    with pytest.raises(ValueError, match="x0 must be finite"):
        minimize_batched(lambda th: th.sum(1), np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match="method must be one of"):
        minimize_batched(lambda th: th.sum(1), np.ones((1, 2)), method="Nelder-Mead")
