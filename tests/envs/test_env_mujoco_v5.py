"""diffsim's versions of Gymnasium's MuJoCo v5 envs against Gymnasium's own (real MuJoCo) on shared states."""
import gymnasium as gym
import numpy as np
import pytest
import torch

import envs  # noqa: F401
from envs.half_cheetah import HalfCheetahDynamics, HalfCheetahEnv
from envs.hopper import HopperDynamics, HopperEnv
from envs.inverted_pendulum import InvertedPendulumEnv
from envs.swimmer import SwimmerEnv
from envs.walker2d import Walker2dDynamics, Walker2dEnv

pytest.importorskip("mujoco")

# The models of the generated code run at -O0 in this file (tests/conftest.py): here their modules' compile, not
# their running, is most of the time. Ant and Humanoid run as loops, whose one module also serves runtime-heavy
# tests, and keep Warp's level. test_env_rigid.py marks the same models.
COMPILE_BOUND = pytest.mark.compile_bound


def _random(rng, step, shape):  # pushes of up to 0.5 of the control range: the pole falls within ~20 steps
    return rng.uniform(-0.5, 0.5, shape)


def _gait(rng, step, shape):  # a small travelling wave: the joints stay inside their +-100 deg limits
    phase = 2 * np.pi * step / 25
    return 0.05 * np.array([np.sin(phase), np.sin(phase + np.pi / 2)])


CASES = {"inverted_pendulum": (InvertedPendulumEnv, "InvertedPendulum-v5", _random, 1000),
         "swimmer": (SwimmerEnv, "Swimmer-v5", _gait, 300)}


@COMPILE_BOUND
@pytest.mark.parametrize("name", list(CASES))
def test_episodes_match_gymnasium_v5_step_for_step(name):
    """Same seed: the same start (Gymnasium's draws); then the same actions: the float64 state equals MuJoCo's
    to 1e-9 at every step, rewards to 1e-9 and terminations exactly, over three episodes (each until it terminates,
    or for ``steps`` steps). Parity holds while no joint limit is engaged: MuJoCo's limits are soft constraints
    solved implicitly, diffsim's a penalty that rests at the same depth but moves differently, so swimmer
    trajectories whose joints reach their +-100 deg limits part by ~0.1 within tens of steps."""
    cls, gym_id, action, steps = CASES[name]
    ours, ref = cls(), gym.make(gym_id).unwrapped
    rng = np.random.default_rng(0)
    for episode in range(3):
        o, _ = ours.reset(seed=episode)
        r, _ = ref.reset(seed=episode)
        np.testing.assert_allclose(ours.state, np.concatenate([ref.data.qpos, ref.data.qvel]), atol=1e-15)
        np.testing.assert_allclose(o, r, rtol=1e-6, atol=1e-7)
        for step in range(steps):
            a = action(rng, step, ours.action_space.shape).astype(np.float32)
            o, rew, term, trunc, _ = ours.step(a)
            r, ref_rew, ref_term, _, _ = ref.step(a)
            np.testing.assert_allclose(ours.state, np.concatenate([ref.data.qpos, ref.data.qvel]), atol=1e-9,
                                       err_msg=f"episode {episode}, step {step}")
            np.testing.assert_allclose(o, r, rtol=1e-5, atol=1e-6)
            assert abs(rew - ref_rew) < 1e-9 and term == ref_term and not trunc
            if term:
                break
        if name == "inverted_pendulum":
            assert term and step > 5  # random pushes topple the pole within the episode


@pytest.mark.parametrize("env_id,steps,threshold", [
    *(pytest.param(*case, marks=COMPILE_BOUND) for case in (
        ("diffsim/InvertedPendulum-v0", 1000, 950.0), ("diffsim/InvertedDoublePendulum-v0", 1000, 9100.0),
        ("diffsim/Reacher-v0", 50, -3.75), ("diffsim/Swimmer-v0", 1000, 360.0), ("diffsim/Hopper-v0", 1000, 3800.0),
        ("diffsim/HalfCheetah-v0", 1000, 4800.0), ("diffsim/Walker2d-v0", 1000, None))),
    ("diffsim/Ant-v0", 1000, 6000.0), ("diffsim/Humanoid-v0", 1000, None)])
def test_registered_and_checked(env_id, steps, threshold):
    """Gymnasium's spec values and ``check_env`` (rendering included; the other rigid-body envs are checked in
    test_env_rigid.py)."""
    from gymnasium.utils.env_checker import check_env

    env = gym.make(env_id, render_mode="rgb_array")
    assert env.spec.max_episode_steps == steps and env.spec.reward_threshold == threshold
    check_env(env.unwrapped, skip_render_check=False)
    with pytest.raises(ValueError, match="reset_noise_scale"):
        gym.make(env_id, reset_noise_scale=-1.0)


@COMPILE_BOUND
@pytest.mark.parametrize("dyn_cls,env_cls,gym_id,terminates", [(HopperDynamics, HopperEnv, "Hopper-v5", True),
                                                               (Walker2dDynamics, Walker2dEnv, "Walker2d-v5", True),
                                                               (HalfCheetahDynamics, HalfCheetahEnv, "HalfCheetah-v5",
                                                                False)],
                         ids=["hopper", "walker2d", "half_cheetah"])
def test_contact_task_definitions_match_gymnasium_v5_on_shared_states(dyn_cls, env_cls, gym_id, terminates):
    """Contacts make diffsim's trajectories differ from MuJoCo's, so the v5 definitions of the contact tasks are
    checked on MuJoCo's own transitions: from states along a random-action run (healthy, falling and fallen; one
    with velocities beyond the observation's clip), diffsim's observation, reward and termination of MuJoCo's next
    state equal Gymnasium's; the same seed gives the same start (HalfCheetah's normal velocity noise to 1e-15: the
    ziggurat's tables, see envs.pcg64), and the generators move on alike."""
    ref, dyn, ours = gym.make(gym_id).unwrapped, dyn_cls(), env_cls()
    for seed in range(3):
        ours.reset(seed=seed)
        ref.reset(seed=seed)
        np.testing.assert_allclose(ours.state, np.concatenate([ref.data.qpos, ref.data.qvel]), rtol=0, atol=1e-15)
        assert ours.np_random.bit_generator.state == ref.np_random.bit_generator.state
    rng = np.random.default_rng(0)
    terminations = 0
    for step in range(300):
        if step == 150:  # fast: the clip of the observed velocities matters
            ref.set_state(ref.data.qpos, ref.data.qvel + 15.0)
        before = torch.tensor(np.concatenate([ref.data.qpos, ref.data.qvel]))[None]
        a = rng.uniform(-1, 1, ref.action_space.shape)
        obs, reward, term, _, _ = ref.step(a)
        after = torch.tensor(np.concatenate([ref.data.qpos, ref.data.qvel]))[None]
        np.testing.assert_allclose(dyn.observe(after)[0].numpy(), obs, atol=1e-12)
        assert abs(float(dyn.reward(before, torch.tensor(a)[None], after)[0]) - reward) < 1e-9
        assert bool(dyn.terminated(after)[0]) == term
        terminations += term
    if terminates:
        assert 0 < terminations < 300  # both healthy and unhealthy states were seen
    else:
        assert terminations == 0


def test_ant_definitions_match_gymnasium_v5():
    """Ant-v5 on MuJoCo's own transitions (a random-action run, then a drop from 1.5 m that is unhealthy until
    the torso is below 1 m): the observation's state part, the reward without its contact cost (its forward
    term taken from the states, see below), and the termination equal Gymnasium's; the same seed gives the
    same start. The contact part (cfrc_ext clipped to
    +-1) comes from each engine's own contact model, so it is compared where both are determined: at MuJoCo's
    state of rest on four feet, every clipped component equals Gymnasium's."""
    from diffsim.rigid import rollout
    from envs.ant import AntDynamics, AntEnv

    ref, dyn, ours = gym.make("Ant-v5").unwrapped, AntDynamics(), AntEnv()
    for seed in range(2):
        ours.reset(seed=seed)
        r, _ = ref.reset(seed=seed)
        np.testing.assert_allclose(ours.state, np.concatenate([ref.data.qpos, ref.data.qvel]), rtol=0, atol=1e-15)
        assert ours.np_random.bit_generator.state == ref.np_random.bit_generator.state
    assert ours.observation_space.shape == ref.observation_space.shape == (105,)
    rng = np.random.default_rng(0)
    terminations = 0
    for step in range(120):
        if step == 60:
            qpos = ref.data.qpos.copy()
            qpos[2] = 1.5
            ref.set_state(qpos, ref.data.qvel)
        before = torch.tensor(np.concatenate([ref.data.qpos, ref.data.qvel]))[None]
        a = rng.uniform(-1, 1, ref.action_space.shape)
        obs, reward, term, _, info = ref.step(a)
        after = torch.tensor(np.concatenate([ref.data.qpos, ref.data.qvel]))[None]
        np.testing.assert_allclose(dyn.observe(after)[0, :27].numpy(), obs[:27], atol=1e-12)
        ours_reward = float(dyn.reward(before, torch.tensor(a)[None], after)[0] + dyn.contact_cost(after)[0])
        # Gymnasium's dx/dt is read from body positions MuJoCo last computed (inside the RK4 step, so they lag
        # the state; 0.05 m/s apart here at times), diffsim's from the states: swap that term
        x_velocity = float(after[0, 0] - before[0, 0]) / dyn.dt
        expected = reward - info["reward_contact"] - info["x_velocity"] + x_velocity
        assert abs(ours_reward - expected) < 1e-9
        assert bool(dyn.terminated(after)[0]) == term
        terminations += term
    assert 0 < terminations < 120
    ref.reset(seed=0)
    ref.set_state(ref.init_qpos, ref.init_qvel)
    for _ in range(400):  # 20 s: settles onto its four feet
        obs, *_ = ref.step(np.zeros(8))
    start = torch.tensor(np.concatenate([ref.init_qpos, ref.init_qvel]))[None]
    with torch.no_grad():  # diffsim's own rest, at 0.625 ms (at the env's 2.5 ms loaded feet chatter)
        qs, vs = rollout(dyn.template, start[:, :15], start[:, 15:], torch.zeros(1, 32000, 8, dtype=torch.float64),
                         timestep=6.25e-4)
    rest = torch.cat([qs[:, -1], vs[:, -1]], dim=1)
    contact = dyn.observe(rest)[0, 27:].numpy()
    assert np.abs(obs[27:]).max() == 1.0 and np.abs(contact).max() == 1.0  # the feet's loads exceed the clip
    np.testing.assert_allclose(contact, obs[27:], atol=1e-5)  # 2e-7 apart when run on this machine


def test_humanoid_definitions_match_gymnasium_v5():
    """Humanoid-v5 on MuJoCo's own transitions (random actions until it falls): the same seed gives the same start
    and observation; after each step the observation's state, com-based inertia and velocity (against MuJoCo's
    ``cinert`` and ``cvel`` at that state: Gymnasium's are computed inside the last RK4 step, so they lag it) and
    actuator-force parts, the reward without its contact cost (the forward term from the states' centres of
    mass, as for Ant) and the termination equal Gymnasium's. The contact part comes from each engine's own
    contact model: both are zero before the first touchdown."""
    import mujoco

    from envs.humanoid import HumanoidDynamics, HumanoidEnv

    ref, dyn, ours = gym.make("Humanoid-v5").unwrapped, HumanoidDynamics(), HumanoidEnv()
    assert ours.observation_space.shape == ref.observation_space.shape == (348,)
    for seed in range(2):
        o, _ = ours.reset(seed=seed)
        r, _ = ref.reset(seed=seed)
        np.testing.assert_allclose(ours.state, np.concatenate([ref.data.qpos, ref.data.qvel, np.zeros(17)]),
                                   rtol=0, atol=1e-15)
        assert ours.np_random.bit_generator.state == ref.np_random.bit_generator.state
        np.testing.assert_allclose(o, r, rtol=1e-6, atol=1e-6)  # ours is float32
        assert np.abs(r[-78:]).max() == 0.0  # no contact at the start
    fresh = mujoco.MjData(ref.model)
    rng = np.random.default_rng(0)
    term = False
    for step in range(60):
        before = torch.tensor(np.concatenate([ref.data.qpos, ref.data.qvel, ref.data.qfrc_actuator[6:]]))[None]
        a = rng.uniform(-0.4, 0.4, 17)
        obs, reward, term, _, info = ref.step(a)
        after = torch.tensor(np.concatenate([ref.data.qpos, ref.data.qvel, ref.data.qfrc_actuator[6:]]))[None]
        np.testing.assert_allclose(dyn.actuator_force(torch.tensor(a)[None])[0].numpy(), ref.data.qfrc_actuator[6:],
                                   rtol=1e-15)
        mine = dyn.observe(after)[0].numpy()
        fresh.qpos[:], fresh.qvel[:] = ref.data.qpos, ref.data.qvel
        mujoco.mj_forward(ref.model, fresh)
        np.testing.assert_allclose(mine[:45], obs[:45], rtol=0, atol=1e-12)
        np.testing.assert_allclose(mine[45:175], fresh.cinert[1:].ravel(), rtol=0, atol=1e-10)
        np.testing.assert_allclose(mine[175:253], fresh.cvel[1:].ravel(), rtol=0, atol=1e-10)
        np.testing.assert_allclose(mine[253:270], obs[253:270], rtol=0, atol=1e-12)
        ours_reward = float(dyn.reward(before, torch.tensor(a)[None], after)[0] + dyn.contact_cost(after)[0])
        x_velocity = float(dyn.mass_center(after)[0, 0] - dyn.mass_center(before)[0, 0]) / dyn.dt
        expected = reward - info["reward_contact"] - 1.25 * (info["x_velocity"] - x_velocity)
        assert abs(ours_reward - expected) < 1e-9
        assert bool(dyn.terminated(after)[0]) == term
        if term:
            break
    assert term and step > 10  # it fell


def _idp_reward(tip, qvel):  # InvertedDoublePendulum-v5's reward from a tip position, as in Gymnasium's source
    x, y = tip[0], tip[2]
    return 10.0 * (y > 1) - 0.01 * x ** 2 - (y - 2) ** 2 - 1e-3 * qvel[1] ** 2 - 5e-3 * qvel[2] ** 2


@COMPILE_BOUND
def test_inverted_double_pendulum_matches_gymnasium_v5_step_for_step():
    """Same seed and actions: the float64 state equals MuJoCo's to 1e-9 at every step (no contacts; the cart stays
    off its slider limit, where both report zero constraint force) and the observation equals Gymnasium's. The
    reward and termination read the pole tip at the state; Gymnasium reads MuJoCo's ``site_xpos``, computed inside
    the last RK4 step: its own reward is reproduced from that position, diffsim's from the tip at the state
    (MuJoCo's kinematics of the same state)."""
    import mujoco

    from envs.inverted_double_pendulum import InvertedDoublePendulumEnv

    ours, ref = InvertedDoublePendulumEnv(), gym.make("InvertedDoublePendulum-v5").unwrapped
    fresh = mujoco.MjData(ref.model)
    rng = np.random.default_rng(0)
    steps = 0
    for episode in range(3):
        o, _ = ours.reset(seed=episode)
        r, _ = ref.reset(seed=episode)
        np.testing.assert_allclose(ours.state, np.concatenate([ref.data.qpos, ref.data.qvel]), rtol=0, atol=1e-15)
        np.testing.assert_allclose(o, r, rtol=1e-6, atol=1e-7)
        for step in range(200):
            a = rng.uniform(-0.3, 0.3, 1).astype(np.float32)
            o, rew, term, trunc, _ = ours.step(a)
            r, ref_rew, ref_term, _, _ = ref.step(a)
            np.testing.assert_allclose(ours.state, np.concatenate([ref.data.qpos, ref.data.qvel]), atol=1e-9,
                                       err_msg=f"episode {episode}, step {step}")
            np.testing.assert_allclose(o, r, rtol=1e-5, atol=1e-6)
            assert abs(_idp_reward(ref.data.site_xpos[0], ref.data.qvel) - ref_rew) < 1e-12  # Gymnasium's formula
            fresh.qpos[:], fresh.qvel[:] = ours.state[:3], ours.state[3:]
            mujoco.mj_kinematics(ref.model, fresh)
            assert abs(rew - _idp_reward(fresh.site_xpos[0], fresh.qvel)) < 1e-9
            assert term == bool(fresh.site_xpos[0][2] <= 1) and not trunc
            steps += 1
            if term or ref_term:
                break
        assert term  # random pushes topple it
    assert steps > 15


@COMPILE_BOUND
def test_reacher_matches_gymnasium_v5_step_for_step():
    """Same seed (Gymnasium's rejection-sampled goal included) and actions: the float64 state equals MuJoCo's to
    1e-9 at every step of three 50-step episodes (while the elbow stays off its limit: with full-range random
    actions it reaches it within ~30 steps and the two part there, as the inverted pendulums do), and the
    observation's joint part equals Gymnasium's; the fingertip and target positions the observation and reward
    read are taken at the state (MuJoCo's kinematics of the same state), where Gymnasium reads MuJoCo's ``xpos``
    from inside the last RK4 step (its reward is reproduced from those)."""
    import mujoco

    from envs.reacher import ReacherEnv

    ours, ref = ReacherEnv(), gym.make("Reacher-v5").unwrapped
    fresh = mujoco.MjData(ref.model)
    rng = np.random.default_rng(0)

    def gap(data):
        return data.body("fingertip").xpos - data.body("target").xpos

    for episode in range(3):
        o, _ = ours.reset(seed=episode)
        r, _ = ref.reset(seed=episode)
        np.testing.assert_array_equal(ours.state, np.concatenate([ref.data.qpos, ref.data.qvel]))
        assert ours.np_random.bit_generator.state == ref.np_random.bit_generator.state
        np.testing.assert_allclose(o, r, rtol=1e-6, atol=1e-7)
        for step in range(50):
            a = rng.uniform(-0.3, 0.3, 2).astype(np.float32)  # the elbow stays off its +-3 rad limit
            o, rew, term, trunc, _ = ours.step(a)
            r, ref_rew, _, _, _ = ref.step(a)
            np.testing.assert_allclose(ours.state, np.concatenate([ref.data.qpos, ref.data.qvel]), atol=1e-9,
                                       err_msg=f"episode {episode}, step {step}")
            np.testing.assert_allclose(o[:8], r[:8], rtol=1e-5, atol=1e-6)
            ctrl_cost = float(np.square(a.astype(np.float64)).sum())  # diffsim squares in float64
            # Gymnasium's formula (its control cost in the action's float32)
            assert abs(-np.linalg.norm(gap(ref.data)) - float(np.square(a).sum()) - ref_rew) < 1e-12
            fresh.qpos[:], fresh.qvel[:] = ours.state[:4], ours.state[4:]
            mujoco.mj_kinematics(ref.model, fresh)
            np.testing.assert_allclose(o[8:], gap(fresh)[:2], rtol=1e-5, atol=1e-6)
            assert abs(rew - (-np.linalg.norm(gap(fresh)) - ctrl_cost)) < 1e-9
            assert not term and not trunc


def test_hopper_training_shaping_is_zero_upright_and_minus_one_at_each_termination_edge():
    """The training-only soft walls: nothing while the torso is within 0.1 rad and above 0.9 m, -1 where the
    episode terminates (0.2 rad, 0.7 m), pushing back towards upright."""
    dyn = HopperDynamics()
    nxt = torch.zeros(6, 12, dtype=torch.float64)
    nxt[:, 1] = torch.tensor([1.25, 1.25, 1.25, 1.25, 0.7, 0.8], dtype=torch.float64)
    nxt[:, 2] = torch.tensor([0.0, 0.09, 0.2, -0.15, 0.0, 0.0], dtype=torch.float64)
    nxt.requires_grad_(True)
    extra = dyn.shaping(nxt.detach(), torch.zeros(6, 3, dtype=torch.float64), nxt)
    torch.testing.assert_close(extra, torch.tensor([0.0, 0.0, -1.0, -0.25, -1.0, -0.25], dtype=torch.float64))
    extra.sum().backward()
    assert nxt.grad[2, 2] < 0 < nxt.grad[3, 2]  # leans back towards upright
    assert nxt.grad[5, 1] > 0  # and up


def test_ant_training_shaping_is_zero_inside_the_soft_walls_and_minus_one_at_each_termination_edge():
    """The training-only soft walls on the torso's height: nothing within [0.3, 0.85] m, -1 where the episode
    terminates (0.2 m, 1 m), pushing back inside."""
    from envs.ant import AntDynamics

    dyn = AntDynamics()
    nxt = torch.zeros(6, dyn.nq + dyn.nv, dtype=torch.float64)
    nxt[:, 2] = torch.tensor([0.3, 0.55, 0.85, 0.2, 1.0, 0.25], dtype=torch.float64)
    nxt.requires_grad_(True)
    extra = dyn.shaping(nxt.detach(), torch.zeros(6, dyn.nu, dtype=torch.float64), nxt)
    torch.testing.assert_close(extra, torch.tensor([0.0, 0.0, 0.0, -1.0, -1.0, -0.25], dtype=torch.float64))
    extra.sum().backward()
    assert nxt.grad[3, 2] > 0 > nxt.grad[4, 2]  # up from the floor, down from the ceiling
    assert nxt.grad[:3].abs().sum() == 0


@COMPILE_BOUND
def test_randomized_worlds_step_like_worlds_built_with_their_scaled_parameters():
    """Domain randomisation: each world's factors (drawn at reset within their ranges, carried unchanged, not
    observed) scale its contact friction and damping; one step of a randomised batch equals, world by world, the
    unrandomised env built with those parameters scaled."""
    ranges = {"friction": (0.5, 1.5), "contact_damping": (0.5, 2.0)}
    dyn = HopperDynamics(randomize=ranges)
    plain = HopperDynamics()
    assert dyn.state_dim == plain.state_dim + 2
    state = dyn.reset(3, torch.Generator().manual_seed(0))
    f = state[:, -2:]
    assert torch.all((f[:, 0] >= 0.5) & (f[:, 0] <= 1.5) & (f[:, 1] >= 0.5) & (f[:, 1] <= 2.0))
    assert len(set(f[:, 0].tolist())) == 3
    state[:, 1] -= 0.1  # the foot presses into the floor: contact forces act within the step
    action = torch.tensor([[0.5, -0.3, 0.8]], dtype=torch.float64).expand(3, 3)
    nxt, obs, reward, _ = dyn.step(state, action)
    assert obs.shape == (3, 11)
    torch.testing.assert_close(nxt[:, -2:], f)
    for w in range(3):
        g, p = plain.template.geom_contact.clone(), plain.template.pair_contact.clone()
        for t in (g, p):
            t[..., 0] *= f[w, 0]
            t[..., 2] *= f[w, 1]
        ref = HopperDynamics(geom_contact=g, pair_contact=p)
        ref_next, _, ref_reward, _ = ref.step(state[w:w + 1, :12], action[w:w + 1])
        torch.testing.assert_close(nxt[w:w + 1, :12], ref_next, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(reward[w:w + 1], ref_reward, rtol=1e-12, atol=1e-12)
    assert not torch.allclose(nxt[:, :12], plain.step(state[:, :12], action)[0])  # the factors matter


@COMPILE_BOUND
def test_randomized_step_gradients_match_finite_differences_through_the_factors():
    """gradcheck (float64, central differences) of one randomised step w.r.t. the worlds' factors: the gradient
    reaches the per-world contact parameters (pressed into the floor and sliding, so both act)."""
    dyn = HopperDynamics(randomize={"contact_stiffness": (0.8, 1.2), "friction": (0.5, 1.5)})
    state = dyn.reset(2, torch.Generator().manual_seed(1))
    state[:, 1] -= 0.1
    state[:, 7] += 0.3
    action = torch.full((2, 3), 0.2, dtype=torch.float64)

    def step(factors):
        nxt, reward = dyn.transition(torch.cat([state[:, :12], factors], dim=1), action)
        return nxt[:, :12], reward

    factors = state[:, 12:].clone().requires_grad_(True)
    assert torch.autograd.gradcheck(step, (factors,), eps=1e-6)
    grad, = torch.autograd.grad(step(factors)[0][:, 7].sum(), factors)
    assert torch.all(grad.abs() > 1e-3)  # both factors change the step


@pytest.mark.parametrize("randomize,match", [
    ({"gravity": (0.9, 1.1)}, "unknown parameter 'gravity'"),
    ({"friction": (0.0, 1.0)}, r"randomize\['friction'\] must satisfy 0 < low <= high"),
    ({"friction": (1.2, 1.1)}, r"randomize\['friction'\] must satisfy 0 < low <= high"),
    ({"friction": 1.0}, r"randomize\['friction'\] must be a pair"),
    ([("friction", (0.5, 1.5))], "randomize must be a dict"),
])
def test_bad_randomize_is_refused_naming_it(randomize, match):
    with pytest.raises(ValueError, match=match):
        HopperDynamics(randomize=randomize)


@COMPILE_BOUND
def test_randomized_gymnasium_env_draws_new_factors_at_each_reset():
    env = gym.make("diffsim/Hopper-v0", randomize={"density": (0.8, 1.2)})
    obs, _ = env.reset(seed=3)
    assert obs.shape == (11,)
    first = float(env.unwrapped.state[-1])
    env.step(env.action_space.sample())
    assert float(env.unwrapped.state[-1]) == first
    env.reset()
    assert 0.8 <= float(env.unwrapped.state[-1]) <= 1.2 and float(env.unwrapped.state[-1]) != first
