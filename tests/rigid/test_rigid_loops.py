"""The dynamics as loops over model arrays (``Model.structure = "loops"``): MuJoCo parity on contact-free models
(a 16-link chain included), gradients against finite differences through joints, limits and contacts, equality
with the generated code on a contact model, and the choice between the two."""
import dataclasses

import numpy as np
import pytest
import torch
from mujoco_reference import mujoco_rk4

from diffsim.rigid import builtin_model, load_mjcf, loops
from diffsim.rigid.kinematics import body_kinematics
from diffsim.rigid.rollout import rollout

mujoco = pytest.importorskip("mujoco")
F64 = torch.float64


def _loops(model):
    return dataclasses.replace(model, structure="loops")


def _chain(n: int) -> str:
    body = "".join(f'<body pos="0 0 {-0.5 if i else 0}"><joint type="hinge" axis="0 1 {0.3 * (i % 3)}" '
                   f'damping="0.1"/><geom type="capsule" fromto="0 0 0 0.1 0 -0.5" size="0.05"/>' for i in range(n))
    return f"<mujoco><option timestep='0.005'/><worldbody>{body}{'</body>' * n}</worldbody></mujoco>"


@pytest.mark.parametrize("name", ["double_pendulum", "cartpole", "chain16"])
def test_loops_match_mujoco_rk4(name):
    """Two seconds of RK4 under random controls agree with MuJoCo to 1e-9, as the generated code does; the
    16-link chain (whose generated code is large: ``auto`` picks loops) for one second."""
    xml = _chain(16) if name == "chain16" else open(builtin_model(name)).read()
    model = load_mjcf(xml, dtype=F64)
    assert loops.use_loops(model) == (name == "chain16")
    model = _loops(model)
    rng = np.random.default_rng(0)
    q0, v0 = rng.uniform(-1, 1, model.nq), rng.uniform(-1, 1, model.nv)
    T = int(round((1.0 if name == "chain16" else 2.0) / model.timestep))
    ctrl = rng.uniform(-1, 1, (T, model.nu)) * np.sin(np.linspace(0, 6, T))[:, None]
    ref_q, ref_v = mujoco_rk4(mujoco.MjModel.from_xml_string(xml), q0, v0, ctrl)
    qs, vs = rollout(model, torch.tensor(q0)[None], torch.tensor(v0)[None], torch.tensor(ctrl)[None])
    assert np.abs(qs[0].numpy() - ref_q).max() < 1e-9
    assert np.abs(vs[0, -1].numpy() - ref_v).max() < 1e-8


FREE_TREE = """<mujoco><option timestep="0.001" integrator="Euler"/>
<default><geom contype="0" conaffinity="0"/></default><worldbody>
<body name="box" pos="0 0 1"><freejoint/><geom type="box" size="0.3 0.2 0.1" mass="2" pos="0.05 0.02 0"/>
<body pos="0.3 0 0"><joint name="h" type="hinge" axis="0 0 1" damping="0.5" range="-0.5 0.5" limited="false"/>
<geom type="capsule" fromto="0 0 0 0.3 0 0" size="0.03" mass="0.2"/>
<body pos="0.3 0 0"><joint name="s" type="slide" axis="1 0 0" damping="2" stiffness="30" springref="0.05"/>
<geom type="sphere" size="0.04" mass="0.1"/></body></body>
</body></worldbody><actuator><motor joint="h" gear="2"/><motor joint="s"/></actuator></mujoco>"""


@pytest.mark.parametrize("integrator", ["rk4", "euler"])
def test_free_tree_with_springs_and_motors_matches_mujoco(integrator):
    """A free body carrying a hinge and a sprung slide, both driven: 1 000 steps of MuJoCo's RK4, or of its Euler
    (implicit in joint damping), agree with MuJoCo to 1e-9."""
    mj = mujoco.MjModel.from_xml_string(FREE_TREE)
    mj.opt.integrator = (mujoco.mjtIntegrator.mjINT_RK4 if integrator == "rk4"
                         else mujoco.mjtIntegrator.mjINT_EULER)
    d = mujoco.MjData(mj)
    q0 = np.array([0.1, -0.2, 1.0, 0.9, 0.1, 0.3, 0.2, 0.4, 0.02])
    q0[3:7] /= np.linalg.norm(q0[3:7])
    v0 = np.array([0.5, -0.3, 1.0, 0.2, 3.0, -0.5, 1.0, -0.4])
    d.qpos[:], d.qvel[:] = q0, v0
    ctrl = np.stack([np.sin(0.01 * np.arange(1000)), np.cos(0.02 * np.arange(1000))], 1)
    for u in ctrl:
        d.ctrl[:] = u
        mujoco.mj_step(mj, d)
    model = _loops(load_mjcf(FREE_TREE, dtype=F64))
    qs, vs = rollout(model, torch.tensor(q0)[None], torch.tensor(v0)[None], torch.tensor(ctrl)[None],
                     integrator=integrator)
    assert np.abs(qs[0, -1].numpy() - d.qpos).max() < 1e-9
    assert np.abs(vs[0, -1].numpy() - d.qvel).max() < 1e-9


def test_gradcheck_through_joints_springs_motors_and_parameters():
    model = _loops(load_mjcf(FREE_TREE, dtype=F64))
    q0 = torch.tensor([[0.1, -0.2, 1.0, 0.9, 0.1, 0.3, 0.2, 0.4, 0.02]], dtype=F64)
    q0[:, 3:7] /= q0[:, 3:7].norm()
    v0 = torch.tensor([[0.5, -0.3, 1.0, 0.2, 3.0, -0.5, 1.0, -0.4]], dtype=F64)
    ctrl = 0.5 * torch.ones(1, 15, 2, dtype=F64)
    mass, damping = model.body_mass.clone(), model.dof_damping.clone()

    def final(q, v, u, m, c):
        c = torch.where(damping > 0, c, damping)  # the free joint's zero damping stays zero (never negative)
        qs, vs = rollout(dataclasses.replace(model, body_mass=m, dof_damping=c), q, v, u, integrator="euler")
        return qs[:, -1], vs[:, -1]

    inputs = tuple(x.clone().requires_grad_(True) for x in (q0, v0, ctrl, mass, damping))
    assert torch.autograd.gradcheck(final, inputs, eps=1e-6, atol=1e-6, rtol=1e-5)


ON_CAPSULE = """<mujoco><option timestep="0.002"/>
<default><geom solref="0.05 1" solimp="0.95 0.95 0.001"/></default>
<worldbody><geom type="plane" size="2 2 0.1" conaffinity="3"/>
<body name="base" pos="0 0 0.5"><geom type="capsule" fromto="-0.3 0 0 0.3 0 0" size="0.05"/></body>
<body name="top" pos="0 0 0.62"><freejoint/><geom type="capsule" fromto="0 -0.3 0 0 0.3 0" size="0.07" mass="2"/>
</body>
<body name="box" pos="0.8 0 0.1"><freejoint/><geom type="box" size="0.1 0.1 0.1" mass="1" contype="2" conaffinity="2"/>
</body></worldbody></mujoco>"""


def test_gradients_through_pair_and_plane_contacts_match_finite_differences():
    """A capsule pressed on a capsule and a box on the floor, in contact for 20 steps: gradcheck w.r.t. the
    states and the contact parameters."""
    model = _loops(load_mjcf(ON_CAPSULE, dtype=F64))
    assert model.geom_pairs
    q0 = torch.tensor([[0.05, 0.02, 0.619, 0.99, 0.05, 0.1, 0.0, 0.8, 0.0, 0.098, 0.99, 0.02, 0.05, 0.0]], dtype=F64)
    q0[:, 3:7] /= q0[:, 3:7].norm()
    q0[:, 10:14] /= q0[:, 10:14].norm()
    v0 = torch.tensor([[0.1, -0.2, -0.3, 0.5, -0.2, 0.3, 0.3, 0.1, -0.2, 0.0, 0.4, 0.1]], dtype=F64)
    geom, pair = model.geom_contact.clone(), model.pair_contact.clone()

    def final(q, v, g, p):
        g = torch.where(geom > 0, g, geom)  # zero entries stay zero (never negative)
        qs, vs = rollout(dataclasses.replace(model, geom_contact=g, pair_contact=p), q, v,
                         torch.zeros(1, 20, 0, dtype=F64))
        return qs[:, -1], vs[:, -1]

    inputs = tuple(x.clone().requires_grad_(True) for x in (q0, v0, geom, pair))
    assert torch.autograd.gradcheck(final, inputs, eps=1e-7, atol=1e-6, rtol=1e-5)


def test_loops_equal_the_generated_code_on_hopper():
    """Gymnasium's hopper (capsule pairs, plane contacts, soft limits) for 300 steps from a fall, float64: both
    forms give the same states to 1e-10 and the same contact kinematics."""
    import os

    import gymnasium

    path = os.path.join(os.path.dirname(gymnasium.__file__), "envs", "mujoco", "assets", "hopper.xml")
    model = load_mjcf(path, num_worlds=2, dtype=F64)
    rng = np.random.default_rng(1)
    q0 = torch.tensor([[0.0, 1.25, 0.1, -0.3, -0.5, 0.2], [0.1, 1.3, -0.2, 0.1, -0.1, 0.4]], dtype=F64)
    v0 = torch.tensor(rng.normal(size=(2, 6)), dtype=F64)
    ctrl = torch.tensor(rng.uniform(-1, 1, (2, 300, 3)), dtype=F64)
    with torch.no_grad():
        qa, va = rollout(model, q0, v0, ctrl, timestep=0.002)
        qb, vb = rollout(_loops(model), q0, v0, ctrl, timestep=0.002)
        ka = body_kinematics(model, qa[:, 150], va[:, 150], contacts=True)
        kb = body_kinematics(_loops(model), qa[:, 150], va[:, 150], contacts=True)
    assert float(vb.abs().max()) > 1.0  # it moved
    assert float((qa - qb).abs().max()) < 1e-10
    assert float((va - vb).abs().max()) < 1e-10 * float(va.abs().max())
    assert float(ka.contact_force.abs().max()) > 1.0  # in contact
    for a, b in [(ka.xpos, kb.xpos), (ka.xmat, kb.xmat), (ka.linvel, kb.linvel), (ka.contact_force, kb.contact_force),
                 (ka.contact_torque, kb.contact_torque), (ka.limit_force, kb.limit_force)]:
        assert float((a - b).abs().max()) <= 1e-10 * max(1.0, float(a.abs().max()))


def test_structure_choice_and_unsupported_models():
    quad = load_mjcf(builtin_model("quadrotor"), dtype=F64)
    assert loops.supports(quad) == "site motors"
    assert not loops.use_loops(quad)  # auto falls back to the generated code
    with pytest.raises(ValueError, match="structure='loops' does not support site motors"):
        loops.use_loops(_loops(quad))
    with pytest.raises(ValueError, match="model.structure must be one of"):
        loops.use_loops(dataclasses.replace(quad, structure="unrolled"))
    chain = load_mjcf(_chain(16))
    assert loops.use_loops(chain) and not loops.use_loops(load_mjcf(_chain(16), structure="generated"))
    with pytest.raises(ValueError, match="structure must be one of"):
        load_mjcf(_chain(2), structure="fast")
