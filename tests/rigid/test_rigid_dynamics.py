"""Rigid-body dynamics: MuJoCo parity, energy conservation, pendulum period, gradients, bad input."""
import dataclasses
import math

import numpy as np
import pytest
import torch
from mujoco_reference import mujoco_rk4

from diffsim.rigid import builtin_model, load_mjcf
from diffsim.rigid.rollout import rollout

mujoco = pytest.importorskip("mujoco")
F64 = torch.float64


def _mujoco_rollout(path, q0, v0, ctrl):
    return mujoco_rk4(mujoco.MjModel.from_xml_path(path), q0, v0, ctrl)


@pytest.mark.parametrize("name", ["pendulum", "double_pendulum", "cartpole", "acrobot"])
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_mujoco_rk4_after_two_seconds(name, seed):
    path = builtin_model(name)
    model = load_mjcf(path, num_worlds=1, dtype=F64)
    rng = np.random.default_rng(seed)
    q0, v0 = rng.uniform(-1, 1, model.nq), rng.uniform(-1, 1, model.nv)
    T = int(round(2.0 / model.timestep))
    ctrl = rng.uniform(-1, 1, (T, model.nu)) * np.sin(np.linspace(0, 6, T))[:, None]
    ref_q, ref_v = _mujoco_rollout(path, q0, v0, ctrl)
    qs, vs = rollout(model, torch.tensor(q0)[None], torch.tensor(v0)[None], torch.tensor(ctrl)[None])
    assert np.abs(qs[0].numpy() - ref_q).max() < 1e-9
    assert np.abs(vs[0, -1].numpy() - ref_v).max() < 1e-8


def _energy(path, qs, vs):
    """Total energy of each state, computed by MuJoCo (an independent implementation)."""
    mj = mujoco.MjModel.from_xml_path(path)
    mj.opt.enableflags |= mujoco.mjtEnableBit.mjENBL_ENERGY
    d = mujoco.MjData(mj)
    out = []
    for q, v in zip(qs, vs):
        d.qpos[:], d.qvel[:] = q, v
        mujoco.mj_forward(mj, d)
        out.append(d.energy.sum())
    return np.array(out)


def test_double_pendulum_energy_drift_below_1e6_over_10s():
    path = builtin_model("double_pendulum")
    model = load_mjcf(path, dtype=F64, timestep=1e-3)
    T = 10_000
    qs, vs = rollout(model, torch.tensor([[1.2, -0.7]], dtype=F64), torch.tensor([[0.0, 1.5]], dtype=F64),
                     torch.zeros(1, T, model.nu, dtype=F64))
    e = _energy(path, qs[0, ::100].numpy(), vs[0, ::100].numpy())
    scale = np.abs(e).max()
    assert np.abs(e - e[0]).max() / scale < 1e-6


def test_small_angle_pendulum_period():
    model = load_mjcf(builtin_model("pendulum"), dtype=F64, timestep=1e-3)
    T = 12_000
    qs, _ = rollout(model, torch.tensor([[1e-3]], dtype=F64), torch.zeros(1, 1, dtype=F64),
                    torch.zeros(1, T, 1, dtype=F64))
    q = qs[0, :, 0].numpy()
    t = np.arange(T + 1) * 1e-3
    up = np.nonzero((q[:-1] < 0) & (q[1:] >= 0))[0]
    crossings = t[up] - q[up] / (q[up + 1] - q[up]) * 1e-3  # linear interpolation of upward zero crossings
    period = np.diff(crossings).mean()
    length, g = 1.0, 9.81
    assert abs(period - 2 * math.pi * math.sqrt(length / g)) / period < 1e-4
    # and the exact physical-pendulum period for this bob (I_pivot = 1e-4 + m l^2) to 1e-6
    assert abs(period - 2 * math.pi * math.sqrt((1e-4 + 1.0) / g)) / period < 1e-6


def test_gradcheck_through_100_steps_wrt_state_controls_and_parameters():
    model = load_mjcf(builtin_model("cartpole"), num_worlds=2, dtype=F64)
    q0 = torch.tensor([[0.1, 0.2], [-0.1, 0.4]], dtype=F64, requires_grad=True)
    v0 = torch.tensor([[0.0, -0.3], [0.2, 0.1]], dtype=F64, requires_grad=True)
    ctrl = (0.3 * torch.randn(2, 100, 1, dtype=F64)).requires_grad_(True)
    mass = model.body_mass.clone().requires_grad_(True)
    damping = model.dof_damping.clone().requires_grad_(True)
    pole_pos = model.joint_pos.clone().requires_grad_(True)
    inertia = model.body_inertia.clone().requires_grad_(True)

    def run(q, v, u, m, dmp, jp, inr):
        model.body_mass, model.dof_damping, model.joint_pos, model.body_inertia = m, dmp, jp, inr
        qs, vs = rollout(model, q, v, u)
        return qs[:, -1], vs[:, -1]

    assert torch.autograd.gradcheck(run, (q0, v0, ctrl, mass, damping, pole_pos, inertia), eps=1e-6, atol=1e-6,
                                    rtol=1e-5)


def test_gradcheck_wrt_body_orientations_and_joint_axes():
    """Quaternions and axes enter through the per-world constants (codegen's ``derive`` kernel),
    normalised there: gradients must flow through it, also for unnormalised values."""
    model = load_mjcf(builtin_model("double_pendulum"), num_worlds=2, dtype=F64)
    q0 = torch.tensor([[0.4, -0.2], [0.9, 0.5]], dtype=F64)
    v0 = torch.tensor([[0.1, 0.0], [-0.3, 0.2]], dtype=F64)
    ctrl = 0.2 * torch.randn(2, 30, model.nu, dtype=F64, generator=torch.Generator().manual_seed(0))
    quat = (model.body_quat + 0.05 * torch.randn(model.body_quat.shape, dtype=F64,
                                                 generator=torch.Generator().manual_seed(1))).requires_grad_(True)
    axis = (1.3 * model.joint_axis + 0.1).requires_grad_(True)

    def run(qt, ax):
        model.body_quat, model.joint_axis = qt, ax
        qs, vs = rollout(model, q0, v0, ctrl)
        return qs[:, -1], vs[:, -1]

    assert torch.autograd.gradcheck(run, (quat, axis), eps=1e-6, atol=1e-6, rtol=1e-5)


def test_gradient_wrt_link_length_matches_finite_differences():
    model = load_mjcf(builtin_model("double_pendulum"), dtype=F64)
    pos = model.body_pos.clone()

    def final_angle(z):
        model.body_pos = pos.clone()
        model.body_pos[0, 1, 2] = z  # the elbow sits at (0, 0, z) in link 1
        qs, _ = rollout(model, torch.tensor([[0.8, 0.3]], dtype=F64), torch.zeros(1, 2, dtype=F64),
                        torch.zeros(1, 100, 2, dtype=F64))
        return qs[0, -1, 1]

    z = torch.tensor(-1.0, dtype=F64, requires_grad=True)
    (g,) = torch.autograd.grad(final_angle(z), z)
    fd = (final_angle(torch.tensor(-1.0 + 1e-6, dtype=F64)) - final_angle(torch.tensor(-1.0 - 1e-6, dtype=F64))) / 2e-6
    assert abs(float(g) - float(fd)) < 1e-6 * max(1.0, abs(float(fd)))


def test_worlds_with_their_own_parameters_match_single_runs():
    model = load_mjcf(builtin_model("cartpole"), num_worlds=3, dtype=F64)
    model.body_mass[:, 1] = torch.tensor([0.05, 0.1, 0.3], dtype=F64)
    q0 = torch.tensor([[0.0, 0.3]] * 3, dtype=F64)
    v0 = torch.zeros(3, 2, dtype=F64)
    u = torch.ones(3, 50, 1, dtype=F64) * 0.2
    qs, _ = rollout(model, q0, v0, u)
    for i in range(3):
        single = load_mjcf(builtin_model("cartpole"), dtype=F64)
        single.body_mass[0, 1] = model.body_mass[i, 1]
        qi, _ = rollout(single, q0[i:i + 1], v0[i:i + 1], u[i:i + 1])
        assert torch.equal(qs[i], qi[0])
    assert not torch.equal(qs[0], qs[2])


def test_float32_rollout_runs():
    model = load_mjcf(builtin_model("acrobot"), num_worlds=4)
    qs, vs = rollout(model, torch.zeros(4, 2), torch.zeros(4, 2), torch.ones(4, 10, 1))
    assert qs.dtype == torch.float32 and qs.shape == (4, 11, 2) and torch.isfinite(qs).all()


@pytest.mark.parametrize("change,match", [
    (dict(ctrl=torch.full((1, 5, 1), float("nan"), dtype=F64)), "ctrl must be finite"),
    (dict(qpos=torch.zeros(2, 2, dtype=F64)), r"qpos must have shape \(1, 2\)"),
    (dict(qvel=torch.zeros(1, 2, dtype=torch.float32)), "qvel must be torch.float64"),
    (dict(integrator="implicit"), "integrator must be one of"),
])
def test_bad_rollout_input(change, match):
    model = load_mjcf(builtin_model("cartpole"), dtype=F64)
    args = dict(qpos=torch.zeros(1, 2, dtype=F64), qvel=torch.zeros(1, 2, dtype=F64),
                ctrl=torch.zeros(1, 5, 1, dtype=F64), integrator="rk4")
    args.update(change)
    with pytest.raises((ValueError, TypeError), match=match):
        rollout(model, **args)


MULTI_JOINT = """<mujoco>
  <option timestep="0.005" gravity="0 0 -9.81"/>
  <worldbody>
    <body name="torso" pos="0 0 1.2">
      <joint name="rootx" type="slide" axis="1 0 0"/>
      <joint name="rootz" type="slide" axis="0 0 1" ref="0.3"/>
      <joint name="rooty" type="hinge" axis="0 1 0" pos="0 0 0.1" damping="0.1" stiffness="3" springref="10"/>
      <geom type="capsule" fromto="0 0 0.4 0 0 0" size="0.05"/>
      <body name="thigh" pos="0 0 0">
        <joint name="hip" axis="0 1 0" damping="0.2" ref="20" stiffness="5"/>
        <geom type="capsule" fromto="0 0 0 0.1 0 -0.4" size="0.04"/>
      </body>
    </body>
    <body name="plate" pos="1 0 1">
      <joint name="bx" axis="1 0 0" pos="0.05 0 0"/>
      <joint name="by" axis="0 1 0.3" pos="0 0.05 0"/>
      <geom type="box" size="0.1 0.2 0.05"/>
    </body>
  </worldbody>
  <actuator><motor joint="hip" gear="10"/><motor joint="rooty"/></actuator>
</mujoco>"""


@pytest.mark.parametrize("seed", [0, 1])
def test_bodies_with_several_joints_match_mujoco(tmp_path, seed):
    """MJCF bodies with 2 and 3 joints (slides and hinges at their own anchors) become chains of massless
    joint frames; joints with a ``ref`` (a slide and a hinge) keep MuJoCo's coordinates; two hinges have springs
    (one with a ``springref``); the rollout is MuJoCo's (RK4) to 1e-9."""
    path = tmp_path / "multi.xml"
    path.write_text(MULTI_JOINT)
    model = load_mjcf(str(path), dtype=F64, unsupported_contacts="ignore")
    assert (model.nq, model.nv, model.nu) == (6, 6, 2)
    assert model.body_names[:3] == ("torso:rootx", "torso:rootz", "torso") and model.body_frame[:3] == (True, True,
                                                                                                           False)
    rng = np.random.default_rng(seed)
    q0, v0 = rng.uniform(-0.5, 0.5, model.nq), rng.uniform(-1, 1, model.nv)
    T = 200
    ctrl = rng.uniform(-1, 1, (T, model.nu))
    ref_q, ref_v = _mujoco_rollout(str(path), q0, v0, ctrl)
    qs, vs = rollout(model, torch.tensor(q0)[None], torch.tensor(v0)[None], torch.tensor(ctrl)[None])
    assert np.abs(qs[0].numpy() - ref_q).max() < 1e-9
    assert np.abs(vs[0, -1].numpy() - ref_v).max() < 1e-8


def test_gymnasium_inverted_pendulum_rolls_out_as_mujoco():
    """Gymnasium's own inverted_pendulum.xml (RK4, 20 ms steps) from near upright under random pushes, for as
    long as the pole stays inside its joint range (where MuJoCo's limit constraint and the soft limit here
    differ): MuJoCo's trajectory to 1e-9."""
    import os

    gymnasium = pytest.importorskip("gymnasium")
    path = os.path.join(os.path.dirname(gymnasium.__file__), "envs", "mujoco", "assets", "inverted_pendulum.xml")
    model = load_mjcf(path, dtype=F64)
    rng = np.random.default_rng(3)
    q0, v0 = rng.uniform(-0.05, 0.05, 2), rng.uniform(-0.05, 0.05, 2)
    ctrl = rng.uniform(-1, 1, (40, 1))
    ref_q, ref_v = _mujoco_rollout(path, q0, v0, ctrl)
    assert np.abs(ref_q[:, 0]).max() < 1 and np.abs(ref_q[:, 1]).max() < np.pi / 2  # inside both ranges
    assert np.abs(ref_q[-1, 1]) > 0.3  # the pole did move
    qs, vs = rollout(model, torch.tensor(q0)[None], torch.tensor(v0)[None], torch.tensor(ctrl)[None])
    assert np.abs(qs[0].numpy() - ref_q).max() < 1e-9
    assert np.abs(vs[0, -1].numpy() - ref_v).max() < 1e-8


@pytest.mark.slow
def test_gymnasium_walker2d_falls_as_mujoco():
    """Gymnasium's walker2d_v5.xml (3 root joints on the torso, refs, 6 limited hinges) lifted 0.3 m with its
    joints mid-range, under small random torques: MuJoCo's RK4 trajectory to 1e-9 for the 60 contact-free steps
    of its fall. Slow: the 9-dof model's code takes about 50 s to generate and compile the first time."""
    import os

    gymnasium = pytest.importorskip("gymnasium")
    path = os.path.join(os.path.dirname(gymnasium.__file__), "envs", "mujoco", "assets", "walker2d_v5.xml")
    mj = mujoco.MjModel.from_xml_path(path)
    q0 = mj.qpos0.copy()
    q0[1] += 0.3
    for j in range(3, mj.njnt):  # away from the limits, where MuJoCo's constraint and the soft limit differ
        q0[mj.jnt_qposadr[j]] = mj.jnt_range[j].mean()
    ctrl = np.random.default_rng(0).uniform(-0.3, 0.3, (60, mj.nu))
    ref_q, ref_v = _mujoco_rollout(path, q0, np.zeros(mj.nv), ctrl)
    model = load_mjcf(path, dtype=F64)
    qs, vs = rollout(model, torch.tensor(q0)[None], torch.zeros(1, mj.nv, dtype=F64), torch.tensor(ctrl)[None])
    assert np.abs(qs[0].numpy() - ref_q).max() < 1e-9
    assert np.abs(vs[0, -1].numpy() - ref_v).max() < 1e-8


def test_gradient_wrt_joint_stiffness_matches_finite_differences(tmp_path):
    """d(final state)/d(dof_stiffness, dof_springref) through the rollout against central differences (float64)."""
    model = load_mjcf(MULTI_JOINT, dtype=F64, unsupported_contacts="ignore")
    assert model.dof_sprung == (False, False, True, True, False, False)
    q0, v0 = torch.full((1, 6), 0.1, dtype=F64), torch.zeros(1, 6, dtype=F64)
    ctrl = torch.zeros(1, 20, 2, dtype=F64)

    def final(stiffness, springref):
        m = dataclasses.replace(model, dof_stiffness=stiffness, dof_springref=springref)
        qs, vs = rollout(m, q0, v0, ctrl)
        return (qs[0, -1] * torch.arange(1, 7, dtype=F64)).sum() + vs[0, -1].sum()

    k = model.dof_stiffness.clone().requires_grad_(True)
    r = model.dof_springref.clone().requires_grad_(True)
    gk, gr = torch.autograd.grad(final(k, r), (k, r))
    eps = 1e-6
    for i in (2, 3):
        for g, which in ((gk, 0), (gr, 1)):
            plus, minus = [model.dof_stiffness.clone(), model.dof_springref.clone()], \
                [model.dof_stiffness.clone(), model.dof_springref.clone()]
            plus[which][0, i] += eps
            minus[which][0, i] -= eps
            fd = (final(*plus) - final(*minus)) / (2 * eps)
            assert abs(float(g[0, i]) - float(fd)) <= 1e-6 * max(1.0, abs(float(fd)))


def _swimmer():
    import os

    gymnasium = pytest.importorskip("gymnasium")
    return os.path.join(os.path.dirname(gymnasium.__file__), "envs", "mujoco", "assets", "swimmer.xml")


def test_gymnasium_swimmer_swims_as_mujoco():
    """Gymnasium's swimmer.xml: MuJoCo's inertia-box fluid forces (density 4000, viscosity 0.1) on a 3-link body
    with a 3-joint root; 1 000 RK4 steps of a stroke with a spring-like feedback that keeps the joints inside their
    ranges (computed from each simulator's own state) equal MuJoCo's to 1e-6."""
    from diffsim.rigid.state import Control, State, step

    path = _swimmer()
    model = load_mjcf(path, dtype=F64)
    assert model.fluid == (4000.0, 0.1)
    mj = mujoco.MjModel.from_xml_path(path)
    mj.opt.integrator = mujoco.mjtIntegrator.mjINT_RK4
    d = mujoco.MjData(mj)
    rng = np.random.default_rng(0)
    d.qpos[:], d.qvel[:] = rng.uniform(-0.3, 0.3, mj.nq), rng.uniform(-0.5, 0.5, mj.nv)
    state = State(torch.tensor(d.qpos.copy())[None], torch.tensor(d.qvel.copy())[None])

    def stroke(k, q, v):
        phase = 0.6 * k * mj.opt.timestep * 2 * np.pi
        return np.clip(0.3 * np.array([np.sin(phase), np.sin(phase - 1.5)]) - 0.4 * q[3:] - 0.05 * v[3:], -1, 1)

    start, worst = d.qpos[:2].copy(), 0.0
    for k in range(1000):
        d.ctrl[:] = stroke(k, d.qpos, d.qvel)
        state = step(model, state, Control(torch.tensor(stroke(k, state.qpos[0].numpy(), state.qvel[0].numpy()))[None]))
        mujoco.mj_step(mj, d)
        worst = max(worst, float(np.abs(state.qpos[0].numpy() - d.qpos).max()))
        assert np.abs(d.qpos[3:]).max() < np.radians(100)  # inside the joint ranges
    assert worst < 1e-6
    assert np.abs(d.qpos[:2] - start).max() > 0.05  # it swam


def test_gradient_through_fluid_forces_matches_finite_differences():
    model = load_mjcf(_swimmer(), dtype=F64)
    q0 = torch.tensor([[0.1, -0.2, 0.3, 0.2, -0.1]], dtype=F64)
    ctrl = torch.full((1, 10, 2), 0.3, dtype=F64)

    def final(v0):
        qs, vs = rollout(model, q0, v0, ctrl)
        return (qs[0, -1] * torch.arange(1, 6, dtype=F64)).sum() + vs[0, -1].sum()

    v0 = torch.tensor([[0.5, -0.3, 0.8, 1.0, -0.7]], dtype=F64, requires_grad=True)
    (g,) = torch.autograd.grad(final(v0), v0)
    eps = 1e-6
    for i in range(5):
        e = torch.zeros_like(v0)
        e[0, i] = eps
        fd = (final(v0.detach() + e) - final(v0.detach() - e)) / (2 * eps)
        assert abs(float(g[0, i]) - float(fd)) <= 1e-6 * max(1.0, abs(float(fd)))


DAMPED = """<mujoco><option timestep="0.01" integrator="Euler" gravity="0 0 -9.81"/>
<default><joint damping="6" armature="0.1"/><geom contype="0" conaffinity="0"/></default><worldbody>
<body pos="0 0 2"><joint name="j0" type="hinge" axis="0 1 0"/>
<geom type="capsule" fromto="0 0 0 0.4 0 -0.3" size="0.05"/>
<body pos="0.4 0 -0.3"><joint type="hinge" axis="0 1 0"/><geom type="capsule" fromto="0 0 0 0 0 -0.5" size="0.04"/>
<body pos="0 0 -0.5"><joint type="slide" axis="1 0 0" damping="30"/><geom type="sphere" size="0.06"/></body>
</body></body></worldbody><actuator><motor joint="j0" gear="5"/></actuator></mujoco>"""


def test_euler_is_mujocos_euler_with_implicit_damping():
    """half_cheetah and pusher use MuJoCo's Euler, implicit in joint damping (damping 6 N m s/rad against
    armature 0.1 at dt = 10 ms: explicit Euler would be unstable). 1 000 steps under a control signal agree with
    MuJoCo to 1e-9."""
    mujoco = pytest.importorskip("mujoco")
    mj = mujoco.MjModel.from_xml_string(DAMPED)
    data = mujoco.MjData(mj)
    q0, v0 = [0.3, -0.5, 0.1], [1.0, -2.0, 0.5]
    data.qpos[:], data.qvel[:] = q0, v0
    ctrl = np.sin(0.05 * np.arange(1000))
    qpos = []
    for u in ctrl:
        data.ctrl[0] = u
        mujoco.mj_step(mj, data)
        qpos.append(data.qpos.copy())
    model = load_mjcf(DAMPED, dtype=F64)
    assert model.integrator == "euler"  # the file's; rollout takes it by name
    qs, _ = rollout(model, torch.tensor([q0], dtype=F64), torch.tensor([v0], dtype=F64),
                    torch.tensor(ctrl, dtype=F64).reshape(1, -1, 1), integrator="euler")
    np.testing.assert_allclose(qs[0, 1:].numpy(), np.array(qpos), atol=1e-9)
