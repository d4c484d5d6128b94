"""Free bodies: MuJoCo agreement, torque-free rotation (conservation laws, intermediate-axis flip)."""
import numpy as np
import pytest
import torch

from diffsim.rigid import load_mjcf
from diffsim.rigid.rollout import rollout

mujoco = pytest.importorskip("mujoco")
F64 = torch.float64

TREE = """<mujoco><option timestep="0.001" gravity="0 0 -9.81"/><worldbody>
<body name="box" pos="0 0 1"><freejoint/><geom type="box" size="0.3 0.2 0.1" mass="2" pos="0.05 0.02 0"/>
<body pos="0.3 0 0"><joint type="hinge" axis="0 0 1" damping="0.01"/>
<geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.03" mass="0.2"/></body>
</body></worldbody></mujoco>"""

BRICK = """<mujoco><option timestep="0.001" gravity="0 0 0"/><worldbody>
<body name="brick"><freejoint/><inertial pos="0 0 0" mass="1" diaginertia="1 2 3"/></body>
</worldbody></mujoco>"""


def _quat_to_mat(q):
    w, x, y, z = q.unbind(-1)
    return torch.stack([torch.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
                        torch.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
                        torch.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1)], -2)


def test_free_tree_matches_mujoco():
    mj = mujoco.MjModel.from_xml_string(TREE)
    mj.opt.integrator = mujoco.mjtIntegrator.mjINT_RK4
    d = mujoco.MjData(mj)
    q0 = np.array([0.1, -0.2, 1.0, 0.9, 0.1, 0.3, 0.2, 0.4])
    q0[3:7] /= np.linalg.norm(q0[3:7])
    v0 = np.array([0.5, -0.3, 1.0, 0.2, 3.0, -0.5, 1.0])
    d.qpos[:], d.qvel[:] = q0, v0
    for _ in range(2000):
        mujoco.mj_step(mj, d)
    qs, vs = rollout(load_mjcf(TREE, dtype=F64), torch.tensor(q0)[None], torch.tensor(v0)[None],
                     torch.zeros(1, 2000, 0, dtype=F64))
    assert np.abs(qs[0, -1].numpy() - d.qpos).max() < 1e-9
    assert np.abs(vs[0, -1].numpy() - d.qvel).max() < 1e-9


def test_torque_free_rotation_conserves_momentum_and_energy_and_flips():
    model = load_mjcf(BRICK, dtype=F64)
    omega0 = torch.tensor([1e-3, 2.0, 1e-3], dtype=F64)  # about the intermediate axis, slightly perturbed
    q0 = torch.tensor([[0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]], dtype=F64)
    v0 = torch.cat([torch.zeros(3, dtype=F64), omega0])[None]
    qs, vs = rollout(model, q0, v0, torch.zeros(1, 20_000, 0, dtype=F64))
    R = _quat_to_mat(qs[0, :, 3:7] / qs[0, :, 3:7].norm(dim=-1, keepdim=True))
    inertia = torch.diag(torch.tensor([1.0, 2.0, 3.0], dtype=F64))
    w_local = vs[0, :, 3:]
    L_world = (R @ (w_local @ inertia).unsqueeze(-1)).squeeze(-1)  # angular momentum, world frame
    energy = 0.5 * (w_local * (w_local @ inertia)).sum(-1)
    assert float((L_world - L_world[0]).norm(dim=-1).max() / L_world[0].norm()) < 1e-8
    assert float(((energy - energy[0]).abs() / energy[0]).max()) < 1e-8
    assert float(w_local[:, 1].min()) < -1.9  # the intermediate-axis (Dzhanibekov) flip happened


def test_motor_on_free_joint_rejected():
    xml = BRICK.replace("</worldbody>", "</worldbody><actuator><motor joint='j'/></actuator>").replace(
        "<freejoint/>", "<freejoint name='j'/>")
    with pytest.raises(ValueError, match="free joints are not supported"):
        load_mjcf(xml)
