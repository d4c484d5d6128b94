"""Soft contacts and the quadrotor: resting penetration, Coulomb sliding distance, hover, gradients."""
import numpy as np
import pytest
import torch

from diffsim.rigid import builtin_model, load_mjcf
from diffsim.rigid.rollout import rollout

F64 = torch.float64
G = 9.81

BOX = """<mujoco><option timestep="0.001"/><worldbody><geom type="plane" size="0 0 1" friction="{mu}"/>
<body pos="0 0 0.1"><freejoint/><geom type="box" size="0.1 0.1 0.1" mass="1" friction="{mu}"/></body>
</worldbody></mujoco>"""


def test_resting_ball_and_box_penetrate_less_than_1mm():
    model = load_mjcf(builtin_model("ball_and_box"), dtype=F64)
    q0 = torch.tensor([[0, 0, 0.3, 1, 0, 0, 0, 1, 0, 0.3, 1, 0, 0, 0]], dtype=F64)
    qs, vs = rollout(model, q0, torch.zeros(1, 12, dtype=F64), torch.zeros(1, 3000, 0, dtype=F64))
    ball_pen = 0.1 - float(qs[0, -1, 2])
    box_pen = 0.1 - float(qs[0, -1, 9])
    assert 0 < ball_pen < 1e-3 and 0 < box_pen < 1e-3
    assert float(vs[0, -1].abs().max()) < 1e-3  # at rest


@pytest.mark.parametrize("mu,v0", [(0.5, 2.0), (0.3, 1.5)])
def test_sliding_block_stops_after_v0_squared_over_2_mu_g(mu, v0):
    model = load_mjcf(BOX.format(mu=mu), dtype=F64)
    T = 3000
    qs, vs = rollout(model, torch.tensor([[0, 0, 0.1, 1, 0, 0, 0]], dtype=F64),
                     torch.tensor([[v0, 0, 0, 0, 0, 0]], dtype=F64), torch.zeros(1, T, 0, dtype=F64))
    assert abs(float(vs[0, -1, 0])) < 1e-2
    expected = v0 ** 2 / (2 * mu * G)
    assert abs(float(qs[0, -1, 0]) - expected) / expected < 0.05


@pytest.mark.parametrize("eps", [0.01, 0.1])
def test_block_on_a_gentle_slope_creeps_at_the_friction_smoothing_speed(eps):
    """Friction -mu fn vt / sqrt(|vt|^2 + eps^2) holds a block on a slope with tan(alpha) = r mu (r < 1) only while
    it slides at vt = eps r / sqrt(1 - r^2): the steady creep, whatever the corners' loads (the same vt at each)."""
    mu, r = 0.5, 0.5
    tan = r * mu
    gz = G / (1 + tan ** 2) ** 0.5
    xml = BOX.format(mu=mu).replace('timestep="0.001"', f'timestep="0.001" gravity="{-tan * gz} 0 {-gz}"')
    model = load_mjcf(xml, dtype=F64, friction_smoothing=eps)
    assert model.friction_smoothing == eps
    qs, vs = rollout(model, torch.tensor([[0, 0, 0.0999, 1, 0, 0, 0]], dtype=F64), torch.zeros(1, 6, dtype=F64),
                     torch.zeros(1, 1500, 0, dtype=F64))
    creep = eps * r / (1 - r ** 2) ** 0.5
    np.testing.assert_allclose(vs[0, -500:, 0].numpy(), -creep, rtol=1e-3)  # downhill is -x
    assert float(vs[0, -1, 2:].abs().max()) < 1e-6  # no bouncing nor tumbling


def test_friction_smoothing_is_compiled_into_either_structure_and_checked():
    from diffsim.rigid import loops
    assert loops.source("float64", 0.1) != loops.source("float64", 0.01)
    assert "S(0.1) * S(0.1)" in loops.source("float64", 0.1)
    for bad in (0.0, -1.0, float("nan"), float("inf"), True, "0.1"):
        with pytest.raises(ValueError, match="friction_smoothing must be a finite slip speed > 0"):
            load_mjcf(BOX.format(mu=0.5), friction_smoothing=bad)


def test_spheres_collide_and_exchange_momentum():
    xml = """<mujoco><option timestep="0.0005" gravity="0 0 0"/><worldbody>
    <body pos="0 0 0"><freejoint/><geom type="sphere" size="0.1" mass="1" friction="0"/></body>
    <body pos="0.5 0 0"><freejoint/><geom type="sphere" size="0.1" mass="1" friction="0"/></body>
    </worldbody></mujoco>"""
    model = load_mjcf(xml, dtype=F64)
    model.pair_contact[:, :, 2] = 0.0  # no damping: an elastic collision
    q0 = torch.tensor([[0, 0, 0, 1, 0, 0, 0, 0.5, 0, 0, 1, 0, 0, 0]], dtype=F64)
    v0 = torch.tensor([[1.0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]], dtype=F64)
    _, vs = rollout(model, q0, v0, torch.zeros(1, 2000, 0, dtype=F64))
    v = vs[0, -1]
    assert abs(float(v[0] + v[6]) - 1.0) < 1e-9  # momentum conserved
    assert abs(float(v[0])) < 1e-3 and abs(float(v[6]) - 1.0) < 1e-3  # equal masses swap velocities


def test_contact_gradients_match_finite_differences_without_switching():
    """Box sliding on the ground (contact state fixed): d(final x)/d(friction, v0, mass) vs central FD."""
    model = load_mjcf(BOX.format(mu=0.5), dtype=F64)
    base_contact, base_mass = model.geom_contact.clone(), model.body_mass.clone()
    q0 = torch.tensor([[0, 0, 0.0999, 1, 0, 0, 0]], dtype=F64)

    def final_x(mu, v0, mass):
        model.geom_contact = base_contact.clone()
        model.geom_contact[:, 0, 0] = mu
        model.body_mass = base_mass * mass
        v = torch.zeros(1, 6, dtype=F64)
        v = v + torch.nn.functional.one_hot(torch.tensor([0]), 6).to(F64) * v0
        qs, _ = rollout(model, q0, v, torch.zeros(1, 100, 0, dtype=F64))
        return qs[0, -1, 0]

    x = [torch.tensor(v, dtype=F64, requires_grad=True) for v in (0.5, 2.0, 1.0)]
    grads = torch.autograd.grad(final_x(*x), x)
    for k, g in enumerate(grads):
        plus = [t.detach().clone() for t in x]
        minus = [t.detach().clone() for t in x]
        plus[k] += 1e-6
        minus[k] -= 1e-6
        fd = (final_x(*plus) - final_x(*minus)) / 2e-6
        assert torch.isfinite(g) and abs(float(g) - float(fd)) < 1e-5 * max(1.0, abs(float(fd)))


def test_quadrotor_hovers_with_mg_per_four_rotors():
    model = load_mjcf(builtin_model("quadrotor"), dtype=F64)
    mass = float(model.body_mass.sum())
    q0 = torch.tensor([[0.3, -0.2, 1.0, 1, 0, 0, 0]], dtype=F64)
    qs, vs = rollout(model, q0, torch.zeros(1, 6, dtype=F64), torch.full((1, 2500, 4), mass * G / 4, dtype=F64))
    assert float((qs[0, -1] - q0[0]).abs().max()) < 1e-9 and float(vs[0, -1].abs().max()) < 1e-9
    # a thrust imbalance tilts it: the controls really act
    u = torch.full((1, 500, 4), mass * G / 4, dtype=F64)
    u[:, :, 0] += 0.1
    qs, _ = rollout(model, q0, torch.zeros(1, 6, dtype=F64), u)
    assert float((qs[0, -1, 3:] - q0[0, 3:]).abs().max()) > 1e-2


def test_quadrotor_matches_mujoco_with_random_thrusts():
    mujoco = pytest.importorskip("mujoco")
    path = builtin_model("quadrotor")
    mj = mujoco.MjModel.from_xml_path(path)
    mj.opt.integrator = mujoco.mjtIntegrator.mjINT_RK4
    d = mujoco.MjData(mj)
    rng = np.random.default_rng(0)
    q0 = np.array([0.1, 0.2, 1.0, 0.95, 0.1, -0.1, 0.2])
    q0[3:] /= np.linalg.norm(q0[3:])
    v0 = rng.uniform(-1, 1, 6)
    ctrl = rng.uniform(1, 4, (1000, 4))
    d.qpos[:], d.qvel[:] = q0, v0
    for u in ctrl:
        d.ctrl[:] = u
        mujoco.mj_step(mj, d)
    qs, vs = rollout(load_mjcf(path, dtype=F64), torch.tensor(q0)[None], torch.tensor(v0)[None],
                     torch.tensor(ctrl)[None])
    assert np.abs(qs[0, -1].numpy() - d.qpos).max() < 1e-8
    assert np.abs(vs[0, -1].numpy() - d.qvel).max() < 1e-8


SOFT = """<mujoco><option timestep="0.002"/><worldbody>
<geom type="plane" size="0 0 1" solref="{solref}" solimp="{solimp}" margin="{margin}"/>
<body pos="0 0 0.2"><freejoint/><geom type="{shape}" size="{size}" mass="{mass}" solref="{solref}" solimp="{solimp}"
margin="{margin}"/></body></worldbody></mujoco>"""


@pytest.mark.parametrize("shape,size,mass,solref,solimp,margin", [
    ("sphere", "0.1", 2.0, "0.1 1", "0.95 0.95 0.001", 0.0),  # soft: about 5 mm of penetration
    ("sphere", "0.1", 0.5, "0.05 0.7", "0.9 0.9 0.001", 0.01),  # with margins (they add: 2 cm)
    ("box", "0.1 0.1 0.05", 3.0, "0.08 1", "0.95 0.95 0.001", 0.0),  # four corner contacts share the load
    ("sphere", "0.1", 1.0, "-2000 -60", "0.9 0.9 0.001", 0.0),  # solref's direct form (stiffness, damping)
])
def test_solref_solimp_rest_as_deep_as_in_mujoco(shape, size, mass, solref, solimp, margin):
    """MJCF contacts map solref/solimp to a penalty spring-damper that rests at MuJoCo's penetration for any load:
    K = d^2 k / ((1 - d) invweight0). With d constant (solimp d0 = d_width) the penetrations agree to 1 % (the goal
    is 5 mm); MuJoCo's default solimp, whose d falls below d_width within its 1 mm width, rests deeper (0.37 mm
    against our 0.20 mm for a 1 kg sphere)."""
    mujoco = pytest.importorskip("mujoco")
    xml = SOFT.format(shape=shape, size=size, mass=mass, solref=solref, solimp=solimp, margin=margin)
    mj = mujoco.MjModel.from_xml_string(xml)
    data = mujoco.MjData(mj)
    for _ in range(2000):
        mujoco.mj_step(mj, data)
    model = load_mjcf(xml, dtype=F64)
    q0 = torch.tensor(mj.qpos0, dtype=F64)[None]
    qs, vs = rollout(model, q0, torch.zeros(1, 6, dtype=F64), torch.zeros(1, 2000, 0, dtype=F64))
    assert float(vs[0, -1].abs().max()) < 1e-3 and np.abs(data.qvel).max() < 1e-3  # both at rest
    rest = 0.1 if shape == "sphere" else 0.05
    ours, theirs = rest - float(qs[0, -1, 2]), rest - data.qpos[2]  # penetration (negative: held at the margin)
    assert abs(ours - theirs) < 0.01 * abs(theirs) + 2e-6, (ours, theirs)


def _settle_in_both(xml: str, steps: int):
    """``steps`` of MuJoCo and of diffsim (float64) from qpos0 at rest; both must have come to rest (|qvel| < 1e-6).
    Returns MuJoCo's data, diffsim's model and its positions ``(1, steps + 1, nq)``."""
    mujoco = pytest.importorskip("mujoco")
    mj = mujoco.MjModel.from_xml_string(xml)
    data = mujoco.MjData(mj)
    for _ in range(steps):
        mujoco.mj_step(mj, data)
    model = load_mjcf(xml, dtype=F64)
    qs, vs = rollout(model, torch.tensor(mj.qpos0, dtype=F64)[None], torch.zeros(1, mj.nv, dtype=F64),
                     torch.zeros(1, steps, 0, dtype=F64))
    assert float(vs[0, -1].abs().max()) < 1e-6 and np.abs(data.qvel).max() < 1e-6
    return data, model, qs


ON_CAPSULE = """<mujoco><option timestep="0.002"/><default><geom solref="0.05 1" solimp="0.95 0.95 0.001"/></default>
<worldbody><body name="base" pos="0 0 0.5"><geom type="capsule" fromto="-0.5 0 0 0.5 0 0" size="0.05"/></body>
<body name="top" pos="0 0 0.62"><freejoint/>{geom}</body></worldbody></mujoco>"""


@pytest.mark.parametrize("geom", ['<geom type="sphere" size="0.07" mass="2"/>',
                                  '<geom type="capsule" fromto="0 -0.3 0 0 0.3 0" size="0.07" mass="2"/>'])
def test_sphere_and_capsule_rest_on_a_capsule_as_deep_as_in_mujoco(geom):
    """Body-body contacts between capsules and spheres (closest points of their axes) take the pair's mixed
    solref/solimp and the sum of the two bodies' invweight0: a free sphere, and a free capsule crossing a static
    one, rest at MuJoCo's penetration (1.226 mm) to 1 %. (A body on slide joints whose contact tangent has no
    dof rests shallower in MuJoCo, whose pyramidal friction cone then differs from the invweight0 estimate.)"""
    data, model, qs = _settle_in_both(ON_CAPSULE.format(geom=geom), 3000)
    assert model.geom_pairs == ((0, 1),)
    ours, theirs = 0.62 - float(qs[0, -1, 2]), 0.62 - data.qpos[2]
    assert 1e-3 < theirs and abs(ours - theirs) < 0.01 * theirs, (ours, theirs)


def test_gradients_through_capsule_contacts_match_finite_differences():
    xml = ON_CAPSULE.format(geom='<geom type="capsule" fromto="0 -0.3 0 0 0.3 0" size="0.07" mass="2"/>')
    model = load_mjcf(xml, dtype=F64)
    q0 = torch.tensor([[0.05, 0.02, 0.619, 0.99, 0.05, 0.1, 0.0]], dtype=F64)
    q0[:, 3:] = q0[:, 3:] / q0[:, 3:].norm()
    q0.requires_grad_(True)
    v0 = torch.tensor([[0.1, -0.2, -0.3, 0.5, -0.2, 0.3]], dtype=F64, requires_grad=True)
    ctrl = torch.zeros(1, 20, 0, dtype=F64)

    def final(q, v):
        qs, vs = rollout(model, q, v, ctrl)
        return qs[:, -1], vs[:, -1]

    assert torch.autograd.gradcheck(final, (q0, v0), eps=1e-7, atol=1e-6, rtol=1e-5)


CYLINDER = """<mujoco><option timestep="0.002" gravity="{gravity}"/>
<default><geom solref="0.05 1" solimp="0.95 0.95 0.001"/></default>
<worldbody><body name="base" pos="0 0 0.5"><geom type="cylinder" size="0.1 0.08"/></body>
<body name="top" pos="{start}"><freejoint/>{geom}</body></worldbody></mujoco>"""
SPHERE = '<geom type="sphere" size="0.07" mass="2"/>'
CAPSULE = '<geom type="capsule" fromto="0 -0.3 0 0 0.3 0" size="0.07" mass="2"/>'


@pytest.mark.parametrize("geom,gravity,start,axis", [(SPHERE, "0 0 -9.81", "0 0 0.66", 2),  # on the flat face
                                                     (SPHERE, "-9.81 0 0", "0.2 0 0.5", 0),  # against the side
                                                     (CAPSULE, "-9.81 0 0", "0.2 0 0.5", 0)])  # crossing the side
def test_sphere_and_capsule_rest_on_a_cylinder_as_deep_as_in_mujoco(geom, gravity, start, axis):
    """Sphere and capsule against a static cylinder (the point of the segment nearest the axis against the
    cylinder's nearest surface point) rest at MuJoCo's penetration to 1 %."""
    data, model, qs = _settle_in_both(CYLINDER.format(geom=geom, gravity=gravity, start=start), 3000)
    assert model.geom_pairs == ((0, 1),)
    touch = 0.66 - 0.01 if axis == 2 else 0.17  # where the surfaces meet
    ours, theirs = touch - float(qs[0, -1, axis]), touch - data.qpos[axis]
    assert 1e-3 < theirs and abs(ours - theirs) < 0.01 * theirs, (ours, theirs)


CYLINDER_ON_PLANE = """<mujoco><option timestep="0.0005"/>
<default><geom solref="0.05 1" solimp="0.95 0.95 0.001"/></default>
<worldbody><geom type="plane" size="0 0 1"/>
<body pos="0 0 {height}" euler="{euler}"><freejoint/><geom type="cylinder" size="0.1 0.05" mass="2"/></body>
</worldbody></mujoco>"""


@pytest.mark.parametrize("euler,height,rest", [("0 0 0", 0.2, 0.05), ("90 0 0", 0.0994, 0.1)])
def test_cylinder_rests_on_a_plane_near_mujocos_depth(euler, height, rest):
    """A cylinder on a plane touches it at fixed points on both rims and at each rim's deepest point: upright it
    rests on 9 points, on its side on 4 (MuJoCo on fewer), so it sinks less than in MuJoCo, by 0.3 mm here (the
    goal is 5 mm). On its side it is started at rest (it may roll either way)."""
    data, _, qs = _settle_in_both(CYLINDER_ON_PLANE.format(euler=euler, height=height), 4000)
    ours, theirs = rest - float(qs[0, -1, 2]), rest - data.qpos[2]
    assert 0 < ours < theirs < ours + 3.5e-4, (ours, theirs)
    assert float(qs[0, -1, :2].abs().max()) < 1e-4  # no drift sideways


def test_gradients_through_cylinder_contacts_match_finite_differences():
    xml = CYLINDER.format(geom=CAPSULE, gravity="-9.81 0 0", start="0.2 0 0.5")
    model = load_mjcf(xml, dtype=F64)
    q0 = torch.tensor([[0.169, 0.02, 0.51, 0.99, 0.05, 0.1, 0.0]], dtype=F64)
    q0[:, 3:] = q0[:, 3:] / q0[:, 3:].norm()
    q0.requires_grad_(True)
    v0 = torch.tensor([[-0.1, -0.2, 0.3, 0.5, -0.2, 0.3]], dtype=F64, requires_grad=True)
    ctrl = torch.zeros(1, 20, 0, dtype=F64)

    def final(q, v):
        qs, vs = rollout(model, q, v, ctrl)
        return qs[:, -1], vs[:, -1]

    # the stiff contact makes central differences' error ~eps^2 |f'''|: 7e-2 at eps 1e-7, 7e-4 at 1e-8 (entries to 276)
    assert torch.autograd.gradcheck(final, (q0, v0), eps=1e-8, atol=1e-5, rtol=1e-5)


# a free capsule over the floor and a free sphere over the capsule, each a small gap apart: plane and pair contacts
GAPS = """<mujoco><option timestep="0.002"/><worldbody><geom type="plane" size="5 5 .1"/>
<body pos="0 0 0.3"><freejoint/><geom type="capsule" fromto="-0.2 0 0 0.2 0 0" size="0.05" mass="1"/></body>
<body pos="0 0 0.5"><freejoint/><geom type="sphere" size="0.06" mass="0.3"/></body></worldbody></mujoco>"""


@pytest.mark.parametrize("dtype,integrator", [(torch.float64, "rk4"), (torch.float64, "implicit_contacts"),
                                              (torch.float32, "euler")])
def test_contacts_beyond_the_cutoff_are_skipped_without_changing_a_bit(monkeypatch, dtype, integrator):
    """A contact separated by more than ``CONTACT_CUTOFF`` (0.8 mm) is not evaluated: its force and all its
    derivatives are exactly zero there. Gaps from 0 to 2 mm closing in 10 steps, the rollout and its gradients
    with the cutoff moved out of reach (every contact evaluated every step) agree to the last bit. (A cutoff of
    10, 20 or 30 depth smoothings instead of 40 fails this in float64.)"""
    from diffsim.rigid import codegen
    worlds = 64
    gap = torch.linspace(0.0, 2e-3, worlds, dtype=F64)
    q0 = torch.zeros(worlds, 14, dtype=F64)
    q0[:, 2], q0[:, 3:7] = 0.05 + gap, torch.tensor([1.0, 0.0, 2e-3, 0.0])  # tilted: its ends 0.8 mm apart
    q0[:, 3:7] = q0[:, 3:7] / q0[:, 3:7].norm(dim=1, keepdim=True)
    q0[:, 9], q0[:, 10] = 0.05 + 2 * gap + 0.05 + 0.06, 1.0
    v0 = 0.02 * torch.randn(worlds, 12, generator=torch.Generator().manual_seed(3), dtype=F64)

    def run():
        model = load_mjcf(GAPS, num_worlds=worlds, dtype=dtype, structure="generated")
        v = v0.to(dtype).requires_grad_(True)
        qs, vs = rollout(model, q0.to(dtype), v, torch.zeros(worlds, 10, 0, dtype=dtype), integrator=integrator)
        (grad,) = torch.autograd.grad((qs[:, -1] ** 2).sum() + vs[:, -1].sum(), v)
        return qs.detach(), grad

    qs, grad = run()
    assert bool(torch.isfinite(qs).all() and torch.isfinite(grad).all())
    monkeypatch.setattr(codegen, "CONTACT_CUTOFF", 1e3)
    monkeypatch.setattr(codegen, "_BY_TOPOLOGY", {})  # generate the source again
    qs_all, grad_all = run()
    assert torch.equal(qs, qs_all) and torch.equal(grad, grad_all)
