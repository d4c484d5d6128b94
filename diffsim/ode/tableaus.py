"""Integration methods: one table per method, shared by the Warp and torch paths.

Explicit Runge-Kutta methods are Butcher tableaus ``(c, a, b)``; Dormand-Prince
adds the embedded error weights ``e = b - b_hat`` and the dense-output weights
``d`` of Hairer's DOPRI5 (order-4 continuous extension, Hairer, Norsett & Wanner,
*Solving ODEs I*, II.6). The partitioned (symplectic) methods act on a state
``y = [q, p]`` split in two equal halves and are described by their kick/drift
sequence. The constrained methods (RATTLE and its fourth-order composition) step fields that define their own
constraints.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction as F


@dataclass(frozen=True)
class ExplicitRK:
    name: str
    order: int
    c: tuple[float, ...]
    a: tuple[tuple[float, ...], ...]  # a[i] has i entries (strictly lower triangular)
    b: tuple[float, ...]
    e: tuple[float, ...] | None = None  # b - b_hat, for the error estimate
    d: tuple[float, ...] | None = None  # dense-output weights

    @property
    def stages(self) -> int:
        return len(self.c)

    @property
    def adaptive(self) -> bool:
        return self.e is not None


@dataclass(frozen=True)
class Partitioned:
    """Kick/drift splitting on ``y = [q, p]``.

    ``sequence`` is a list of ``("kick" | "drift", fraction_of_h, time_fraction)``:
    a kick updates ``p += frac*h*f_p(t + tf*h, y)``, a drift updates
    ``q += frac*h*f_q(t + tf*h, y)``, each with ``f`` evaluated at the current
    (partially updated) state.
    """

    name: str
    order: int
    sequence: tuple[tuple[str, float, float], ...] = field(default=())

    adaptive = False

    @property
    def stages(self) -> int:
        return len(self.sequence)


@dataclass(frozen=True)
class Constrained:
    """RATTLE (Andersen 1983; Hairer, Lubich & Wanner, *Geometric Numerical Integration*, VII.1) for fields that carry
    holonomic constraints: the field supplies ``rattle(t, y, h, weights)``, RATTLE sub-steps of sizes ``w * h`` in
    turn (each symmetric, symplectic, second order, keeping the position and velocity constraints to the solver's
    tolerance). ``weights`` compose it (Suzuki 1990's five-stage composition for fourth order).
    """

    name: str
    order: int
    weights: tuple[float, ...]

    adaptive = False

    @property
    def stages(self) -> int:
        return len(self.weights) + 1  # force evaluations per step (a sub-step's last force starts the next)


def _f(rows):
    return tuple(tuple(float(x) for x in r) for r in rows)


EULER = ExplicitRK("euler", 1, c=(0.0,), a=((),), b=(1.0,))

MIDPOINT = ExplicitRK("midpoint", 2, c=(0.0, 0.5), a=_f([[], [F(1, 2)]]), b=(0.0, 1.0))

RK4 = ExplicitRK(
    "rk4", 4,
    c=(0.0, 0.5, 0.5, 1.0),
    a=_f([[], [F(1, 2)], [0, F(1, 2)], [0, 0, 1]]),
    b=tuple(float(x) for x in (F(1, 6), F(1, 3), F(1, 3), F(1, 6))),
)

_DP_A = [
    [],
    [F(1, 5)],
    [F(3, 40), F(9, 40)],
    [F(44, 45), F(-56, 15), F(32, 9)],
    [F(19372, 6561), F(-25360, 2187), F(64448, 6561), F(-212, 729)],
    [F(9017, 3168), F(-355, 33), F(46732, 5247), F(49, 176), F(-5103, 18656)],
    [F(35, 384), F(0), F(500, 1113), F(125, 192), F(-2187, 6784), F(11, 84)],
]
_DP_B = [F(35, 384), F(0), F(500, 1113), F(125, 192), F(-2187, 6784), F(11, 84), F(0)]
_DP_BHAT = [F(5179, 57600), F(0), F(7571, 16695), F(393, 640), F(-92097, 339200), F(187, 2100), F(1, 40)]
_DP_D = [F(-12715105075, 11282082432), F(0), F(87487479700, 32700410799), F(-10690763975, 1880347072),
         F(701980252875, 199316789632), F(-1453857185, 822651844), F(69997945, 29380423)]

DOPRI5 = ExplicitRK(
    "dopri5", 5,
    c=tuple(float(x) for x in (0, F(1, 5), F(3, 10), F(4, 5), F(8, 9), 1, 1)),
    a=_f(_DP_A),
    b=tuple(float(x) for x in _DP_B),
    e=tuple(float(b - bh) for b, bh in zip(_DP_B, _DP_BHAT)),
    d=tuple(float(x) for x in _DP_D),
)

SEMI_IMPLICIT_EULER = Partitioned("semi_implicit_euler", 1, (("kick", 1.0, 0.0), ("drift", 1.0, 0.0)))

VERLET = Partitioned("verlet", 2, (("kick", 0.5, 0.0), ("drift", 1.0, 0.0), ("kick", 0.5, 1.0)))

RATTLE = Constrained("rattle", 2, (1.0,))

# Suzuki's (1990) five-stage symmetric composition: sub-steps of 0.41 h and -0.66 h, where Yoshida's triple jump
# takes 1.35 h and -1.70 h (RATTLE's position solve has no root once a sub-step moves a point too far across its rod)
_S = 1.0 / (4.0 - 4.0 ** (1.0 / 3.0))
RATTLE4 = Constrained("rattle4", 4, (_S, _S, 1.0 - 4.0 * _S, _S, _S))

METHODS = {m.name: m for m in (EULER, MIDPOINT, RK4, DOPRI5, SEMI_IMPLICIT_EULER, VERLET, RATTLE, RATTLE4)}
ALIASES = {
    "explicit_euler": "euler",
    "symplectic_euler": "semi_implicit_euler",
    "leapfrog": "verlet",
    "velocity_verlet": "verlet",
    "dormand_prince": "dopri5",
}


def get_method(name: str):
    """Look up a method by name or alias; raises ``ValueError`` naming the choices."""
    key = ALIASES.get(name, name)
    if key not in METHODS:
        choices = sorted(set(METHODS) | set(ALIASES))
        raise ValueError(f"method must be one of {choices}, got {name!r}")
    return METHODS[key]
