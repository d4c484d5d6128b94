"""``integrator="implicit_contacts"``: Euler made linearly implicit in the plane contacts and joint limits.

Held to: stable at steps where the explicit Euler step blows up; the same rest state (penetration) as the
explicit integrators; the sliding distance of Coulomb friction (analytic ``v0^2 / (2 mu g)``); first-order
convergence to the RK4 solution; gradients equal to central finite differences in float64; the loops structure
equal to the generated code.
"""
import dataclasses
import os

import numpy as np
import pytest
import torch

from diffsim.rigid import codegen, load_mjcf
from diffsim.rigid.rollout import rollout

F64 = torch.float64
G = 9.81

BOX = """<mujoco><option timestep="0.005"/><worldbody><geom type="plane" size="0 0 1" friction="{mu}"/>
<body pos="0 0 0.1"><freejoint/><geom type="box" size="0.1 0.1 0.1" mass="1" friction="{mu}"/></body>
</worldbody></mujoco>"""

# a capsule lying on the floor with an actuated, limited leg hinged at one end
LINKAGE = """<mujoco><option timestep="0.005"/><worldbody><geom type="plane" size="5 5 .1"/>
<body pos="0 0 0.3"><freejoint/><geom type="capsule" fromto="-0.2 0 0 0.2 0 0" size="0.05" mass="1"/>
<body pos="0.2 0 0"><joint name="knee" type="hinge" axis="0 1 0" range="-30 30" limited="true"/>
<geom type="capsule" fromto="0 0 0 0 0 -0.25" size="0.04" mass="0.5"/></body></body></worldbody>
<actuator><motor joint="knee" gear="2" ctrlrange="-1 1"/></actuator></mujoco>"""


def _slide(mu, v0, integrator, h, seconds=3.0, structure="auto"):
    model = load_mjcf(BOX.format(mu=mu), dtype=F64, structure=structure)
    return rollout(model, torch.tensor([[0, 0, 0.1, 1, 0, 0, 0]], dtype=F64),
                   torch.tensor([[v0, 0, 0, 0, 0, 0]], dtype=F64), torch.zeros(1, round(seconds / h), 0, dtype=F64),
                   integrator=integrator, timestep=h)


@pytest.mark.parametrize("mu,v0,structure", [(0.5, 2.0, "generated"), (0.3, 1.5, "generated"), (0.5, 2.0, "loops")])
def test_box_slides_v0_squared_over_2_mu_g_at_5_ms_where_explicit_euler_flies_off(mu, v0, structure):
    qs, vs = _slide(mu, v0, "implicit_contacts", 0.005, structure=structure)
    expected = v0 ** 2 / (2 * mu * G)
    assert abs(float(qs[0, -1, 0]) - expected) < 0.01 * expected
    assert float(vs[0, -1].abs().max()) < 1e-9  # stopped, and held by the friction
    ref, _ = _slide(mu, v0, "rk4", 0.001)
    assert abs(float(qs[0, -1, 2] - ref[0, -1, 2])) < 2e-6  # rests as deep as with small RK4 steps (~51 um)
    qe, _ = _slide(mu, v0, "euler", 0.005)
    assert not bool(torch.isfinite(qe).all()) or abs(float(qe[0, -1, 2])) > 1.0  # the explicit step flies off


def test_converges_to_the_rk4_solution_at_first_order():
    """The sliding box's speed after 0.3 s: its error against RK4 at 0.25 ms halves with the step."""
    ref = float(_slide(0.3, 1.5, "rk4", 0.00025, 0.3)[1][0, -1, 0])
    errors = [abs(float(_slide(0.3, 1.5, "implicit_contacts", h, 0.3)[1][0, -1, 0]) - ref)
              for h in (0.002, 0.001, 0.0005)]
    assert errors[0] > 1e-3
    for coarse, fine in zip(errors, errors[1:]):
        assert 1.7 < coarse / fine < 2.3, errors


def _linkage_inputs(worlds, steps, seed=0, structure="generated"):
    g = torch.Generator().manual_seed(seed)
    model = load_mjcf(LINKAGE, num_worlds=worlds, dtype=F64, structure=structure)
    q0 = torch.tensor([[0, 0, 0.3, 1, 0, 0, 0, 0]], dtype=F64).repeat(worlds, 1)
    v0 = 2 * torch.randn(worlds, model.nv, generator=g, dtype=F64)
    ctrl = torch.sign(torch.randn(worlds, steps, 1, generator=g, dtype=F64))
    return model, q0, v0, ctrl


def test_tumbling_linkage_stays_finite_at_5_ms_and_comes_to_rest_on_the_floor():
    model, q0, v0, ctrl = _linkage_inputs(8, 400)
    ctrl[:, 200:] = 0.0
    qs, vs = rollout(model, q0, v0, ctrl, integrator="implicit_contacts")
    assert bool(torch.isfinite(qs).all() and torch.isfinite(vs).all())
    assert float(vs[:, -1].abs().max()) < 1e-3  # at rest after 1 s without controls
    assert float(qs[:, -1, 2].min()) > 0.03  # on the floor (the capsule's radius is 0.05 m), not through it
    qe, ve = rollout(model, q0, v0, ctrl, integrator="euler")
    assert not bool(torch.isfinite(ve).all()) or float(ve.abs().max()) > 1e3  # explicit Euler blows up


@pytest.mark.parametrize("structure", ["generated", "loops"])
def test_gradients_through_implicit_contacts_and_limits_match_finite_differences(structure):
    model, q0, v0, ctrl = _linkage_inputs(2, 12, seed=1, structure=structure)
    q0[:, 2] = 0.045  # lying on the floor, in contact from the first step
    q0[:, 7] = 0.5  # the knee beyond its 30 degree limit
    v0, ctrl = 0.3 * v0, 0.5 * ctrl  # inside the control range (its clamp has no derivative at the edge)
    for x in (q0, v0, ctrl):
        x.requires_grad_(True)

    def final(q, v, u):
        qs, vs = rollout(model, q, v, u, integrator="implicit_contacts")
        return qs[:, -1], vs[:, -1]

    assert torch.autograd.gradcheck(final, (q0, v0, ctrl), eps=1e-6, atol=1e-6, rtol=1e-5)


def test_loops_equal_the_generated_code_on_hopper(monkeypatch):
    """Gymnasium's hopper (plane contacts, soft limits, capsule pairs) falling under random controls, 200 implicit
    steps of 5 ms in float64: the loops structure gives the generated code's states to 1e-10 and its gradients
    w.r.t. the initial state and the controls to 1e-9 (relative); the generated module compiled without adjoints
    (its step calls the dynamics, the one with adjoints has them written out in the kernel) the same states."""
    import gymnasium

    path = os.path.join(os.path.dirname(gymnasium.__file__), "envs", "mujoco", "assets", "hopper.xml")
    model = load_mjcf(path, num_worlds=2, dtype=F64, structure="generated")
    rng = np.random.default_rng(2)
    q0 = torch.tensor([[0.0, 1.25, 0.1, -0.3, -0.5, 0.2], [0.1, 1.3, -0.2, 0.1, -0.1, 0.4]], dtype=F64)
    v0 = torch.tensor(rng.normal(size=(2, 6)), dtype=F64)
    ctrl = torch.tensor(rng.uniform(-0.9, 0.9, (2, 200, 3)), dtype=F64)
    weights = torch.tensor(rng.normal(size=(2, 6)), dtype=F64)
    out = []
    for m in (model, dataclasses.replace(model, structure="loops")):
        inputs = [x.clone().requires_grad_(True) for x in (q0, v0, ctrl)]
        qs, vs = rollout(m, *inputs, integrator="implicit_contacts", timestep=0.005)
        (qs[:, -1] * weights).sum().add((vs[:, 100] * weights).sum()).backward()
        out.append((qs.detach(), vs.detach(), *(x.grad for x in inputs)))
    (qa, va, *ga), (qb, vb, *gb) = out
    monkeypatch.setattr(codegen, "_WITH_ADJOINTS", set())  # a call without gradients then loads the forward module
    with torch.no_grad():
        qf, vf = rollout(model, q0, v0, ctrl, integrator="implicit_contacts", timestep=0.005)
    assert float((qa - qf).abs().max()) < 1e-10
    assert float((va - vf).abs().max()) < 1e-10 * float(va.abs().max())
    assert float(va.abs().max()) > 1.0 and float(qa[:, :, 1].min()) < 0.3  # moving; fell from 1.25 m onto the floor
    assert float((qa - qb).abs().max()) < 1e-10
    assert float((va - vb).abs().max()) < 1e-10 * float(va.abs().max())
    for a, b in zip(ga, gb):
        assert float(a.abs().max()) > 0
        assert float((a - b).abs().max()) < 1e-9 * float(a.abs().max())
