"""Model building and MJCF import: inertias against MuJoCo's own compiler, and clear errors."""
import numpy as np
import pytest
import torch

from diffsim.rigid import ModelBuilder, builtin_model, load_mjcf, parse_mjcf, rollout
from diffsim.rigid.state import default_state

mujoco = pytest.importorskip("mujoco")

SHAPES = """<mujoco><worldbody><body pos='0 0 1' euler='10 20 30'><joint type='hinge' axis='0 1 0'/>
<geom type='capsule' fromto='0 0 0 0.3 0 -1' size='0.05' density='1000'/>
<body pos='0 0 -1'><joint type='slide' axis='1 0 0'/><geom type='box' size='0.1 0.2 0.3' mass='2' euler='0 0 30'/>
<geom type='sphere' size='0.1' pos='0.2 0 0' mass='1'/></body>
<body pos='0 0 -1'><geom type='cylinder' size='0.1 0.3' density='500'/></body>
</body></worldbody></mujoco>"""


def _check_against_mujoco(xml_or_path):
    text = open(xml_or_path).read() if not xml_or_path.lstrip().startswith("<") else xml_or_path
    mj = mujoco.MjModel.from_xml_string(text)
    model = load_mjcf(xml_or_path, dtype=torch.float64, unsupported_contacts="ignore")
    assert model.nq == mj.nq and model.nv == mj.nv and model.nu == mj.nu
    np.testing.assert_allclose(model.body_mass[0].numpy(), mj.body_mass[1:], rtol=1e-12, atol=1e-12)
    for b in range(model.nbody):
        # MuJoCo stores principal axes (body_iquat) and moments; compare frame-independent quantities
        ours = model.body_inertia[0, b].numpy()
        if mj.body_mass[b + 1] == 0:
            continue
        np.testing.assert_allclose(np.sort(np.linalg.eigvalsh(ours)), np.sort(mj.body_inertia[b + 1]), rtol=1e-9,
                                   atol=1e-12)
        np.testing.assert_allclose(model.body_ipos[0, b].numpy(), mj.body_ipos[b + 1], atol=1e-12)
        np.testing.assert_allclose(model.body_pos[0, b].numpy(), mj.body_pos[b + 1], atol=1e-12)
        np.testing.assert_allclose(np.abs(model.body_quat[0, b].numpy() @ mj.body_quat[b + 1]), 1.0, atol=1e-12)
    np.testing.assert_allclose(model.gravity[0].numpy(), mj.opt.gravity)
    assert model.timestep == mj.opt.timestep


@pytest.mark.parametrize("name", ["pendulum", "double_pendulum", "cartpole", "acrobot", "quadrotor", "ball_and_box"])
def test_builtin_models_match_mujoco_compiler(name):
    _check_against_mujoco(builtin_model(name))


def test_geom_derived_inertia_matches_mujoco():
    _check_against_mujoco(SHAPES)


def test_worlds_are_independent_copies():
    model = load_mjcf(builtin_model("cartpole"), num_worlds=3)
    assert model.body_mass.shape == (3, 2)
    model.body_mass[1, 1] = 0.5
    assert model.body_mass[0, 1] != 0.5


@pytest.mark.parametrize("xml,match", [
    ("<mujoco><worldbody><body><joint type='ball'/><geom size='0.1'/></body></worldbody></mujoco>",
     "unknown type 'ball'"),
    ("<mujoco><worldbody><body><joint/><inertial mass='-1' diaginertia='1 1 1'/></body></worldbody></mujoco>",
     "mass must be > 0"),
    ("<mujoco><worldbody><body><joint/><inertial mass='1' diaginertia='1 1 3'/></body></worldbody></mujoco>",
     "triangle inequality"),
    ("<mujoco><worldbody><body><joint/><inertial mass='1' fullinertia='1 1 1 2 0 0'/></body></worldbody></mujoco>",
     "not positive definite"),
    ("<mujoco><worldbody><body><joint/><geom type='mesh' size='1'/></body></worldbody></mujoco>",
     "unknown type 'mesh'"),
    ("<mujoco><worldbody><body><tendon/></body></worldbody></mujoco>", "unsupported element <tendon>"),
    ("<mujoco><contact/></mujoco>", "unsupported MJCF element <contact>"),
    ("<mujoco><worldbody><body><joint/><geom size='0.1' mass='0'/></body></worldbody></mujoco>",
     "moving body needs mass > 0"),
    ("<mujoco><worldbody><body><joint name='a'/><geom size='0.1'/></body></worldbody>"
     "<actuator><motor joint='b'/></actuator></mujoco>", "no joint named 'b'"),
    ("<mujoco><worldbody><body></mujoco>", "not well-formed"),
])
def test_bad_models_raise_clear_errors(xml, match):
    with pytest.raises(ValueError, match=match):
        load_mjcf(xml)


def test_errors_name_the_file_and_line(tmp_path):
    path = tmp_path / "bad.xml"
    path.write_text("<mujoco>\n  <worldbody>\n    <body>\n      <joint/>\n      <geom size='0.1'/>\n"
                    "      <tendon/>\n    </body>\n  </worldbody>\n</mujoco>\n")
    with pytest.raises(ValueError, match=f"^{path}:6: body None: unsupported element <tendon>"):
        load_mjcf(str(path))
    with pytest.raises(ValueError, match=r"^<string>:2: .*mass must be > 0"):
        load_mjcf("<mujoco><worldbody><body><joint/>\n<inertial mass='-1' diaginertia='1 1 1'/></body></worldbody>"
                  "</mujoco>")
    with pytest.raises(ValueError, match=r"^<string>:3: geom 'g': size: could not convert|^<string>:3: .*'x'"):
        load_mjcf("<mujoco><worldbody>\n<body><joint/>\n<geom name='g' size='x'/></body></worldbody></mujoco>")


def test_drawing_only_input_is_listed_not_dropped():
    model = load_mjcf("<mujoco>\n<visual/>\n<worldbody><light/>\n<body><camera/><joint/>\n"
                      "<geom size='0.1' rgba='1 0 0 1' material='m'/></body></worldbody></mujoco>")
    assert model.ignored == ("<visual> (line 2)", "<light> (line 3)", "<camera> in body None (line 4)",
                             "geom '' material (line 5)", "geom '' rgba (line 5)")
    assert model.nv == 1


def test_builder_rejects_broken_tree_and_bad_joints():
    b = ModelBuilder()
    with pytest.raises(ValueError, match="parent 3 does not exist"):
        b.add_body(parent=3)
    body = b.add_body()
    with pytest.raises(ValueError, match="axis must be non-zero"):
        b.add_joint(body, "hinge", axis=(0, 0, 0))
    with pytest.raises(ValueError, match="quaternion"):
        b.add_body(quat=(0, 0, 0, 0))


def test_missing_file():
    with pytest.raises(FileNotFoundError):
        parse_mjcf("/nonexistent/model.xml")


@pytest.mark.parametrize("name,index,value,match", [
    ("body_mass", (1, 1), -2.0, r"body_mass\[world 1, index \(1,\)\] must be > 0 \(kg\) for a body with a joint"),
    ("body_mass", (0, 1), float("nan"), r"body_mass\[world 0, index \(1,\)\] must be finite"),
    ("body_inertia", (0, 1, 2, 2), -1e-3, r"body_inertia\[world 0, index \(1, 2\)\] must be >= 0 on its diagonal"),
    ("dof_damping", (1, 0), -0.1, r"dof_damping\[world 1, index \(0,\)\] must be >= 0"),
    ("dof_armature", (0, 1), -0.1, r"dof_armature\[world 0, index \(1,\)\] must be >= 0"),
])
def test_out_of_range_parameters_are_refused_before_a_rollout(name, index, value, match):
    model = load_mjcf(builtin_model("cartpole"), num_worlds=2, dtype=torch.float64)
    qpos, qvel, ctrl = torch.zeros(2, 2, dtype=torch.float64), torch.zeros(2, 2, dtype=torch.float64), \
        torch.zeros(2, 3, 1, dtype=torch.float64)
    rollout(model, qpos, qvel, ctrl)  # valid
    with torch.no_grad():
        getattr(model, name)[index] = value  # changed in place after the model was built
    with pytest.raises(ValueError, match=match):
        rollout(model, qpos, qvel, ctrl)


def test_the_rigid_layers_import_one_way():
    """description (mjcf) -> builder -> model; model knows neither, builder does not know mjcf."""
    import ast
    from pathlib import Path

    import diffsim.rigid as rigid

    def imports(name):
        tree = ast.parse((Path(rigid.__file__).parent / f"{name}.py").read_text())
        return {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}

    assert not {"diffsim.rigid.builder", "diffsim.rigid.mjcf"} & imports("model")
    assert "diffsim.rigid.mjcf" not in imports("builder")
    assert not {"diffsim.rigid.mjcf", "diffsim.rigid.builder"} & imports("codegen")


CLASSES = """<mujoco>
  <default>
    <joint damping="0.1"/>
    <geom density="500" size="0.05"/>
    <default class="leg">
      <joint damping="0.7" armature="0.02"/>
      <geom type="capsule" size="0.04 0.2"/>
      <default class="foot"><geom type="sphere" size="0.06"/></default>
    </default>
  </default>
  <worldbody>
    <body name="a" pos="0 0 1"><joint name="j0" axis="0 1 0"/><geom type="box" size="0.1 0.1 0.1"/>
      <body name="b" childclass="leg" pos="0 0 -0.3"><joint name="j1" axis="1 0 0"/><geom/>
        <body name="c" pos="0 0 -0.4"><joint name="j2" axis="0 1 0" damping="2"/><geom class="foot"/>
          <body name="d" pos="0 0 -0.2"><joint name="j3" class="main"/><geom/></body>
        </body>
      </body>
    </body>
  </worldbody>
</mujoco>"""


def test_default_classes_resolve_as_mujoco_does():
    ref = mujoco.MjModel.from_xml_string(CLASSES)
    model = load_mjcf(CLASSES, dtype=torch.float64, unsupported_contacts="ignore")
    np.testing.assert_allclose(model.dof_damping[0].numpy(), ref.dof_damping, rtol=1e-12)
    np.testing.assert_allclose(model.dof_armature[0].numpy(), ref.dof_armature, rtol=1e-12)
    np.testing.assert_allclose(model.body_mass[0].numpy(), ref.body_mass[1:], rtol=1e-9)
    with pytest.raises(ValueError, match="<string>:1: <geom>: unknown default class 'arm'"):
        load_mjcf("<mujoco><worldbody><body><joint/><geom class='arm' size='0.1'/></body></worldbody></mujoco>")
    with pytest.raises(ValueError, match="unsupported attributes \\['gravcomp'\\]"):
        load_mjcf("<mujoco><worldbody><body gravcomp='1'><joint/><geom size='0.1'/></body></worldbody></mujoco>")


@pytest.mark.parametrize("compiler", ["<compiler settotalmass='7.5'/>", "<compiler inertiafromgeom='true'/>",
                                      "<compiler inertiafromgeom='false' settotalmass='3'/>"])
def test_compiler_mass_options_match_mujoco(compiler, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # MuJoCo writes its deprecation warning for settotalmass to ./MUJOCO_LOG.TXT
    xml = CLASSES.replace("<mujoco>", "<mujoco>" + compiler).replace(
        '<geom type="box" size="0.1 0.1 0.1"/>',
        '<geom type="box" size="0.1 0.1 0.1"/><inertial pos="0 0 0.01" mass="2" diaginertia="0.02 0.03 0.04"/>')
    if "false" in compiler:  # then every moving body needs its own inertial
        xml = xml.replace("<geom/>", '<geom/><inertial pos="0 0 0" mass="0.5" diaginertia="0.01 0.01 0.01"/>')
        xml = xml.replace('<geom class="foot"/>', '<inertial pos="0 0 0" mass="0.3" diaginertia="0.01 0.01 0.01"/>')
    ref = mujoco.MjModel.from_xml_string(xml)
    model = load_mjcf(xml, dtype=torch.float64, unsupported_contacts="ignore")
    np.testing.assert_allclose(model.body_mass[0].numpy(), ref.body_mass[1:], rtol=1e-9)
    eig = np.linalg.eigvalsh(model.body_inertia[0].numpy())
    np.testing.assert_allclose(eig, np.sort(ref.body_inertia[1:], axis=1), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(model.body_ipos[0].numpy(), ref.body_ipos[1:], atol=1e-12)


def _gymnasium_asset(name):
    import os

    gymnasium = pytest.importorskip("gymnasium")
    return os.path.join(os.path.dirname(gymnasium.__file__), "envs", "mujoco", "assets", name)


@pytest.mark.parametrize("name", ["inverted_pendulum.xml", "inverted_double_pendulum.xml", "reacher.xml",
                                  "swimmer.xml", "walker2d.xml", "walker2d_v5.xml", "point.xml", "ant.xml",
                                  "half_cheetah.xml", "hopper.xml", "humanoid.xml", "pusher.xml", "pusher_v5.xml"])
def test_gymnasium_assets_compile_as_mujoco(name):
    """Gymnasium's MJCF files that load: the compiled tree, masses, inertias, joints and actuators are MuJoCo's
    (a body with several joints is compared through its last joint frame, see ``Model.body_frame``); what has
    no physics here (e.g. inverted_pendulum's rail, which touches nothing; colours; <size>) is listed, not
    dropped."""
    path = _gymnasium_asset(name)
    ref = mujoco.MjModel.from_xml_path(path)
    model = load_mjcf(path, dtype=torch.float64)
    assert (model.nq, model.nv, model.nu) == (ref.nq, ref.nv, ref.nu)
    real = [i for i, frame in enumerate(model.body_frame) if not frame]  # MuJoCo's bodies, in order
    names = [ref.body(i).name for i in range(1, ref.nbody)]
    assert [model.body_names[i] for i, name in zip(real, names) if name] == [name for name in names if name]
    np.testing.assert_allclose(model.body_mass[0, real].numpy(), ref.body_mass[1:], rtol=1e-9)
    np.testing.assert_allclose(np.linalg.eigvalsh(model.body_inertia[0, real].numpy()),
                               np.sort(ref.body_inertia[1:], 1), rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(model.body_ipos[0, real].numpy(), ref.body_ipos[1:], atol=1e-12)
    moving = [i for i, jt in enumerate(model.joint_type) if jt >= 0]
    np.testing.assert_allclose(model.joint_axis[0, moving].numpy(), ref.jnt_axis, atol=1e-12)
    hinge_slide = [i for i in moving if model.joint_type[i] != 2]  # a free joint's qpos0 is its body's pose
    np.testing.assert_allclose([model.joint_ref[i] for i in hinge_slide],
                               [ref.qpos0[ref.jnt_qposadr[k]] for k in range(ref.njnt) if ref.jnt_type[k] != 0],
                               atol=1e-12)
    np.testing.assert_allclose(default_state(model).qpos[0].numpy(), ref.qpos0, atol=1e-12)
    np.testing.assert_allclose(model.dof_damping[0].numpy(), ref.dof_damping)
    np.testing.assert_allclose(model.dof_armature[0].numpy(), ref.dof_armature)
    dofs = [model.dof_adr[i] for i in hinge_slide]
    joints = [k for k in range(ref.njnt) if ref.jnt_type[k] != 0]
    assert [model.dof_limited[d] for d in dofs] == [bool(ref.jnt_limited[k]) for k in joints]
    lim = [k for k in joints if ref.jnt_limited[k]]  # a limit acts within its margin of the range (MuJoCo)
    np.testing.assert_allclose(model.dof_range[0, [model.dof_adr[i] for i, k in zip(hinge_slide, joints)
                                                   if ref.jnt_limited[k]]].numpy(),
                               ref.jnt_range[lim] + np.stack([ref.jnt_margin[lim], -ref.jnt_margin[lim]], 1),
                               rtol=1e-12)
    np.testing.assert_allclose(model.actuator_gear[0].numpy(), ref.actuator_gear)
    assert model.actuator_ctrlrange == tuple(map(tuple, ref.actuator_ctrlrange))
    assert model.timestep == ref.opt.timestep
    assert model.integrator == {int(mujoco.mjtIntegrator.mjINT_EULER): "euler",
                                int(mujoco.mjtIntegrator.mjINT_RK4): "rk4"}[int(ref.opt.integrator)]
    if name == "inverted_pendulum.xml":
        assert model.planes == () and any("world geom 'rail'" in item for item in model.ignored)


BOX_PAIRS = """<mujoco><worldbody>
<body name="a" pos="0 0 1"><freejoint/><geom name="ball" type="sphere" size="0.1"/></body>
<body name="b" pos="0 0 2"><freejoint/><geom name="crate" type="box" size="0.1 0.1 0.1"/>
<geom name="drum" type="cylinder" size="0.1 0.1" pos="0.5 0 0"/></body>
<body name="c" pos="0 0 3"><freejoint/><geom name="can" type="cylinder" size="0.1 0.1"/></body>
</worldbody></mujoco>"""


def test_body_pairs_that_would_collide_in_mujoco_are_refused_by_name():
    """Sphere-box, cylinder-cylinder and box-cylinder pairs are not simulated: refused, or listed when asked."""
    with pytest.raises(ValueError, match=r"3 pairs of body geoms may touch.*sphere 'ball' and box 'crate' \(line 3\)"):
        parse_mjcf(BOX_PAIRS)
    model = load_mjcf(BOX_PAIRS, unsupported_contacts="ignore")
    assert sum("not simulated" in item for item in model.ignored) == 3
    assert model.geom_pairs == ((0, 2), (0, 3))  # the ball with the drum and with the can


def test_hopper_self_contacts_are_mujocos_pairs():
    """Hopper's capsules collide with each other where MuJoCo's filters let them (torso-leg, torso-foot,
    thigh-foot; not parent and child), frictionless (condim 1), with the floor margin and pair margins summed."""
    model = load_mjcf(_gymnasium_asset("hopper.xml"), dtype=torch.float64)
    names = [model.body_names[g[0]] for g in model.geoms]
    assert sorted((names[a], names[c]) for a, c in model.geom_pairs) == [("thigh", "foot"), ("torso", "foot"),
                                                                         ("torso", "leg")]
    assert model.pair_margin == (0.002,) * 3 and model.pair_contact[0, :, 0].tolist() == [0.0] * 3
    assert all(m == (0.002,) for m in model.geom_plane_margin)


def test_contact_topology_follows_bitmasks_margins_and_weld_bodies():
    """Ant: every leg and foot capsule and the torso sphere touch the floor (conaffinity 0 keeps the legs from
    each other), each pair's margin the sum of the two geoms' (MuJoCo >= 3.5); two spheres welded to one body, or on
    parent and child, never collide; a contype/conaffinity mismatch drops a plane pair."""
    ant = load_mjcf(_gymnasium_asset("ant.xml"))
    assert len(ant.geoms) == 13 and ant.geom_pairs == ()
    assert all(margins == (0.02,) for margins in ant.geom_plane_margin)
    xml = """<mujoco><worldbody><geom type="plane" size="0 0 1" contype="2" conaffinity="2"/>
    <body><freejoint/><geom size="0.1"/><geom size="0.1" pos="0.5 0 0" contype="2" conaffinity="2"/>
      <body pos="0 0 0.3"><joint/><geom size="0.1"/></body>
      <body pos="0 0 0.6"><geom size="0.1"/></body></body>
    <body pos="1 0 0"><freejoint/><geom size="0.1"/></body></worldbody></mujoco>"""
    model = load_mjcf(xml)
    assert model.geom_plane_margin == ((None,), (0.0,), (None,), (None,), (None,))
    # geoms 0, 1, 3 share a weld body; 2 is 0's child: only pairs with the free sphere 4 remain (not 1: its bits 2
    # meet sphere 4's bits 1 neither way)
    assert model.geom_pairs == ((0, 4), (2, 4), (3, 4))


ORIENTATIONS = """<mujoco>
  <worldbody>
    <body name="a" axisangle="1 2 3 40"><joint/><geom type="box" size="0.1 0.2 0.3"/>
      <body name="b" pos="0 0 -0.3" xyaxes="0 1 0.2 -1 0 0.5"><joint/><geom type="box" size="0.1 0.2 0.3"/>
        <body name="c" pos="0 0 -0.3" zaxis="1 -1 2"><joint/>
          <geom type="box" size="0.1 0.2 0.3" axisangle="0 1 0 -30"/><geom type="sphere" size="0.1" pos="0.2 0 0"/>
        </body>
      </body>
    </body>
  </worldbody>
</mujoco>"""


def test_every_orientation_form_matches_mujoco():
    """axisangle (degrees), xyaxes and zaxis on bodies and geoms: the same frames, masses and inertias as MuJoCo."""
    ref = mujoco.MjModel.from_xml_string(ORIENTATIONS)
    model = load_mjcf(ORIENTATIONS, dtype=torch.float64, unsupported_contacts="ignore")
    ours = model.body_quat[0].numpy()
    theirs = ref.body_quat[1:]
    np.testing.assert_allclose(np.abs((ours * theirs).sum(1)), 1.0, atol=1e-12)  # same rotation, up to sign
    np.testing.assert_allclose(model.body_mass[0].numpy(), ref.body_mass[1:], rtol=1e-12)
    np.testing.assert_allclose(model.body_ipos[0].numpy(), ref.body_ipos[1:], atol=1e-12)
    for b in range(3):  # the full inertia in the body frame (MuJoCo keeps it as principal axes and values)
        rot = np.zeros(9)
        mujoco.mju_quat2Mat(rot, ref.body_iquat[b + 1])
        rot = rot.reshape(3, 3)
        np.testing.assert_allclose(model.body_inertia[0, b].numpy(), rot @ np.diag(ref.body_inertia[b + 1]) @ rot.T,
                                   atol=1e-12)
    with pytest.raises(ValueError, match="give one orientation"):
        load_mjcf("<mujoco><worldbody><body quat='1 0 0 0' zaxis='0 0 1'><joint/><geom size='0.1'/></body>"
                  "</worldbody></mujoco>")


def test_include_splices_files_and_errors_name_the_included_file(tmp_path):
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "arm.xml").write_text(
        "<mujoco>\n  <body name='arm'><joint name='j'/><geom type='capsule' fromto='0 0 0 0 0 -0.5' size='0.05'/>"
        "</body>\n</mujoco>\n")
    (tmp_path / "parts" / "motor.xml").write_text("<mujoco><actuator><motor joint='j' gear='3'/></actuator></mujoco>")
    main = tmp_path / "main.xml"
    main.write_text("<mujoco>\n<worldbody>\n<include file='parts/arm.xml'/>\n</worldbody>\n"
                    "<include file='parts/motor.xml'/>\n</mujoco>\n")
    model = load_mjcf(str(main), dtype=torch.float64, unsupported_contacts="ignore")
    ref = mujoco.MjModel.from_xml_path(str(main))
    assert (model.nv, model.nu) == (ref.nv, ref.nu) == (1, 1)
    np.testing.assert_allclose(model.body_mass[0].numpy(), ref.body_mass[1:], rtol=1e-12)
    (tmp_path / "parts" / "arm.xml").write_text("<mujoco>\n\n  <body name='arm'><tendon/></body>\n</mujoco>\n")
    with pytest.raises(ValueError, match=f"^{tmp_path / 'parts' / 'arm.xml'}:3: body 'arm': unsupported element"):
        load_mjcf(str(main))
    main.write_text("<mujoco>\n<worldbody>\n<include file='parts/leg.xml'/>\n</worldbody>\n</mujoco>\n")
    with pytest.raises(ValueError, match=f"^{main}:3: <include>: file not found"):
        load_mjcf(str(main))
