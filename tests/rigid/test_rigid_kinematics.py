"""Body kinematics, the mass matrix and body_invweight0 against MuJoCo on Gymnasium's models; gradients."""
import os

import numpy as np
import pytest
import torch

from diffsim.rigid import load_mjcf
from diffsim.rigid.kinematics import body_invweight0, body_kinematics, mass_matrix
from diffsim.rigid.state import default_state

mujoco = pytest.importorskip("mujoco")
gymnasium = pytest.importorskip("gymnasium")
ASSETS = os.path.join(os.path.dirname(gymnasium.__file__), "envs", "mujoco", "assets")
F64 = torch.float64


@pytest.mark.parametrize("name", ["reacher", "swimmer"])
def test_poses_velocities_mass_matrix_and_invweight_match_mujoco(name):
    path = os.path.join(ASSETS, f"{name}.xml")
    model = load_mjcf(path, dtype=F64)
    mj = mujoco.MjModel.from_xml_path(path)
    data = mujoco.MjData(mj)
    rng = np.random.default_rng(3)
    data.qpos[:] = mj.qpos0 + rng.normal(0, 0.4, mj.nq)
    data.qvel[:] = rng.normal(0, 1.0, mj.nv)
    mujoco.mj_forward(mj, data)
    qpos, qvel = torch.tensor(data.qpos)[None], torch.tensor(data.qvel)[None]
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
    xml = """<mujoco><worldbody><body pos="0 0 1"><joint type="hinge" axis="0 1 0"/>
    <geom type="capsule" fromto="0 0 0 0.3 0 -0.5" size="0.05"/>
    <body pos="0.3 0 -0.5"><joint type="slide" axis="1 0 0"/><geom type="sphere" size="0.1"/></body>
    </body></worldbody></mujoco>"""
    model = load_mjcf(xml, dtype=F64)
    q = torch.tensor([[0.3, 0.1]], dtype=F64, requires_grad=True)
    v = torch.tensor([[0.7, -0.4]], dtype=F64, requires_grad=True)

    def outputs(q, v):
        k = body_kinematics(model, q, v)
        return k.xipos, k.xmat, k.linvel, k.angvel

    assert torch.autograd.gradcheck(outputs, (q, v), eps=1e-6, atol=1e-8)


def test_body_kinematics_checks_shapes():
    model = load_mjcf(os.path.join(ASSETS, "reacher.xml"), dtype=F64)
    with pytest.raises(ValueError, match="qpos must have shape"):
        body_kinematics(model, torch.zeros(1, 3, dtype=F64))
