"""Soft joint limits: the joint stays near its range, inside it nothing changes, gradients stay finite."""
import torch

from diffsim.rigid import load_mjcf
from diffsim.rigid.kinematics import body_kinematics
from diffsim.rigid.rollout import rollout

F64 = torch.float64
XML = """<mujoco><compiler angle="radian"/><option timestep="0.001"/><worldbody>
<body><joint name="j" type="hinge" axis="0 1 0" {limit}/><inertial pos="0 0 -1" mass="1" diaginertia="1e-3 1e-3 1e-3"/>
</body></worldbody></mujoco>"""


def test_limit_stops_the_swing():
    model = load_mjcf(XML.format(limit='range="-0.5 0.5"'), dtype=F64)
    q0 = torch.tensor([[0.0]], dtype=F64, requires_grad=True)
    qs, _ = rollout(model, q0, torch.tensor([[4.0]], dtype=F64), torch.zeros(1, 2000, 0, dtype=F64))
    free, _ = rollout(load_mjcf(XML.format(limit=""), dtype=F64), q0.detach(), torch.tensor([[4.0]], dtype=F64),
                      torch.zeros(1, 2000, 0, dtype=F64))
    assert float(free[0].abs().max()) > 1.0  # without the limit it swings well past 0.5 rad
    assert float(qs[0].detach().abs().max()) < 0.6  # with it, a small soft overshoot only
    (g,) = torch.autograd.grad(qs[0, -1, 0], q0)
    assert torch.isfinite(g)


def test_inside_the_range_the_limit_does_nothing():
    limited = load_mjcf(XML.format(limit='range="-2 2"'), dtype=F64)
    free = load_mjcf(XML.format(limit=""), dtype=F64)
    args = (torch.tensor([[0.3]], dtype=F64), torch.zeros(1, 1, dtype=F64), torch.zeros(1, 1000, 0, dtype=F64))
    a, _ = rollout(limited, *args)
    b, _ = rollout(free, *args)
    assert float((a - b).abs().max()) < 1e-12


def test_degrees_in_mjcf_ranges():
    model = load_mjcf(XML.format(limit='range="-30 30"').replace('angle="radian"', 'angle="degree"'), dtype=F64)
    assert abs(float(model.dof_range[0, 0, 1]) - 0.5235987755982988) < 1e-15


def test_solreflimit_rests_as_deep_in_the_limit_as_mujoco():
    """MJCF limits map solreflimit/solimplimit to the penalty as contacts do, with the dof's invweight0 (its
    entry of M^-1 at qpos0): a pendulum pressed into its limit by gravity rests where MuJoCo's does (constant
    impedance: to 1 % of the penetration), and the limit force ``body_kinematics`` reports there equals MuJoCo's
    ``qfrc_constraint`` (both hold the pendulum against gravity)."""
    import mujoco
    import numpy as np

    xml = XML.format(limit='range="-0.5 0.5" solreflimit="0.05 1" solimplimit="0.95 0.95 0.001"').replace(
        '<option timestep="0.001"/>', '<option timestep="0.001" gravity="-9.81 0 0"/>')
    mj = mujoco.MjModel.from_xml_string(xml)
    data = mujoco.MjData(mj)
    for _ in range(4000):
        mujoco.mj_step(mj, data)
    model = load_mjcf(xml, dtype=F64)
    qs, vs = rollout(model, torch.zeros(1, 1, dtype=F64), torch.zeros(1, 1, dtype=F64),
                     torch.zeros(1, 4000, 0, dtype=F64))
    theirs, ours = data.qpos[0] - 0.5, float(qs[0, -1, 0]) - 0.5  # gravity along -x presses q past 0.5
    assert abs(float(vs[0, -1, 0])) < 1e-6 and abs(data.qvel[0]) < 1e-6
    assert theirs > 1e-3 and abs(ours - theirs) < 0.01 * theirs, (ours, theirs)
    limit_force = body_kinematics(model, qs[:, -1], vs[:, -1]).limit_force
    assert data.qfrc_constraint[0] < -1.0  # pushes back into the range
    np.testing.assert_allclose(limit_force[0].numpy(), data.qfrc_constraint, rtol=1e-5)
    np.testing.assert_allclose(float(model.dof_limit[0, 0, 0]), 0.95 ** 2 / (0.05 * 0.95 ** 2 * 0.05 ** 2)
                               / (1 / 1.001), rtol=1e-9)
