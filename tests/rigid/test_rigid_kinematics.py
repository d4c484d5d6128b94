"""Body kinematics, the mass matrix and body_invweight0 against MuJoCo on Gymnasium's models; gradients."""
import os

import numpy as np
import pytest
import torch

from diffsim.rigid import load_mjcf, parse_mjcf, rollout
from diffsim.rigid.kinematics import body_invweight0, body_kinematics, contact_wrench, mass_matrix, tendon_state
from diffsim.rigid.state import default_state

mujoco = pytest.importorskip("mujoco")
gymnasium = pytest.importorskip("gymnasium")
ASSETS = os.path.join(os.path.dirname(gymnasium.__file__), "envs", "mujoco", "assets")
F64 = torch.float64


def _at_random_state(name, scale, seed):
    """diffsim's and MuJoCo's model of Gymnasium's ``name``.xml, and MuJoCo's data at a random state."""
    path = os.path.join(ASSETS, f"{name}.xml")
    model, mj = load_mjcf(path, dtype=F64), mujoco.MjModel.from_xml_path(path)
    data = mujoco.MjData(mj)
    rng = np.random.default_rng(seed)
    data.qpos[:] = mj.qpos0 + rng.normal(0, scale, mj.nq)
    data.qvel[:] = rng.normal(0, 1.0, mj.nv)
    mujoco.mj_forward(mj, data)
    return model, mj, data, torch.tensor(data.qpos)[None], torch.tensor(data.qvel)[None]


@pytest.mark.parametrize("name", ["reacher", "swimmer"])
def test_poses_velocities_mass_matrix_and_invweight_match_mujoco(name):
    model, mj, data, qpos, qvel = _at_random_state(name, 0.4, 3)
    kin = body_kinematics(model, qpos, qvel)
    idx = [list(model.body_names).index(mj.body(i).name) for i in range(1, mj.nbody)]  # skip joint frames
    np.testing.assert_allclose(kin.xpos[0, idx].numpy(), data.xpos[1:], atol=1e-12)
    np.testing.assert_allclose(kin.xipos[0, idx].numpy(), data.xipos[1:], atol=1e-12)
    np.testing.assert_allclose(kin.xmat[0, idx].reshape(-1, 9).numpy(), data.xmat[1:], atol=1e-12)
    for k, b in enumerate(idx):
        jacp, jacr = np.zeros((3, mj.nv)), np.zeros((3, mj.nv))
        mujoco.mj_jacBodyCom(mj, data, jacp, jacr, k + 1)
        np.testing.assert_allclose(kin.linvel[0, b].numpy(), jacp @ data.qvel, atol=1e-12)
        np.testing.assert_allclose(kin.angvel[0, b].numpy(), jacr @ data.qvel, atol=1e-12)
    M = np.zeros((mj.nv, mj.nv))
    mujoco.mj_fullM(mj, data, M)
    np.testing.assert_allclose(mass_matrix(model, qpos)[0].numpy(), M, rtol=1e-10, atol=1e-12)
    iw = body_invweight0(model, default_state(model).qpos)[0, idx].numpy()
    np.testing.assert_allclose(iw, mj.body_invweight0[1:], rtol=1e-10, atol=1e-14)


def test_body_kinematics_gradcheck():
    """Poses, velocities and the contact wrench (the sphere is pressed into the floor and slides on it)."""
    xml = """<mujoco><worldbody><geom type="plane" size="5 5 .1" pos="0 0 0.43"/>
    <body pos="0 0 1"><joint type="hinge" axis="0 1 0"/>
    <geom type="capsule" fromto="0 0 0 0.3 0 -0.5" size="0.05" contype="0" conaffinity="0"/>
    <body pos="0.3 0 -0.5"><joint type="slide" axis="1 0 0"/><geom type="sphere" size="0.1"/></body>
    </body></worldbody></mujoco>"""
    model = load_mjcf(xml, dtype=F64)
    q = torch.tensor([[0.3, 0.1]], dtype=F64, requires_grad=True)
    v = torch.tensor([[0.7, -0.4]], dtype=F64, requires_grad=True)
    assert body_kinematics(model, q, v, contacts=True).contact_force[0, 1, 2] > 1.0  # the sphere is in contact

    def outputs(q, v):
        k = body_kinematics(model, q, v, contacts=True)
        return k.xipos, k.xmat, k.linvel, k.angvel, contact_wrench(model, k)

    assert torch.autograd.gradcheck(outputs, (q, v), eps=1e-6, atol=1e-8)


TRIPOD = """<mujoco><option timestep="0.002"/><worldbody><geom type="plane" size="5 5 .1"/>
<body name="base" pos="0 0 0.06"><freejoint/><geom type="capsule" fromto="-0.3 0 0 0.3 0 0" size="0.05" mass="2"/>
<body name="side" pos="0 0.3 0"><geom type="sphere" size="0.05" mass="1"/></body></body></worldbody></mujoco>"""


def test_contact_wrench_at_rest_matches_mujocos_cfrc_ext():
    """A free capsule with a welded sphere rests on three points (the capsule's ends, the sphere): statically
    determinate, so each body's contact force and its torque about the tree's centre of mass are fixed by
    equilibrium; diffsim's (penalty contacts) equal MuJoCo's ``cfrc_ext`` (constraint solver), each simulator at
    its own rest after 2 s, to 0.5 % of the weight (the rest depths differ by a fraction of a millimetre).
    diffsim steps at 0.5 ms: at MuJoCo's 2 ms its smooth friction (a damper of mu fn / 1 cm/s below that slip
    speed) is beyond RK4's stability on these light bodies and the contacts chatter at ~3 cm/s instead of
    resting."""
    mj = mujoco.MjModel.from_xml_string(TRIPOD)
    data = mujoco.MjData(mj)
    for _ in range(1000):
        mujoco.mj_step(mj, data)
    mujoco.mj_rnePostConstraint(mj, data)
    model = load_mjcf(TRIPOD, dtype=F64)
    q0, v0 = torch.tensor(mj.qpos0)[None], torch.zeros(1, mj.nv, dtype=F64)
    qs, vs = rollout(model, q0, v0, torch.zeros(1, 4000, 0, dtype=F64), timestep=5e-4)
    wrench = contact_wrench(model, body_kinematics(model, qs[:, -1], vs[:, -1], contacts=True))[0].numpy()
    weight = 3 * 9.81
    np.testing.assert_allclose(wrench, data.cfrc_ext[1:], atol=5e-3 * weight)
    np.testing.assert_allclose(wrench[:, 5], [2 * 9.81, 9.81], rtol=1e-3)  # each body carries its own weight
    np.testing.assert_allclose(wrench.sum(0), [0, 0, 0, 0, 0, weight], atol=1e-3 * weight)  # at rest


def test_body_kinematics_checks_shapes():
    model = load_mjcf(os.path.join(ASSETS, "reacher.xml"), dtype=F64)
    with pytest.raises(ValueError, match="qpos must have shape"):
        body_kinematics(model, torch.zeros(1, 3, dtype=F64))


def test_fixed_tendons_report_mujocos_length_and_velocity():
    """Humanoid's two fixed tendons exert no force (MuJoCo's files give them none) and are kept for their length
    and velocity, which Humanoid-v5 reports; tendon forces and spatial tendons are refused by name."""
    model, ref, data, qpos, qvel = _at_random_state("humanoid", 0.2, 0)
    length, velocity = tendon_state(model, qpos, qvel)
    assert [name for name, _ in model.tendons] == [ref.tendon(i).name for i in range(ref.ntendon)]
    np.testing.assert_allclose(length[0].numpy(), data.ten_length, atol=1e-12)
    np.testing.assert_allclose(velocity[0].numpy(), data.ten_velocity, atol=1e-12)
    body = "<worldbody><body><joint name='a'/><geom size='0.1'/></body></worldbody>"
    with pytest.raises(ValueError, match="tendon 't': tendon forces \\(stiffness\\) are not modelled"):
        parse_mjcf(f"<mujoco>{body}<tendon><fixed name='t' stiffness='3'><joint joint='a'/></fixed></tendon></mujoco>")
    with pytest.raises(ValueError, match="only inert <fixed> tendons"):
        parse_mjcf(f"<mujoco>{body}<tendon><spatial name='s'/></tendon></mujoco>")
    with pytest.raises(ValueError, match="no joint named 'b'"):
        load_mjcf(f"<mujoco>{body}<tendon><fixed name='t'><joint joint='b'/></fixed></tendon></mujoco>")


def test_contact_wrench_needs_the_contact_kinematics():
    model = load_mjcf(TRIPOD, dtype=F64)
    kin = body_kinematics(model, torch.tensor(mujoco.MjModel.from_xml_string(TRIPOD).qpos0)[None])
    assert kin.contact_force is None and kin.contact_torque is None
    with pytest.raises(ValueError, match="contacts=True"):
        contact_wrench(model, kin)
