"""Turn a learned function back into an equation: sparse regression with PySINDy.

    found = sparse_terms(states, targets, feature_names=["x", "y"])
    found.terms        # [[("x y", -0.85)], [("x y", 0.75)]]: the terms of each output, with coefficients

The candidate terms are PySINDy's polynomial library up to ``degree`` (constant included) plus ``sin`` of each
state (the UDE paper's basis). Candidate models come from two PySINDy optimisers: FROLS (forward regression
with orthogonal least squares: one term at a time, the one that explains most of what is left) and STLSQ
(sequentially thresholded least squares) over a sweep of thresholds. Each output keeps the candidate with the
smallest ``sqrt(k^2 + RSS)`` (``k`` >= 1 terms, ``RSS`` its residual sum of squares) -- the selection rule of
the UDE paper's code: the sparsest model whose residual is not large against its term count. The
rule compares a count with a sum of squares, so it depends on the targets' units (it suits targets of order
one, as the paper's); and terms can only be told apart where the states spread enough that their columns are
not collinear (one short trajectory may not).
Neither path alone is enough: on the Lotka-Volterra UDE's networks STLSQ's sweep rarely contains the one-term
model (its first dense least-squares fit is ill-conditioned on one trajectory's collinear monomials), and
FROLS's greedy path can miss a several-term model that STLSQ finds.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import pysindy as ps


@dataclass
class SparseFit:
    """The selected sparse model: ``model`` (a fitted ``pysindy.SINDy`` holding the selected coefficients,
    so ``model.predict(states)`` evaluates it), ``terms`` (per output, ``(name, coefficient)`` pairs),
    ``coefficients`` ``(outputs, library size)``, ``names`` (the library's term names)."""

    model: ps.SINDy
    terms: list
    coefficients: np.ndarray
    names: list

    def supports(self) -> list[list[str]]:
        """The names of the selected terms of each output."""
        return [[n for n, _ in eq] for eq in self.terms]

    def equations(self, lhs=None, precision: int = 3) -> list[str]:
        lhs = lhs or [f"f{i}" for i in range(len(self.terms))]
        return [f"{name} = " + (" + ".join(f"{c:.{precision}g} {n}" for n, c in eq) or "0")
                for name, eq in zip(lhs, self.terms)]


def library(degree: int = 5, sines: bool = True):
    """Polynomials up to ``degree`` (constant included) and, if ``sines``, ``sin`` of each input."""
    if not isinstance(degree, int) or degree < 1:
        raise ValueError(f"degree must be an int >= 1, got {degree!r}")
    lib = ps.PolynomialLibrary(degree=degree, include_bias=True)
    return lib + ps.FourierLibrary(n_frequencies=1, include_cos=False) if sines else lib


def sparse_terms(states, targets, feature_names=None, degree: int = 5, sines: bool = True,
                 max_terms: int = 8, ridge: float = 1e-9, thresholds=10.0 ** np.arange(-3, 2.01, 0.1)) -> SparseFit:
    """Find the few library terms that make up ``targets`` as functions of ``states``.

    Args:
        states: ``(n, d)`` inputs of the function (e.g. states along a trajectory).
        targets: ``(n, m)`` its values there (e.g. a network's output).
        feature_names: ``d`` names for the inputs (default ``x0, x1, ...``).
        degree, sines: the candidate library (see :func:`library`).
        max_terms: most terms FROLS adds per output.
        thresholds: STLSQ thresholds (on the column-normalised library) whose models join the candidates.
        ridge: FROLS's and STLSQ's ridge strength on the column-normalised library (tiny: a guard, not a prior).
    """
    states, targets = np.asarray(states, dtype=np.float64), np.asarray(targets, dtype=np.float64)
    if states.ndim != 2 or targets.ndim != 2 or len(states) != len(targets) or len(states) < 2:
        raise ValueError(f"states and targets must have shapes (n, d) and (n, m) with the same n >= 2, got "
                         f"{states.shape} and {targets.shape}")
    if not (np.isfinite(states).all() and np.isfinite(targets).all()):
        raise ValueError("states and targets must be finite (no NaN or inf)")
    if not isinstance(max_terms, int) or max_terms < 1:
        raise ValueError(f"max_terms must be an int >= 1, got {max_terms!r}")
    if feature_names is not None and len(feature_names) != states.shape[1]:
        raise ValueError(f"feature_names must name the {states.shape[1]} inputs, got {len(feature_names)}")
    lib = library(degree, sines)
    names = list(feature_names) if feature_names else None
    model = ps.SINDy(optimizer=ps.FROLS(normalize_columns=True, max_iter=max_terms, alpha=ridge),
                     feature_library=copy.deepcopy(lib))
    model.fit(states, t=1.0, x_dot=targets, feature_names=names)
    candidates = list(np.asarray(model.optimizer.history_))  # each (m, library size)
    for threshold in thresholds:
        sweep = ps.SINDy(optimizer=ps.STLSQ(threshold=float(threshold), alpha=ridge, normalize_columns=True),
                         feature_library=copy.deepcopy(lib))
        sweep.fit(states, t=1.0, x_dot=targets, feature_names=names)
        candidates.append(np.asarray(sweep.coefficients()))
    theta = np.asarray(model.feature_library.transform(states))
    chosen = np.zeros((targets.shape[1], theta.shape[1]))
    for i in range(targets.shape[1]):
        best = np.inf
        for coefs in candidates:
            coef = coefs[i]
            k = int(np.count_nonzero(coef))
            if k < 1:
                continue
            score = np.sqrt(k * k + float(np.sum((theta @ coef - targets[:, i]) ** 2)))
            if score < best:
                best, chosen[i] = score, coef
    model.optimizer.coef_ = chosen
    names = model.get_feature_names()
    terms = [[(names[j], float(chosen[i, j])) for j in np.flatnonzero(chosen[i])] for i in range(len(chosen))]
    return SparseFit(model, terms, chosen, names)
