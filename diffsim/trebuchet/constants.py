"""Trebuchet models: geometry, masses, air and integration settings (SI units).

The machine is the hinged-counterweight trebuchet with a sling of
virtualtrebuchet.com as ported by FluxML/Trebuchet.jl (see
``shared/reference/trebuchet.md`` for the derivation and sources). Frame: origin at
the pivot, x along the throw, y up; the ground is the line ``y = -pivot_height``.
Distances are measured from the pivot.

Two models:

* ``ORIGINAL`` reproduces Trebuchet.jl exactly, quirks included: fixed Euler step
  1/60 s, the arm and counterweight inertias swapped in the equations of motion,
  air density and drag coefficient both 1, the finite-difference lift-off test and
  the two-sided release test (a release can throw backwards).
* ``PHYSICAL`` is the same mechanism as a clean ODE: unswapped inertias, sea-level
  air (rho = 1.225 kg/m^3, C_d = 0.47), RK4 with a converged step (1/500 s), the
  exact ground reaction for lift-off and a forward-only release.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

FT = 0.3048  # m per foot
LB = 0.45359237  # kg per pound


@dataclass(frozen=True)
class TrebuchetModel:
    name: str
    pivot_height: float = 5.0 * FT  # m, pivot above ground
    long_arm: float = 6.792 * FT  # m, pivot -> sling hinge
    short_arm: float = 1.75 * FT  # m, pivot -> counterweight hinge
    weight_link: float = 2.0 * FT  # m, counterweight hinge -> counterweight CG
    sling: float = 6.833 * FT  # m, sling length
    projectile_radius: float = 0.1245 * FT  # m (a baseball)
    projectile_mass: float = 0.328 * LB  # kg
    arm_mass: float = 10.65 * LB  # kg
    gravity: float = 9.80665  # m/s^2
    air_density: float = 1.0  # kg/m^3
    drag_coefficient: float = 1.0
    swap_inertias: bool = True  # Trebuchet.jl's quirk
    dt: float = 1.0 / 60.0  # s
    integrator: str = "euler"  # "euler" (original) or "rk4"
    finite_difference_liftoff: bool = True  # original lift-off rule
    two_sided_release: bool = True  # original release rule
    max_steps: int = 4000  # per shot, all stages together

    @property
    def arm_cg(self) -> float:
        """Distance pivot -> arm centre of mass (m)."""
        return 0.5 * (self.long_arm - self.short_arm)

    @property
    def arm_inertia(self) -> float:
        """Arm inertia about its centre of mass (kg m^2): m (L_l + L_s)^2 / 12."""
        return self.arm_mass * (self.long_arm + self.short_arm) ** 2 / 12.0

    @property
    def weight_inertia(self) -> float:
        """Counterweight inertia about its centre (kg m^2): 1 lb ft^2 in the original."""
        return LB * FT ** 2

    @property
    def inertias_used(self) -> tuple[float, float]:
        """(I_A, I_W) as they enter the equations of motion."""
        if self.swap_inertias:
            return self.weight_inertia, self.arm_inertia
        return self.arm_inertia, self.weight_inertia

    @property
    def drag_factor(self) -> float:
        """k = rho C_d pi r^2 / (2 m_p), in 1/m: drag acceleration = -k |v_rel| v_rel."""
        return self.air_density * self.drag_coefficient * math.pi * self.projectile_radius ** 2 / (
            2.0 * self.projectile_mass)

    @property
    def initial_arm_angle(self) -> float:
        """theta_a(0) = pi/2 + asin(h / L_l): the long-arm tip rests on the ground."""
        return 0.5 * math.pi + math.asin(self.pivot_height / self.long_arm)


ORIGINAL = TrebuchetModel("original")

PHYSICAL = TrebuchetModel(
    "physical",
    air_density=1.225,
    drag_coefficient=0.47,
    swap_inertias=False,
    dt=1.0 / 500.0,
    integrator="rk4",
    finite_difference_liftoff=False,
    two_sided_release=False,
    max_steps=40000,
)

MODELS = {m.name: m for m in (ORIGINAL, PHYSICAL)}
