"""The rigid-body envs: Gymnasium contract, vector == single, differentiable steps, task sanity."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

import envs  # noqa: F401
from envs.ant import AntDynamics, AntEnv, AntVectorEnv
from envs.cartpole_swingup import CartPoleSwingUpDynamics, CartPoleSwingUpEnv, CartPoleSwingUpVectorEnv
from envs.double_pendulum import DoublePendulumDynamics, DoublePendulumEnv, DoublePendulumVectorEnv
from envs.half_cheetah import HalfCheetahDynamics, HalfCheetahEnv, HalfCheetahVectorEnv
from envs.hopper import HopperDynamics, HopperEnv, HopperVectorEnv
from envs.humanoid import HumanoidEnv, HumanoidVectorEnv
from envs.inverted_double_pendulum import (
    InvertedDoublePendulumDynamics,
    InvertedDoublePendulumEnv,
    InvertedDoublePendulumVectorEnv,
)
from envs.inverted_pendulum import InvertedPendulumDynamics, InvertedPendulumEnv, InvertedPendulumVectorEnv
from envs.quadrotor import HOVER, QuadrotorDynamics, QuadrotorEnv, QuadrotorVectorEnv
from envs.reacher import ReacherDynamics, ReacherEnv, ReacherVectorEnv
from envs.swimmer import SwimmerDynamics, SwimmerEnv, SwimmerVectorEnv
from envs.throw import ThrowDynamics, ThrowEnv, ThrowVectorEnv
from envs.walker2d import Walker2dDynamics, Walker2dEnv, Walker2dVectorEnv

OWN_IDS = ["diffsim/CartPoleSwingUp-v0", "diffsim/DoublePendulum-v0", "diffsim/Quadrotor-v0", "diffsim/Throw-v0"]
MUJOCO_IDS = ["diffsim/InvertedPendulum-v0", "diffsim/InvertedDoublePendulum-v0", "diffsim/Reacher-v0",
              "diffsim/Swimmer-v0", "diffsim/Hopper-v0", "diffsim/HalfCheetah-v0", "diffsim/Walker2d-v0",
              "diffsim/Ant-v0", "diffsim/Humanoid-v0"]  # check_env'd in test_env_mujoco_v5.py
LOOPS_IDS = ["diffsim/Ant-v0", "diffsim/Humanoid-v0"]

# Gymnasium's MuJoCo models that run as generated code compile at -O0 in this file and in test_env_mujoco_v5.py
# (tests/conftest.py): there their modules' compile, not their running, is most of the time; the vector-env test
# reuses the module with adjoints that the gradcheck built. The other models' modules also serve training and
# trajectory tests (at Warp's level), and Ant and Humanoid run as loops, whose one module serves runtime-heavy tests.
COMPILE_BOUND = pytest.mark.compile_bound


@pytest.mark.parametrize("env_id", OWN_IDS)
def test_check_env(env_id):
    check_env(gym.make(env_id, render_mode="rgb_array").unwrapped, skip_render_check=False)


@pytest.mark.parametrize("env_id", [*OWN_IDS, *(i if i in LOOPS_IDS else pytest.param(i, marks=COMPILE_BOUND)
                                                 for i in MUJOCO_IDS)])  # the generated ones only reset here
def test_registered_vector_entry_point(env_id):
    venv = gym.make_vec(env_id, num_envs=2, vectorization_mode="vector_entry_point")
    assert type(venv.unwrapped).__name__ == type(gym.make(env_id).unwrapped).__name__.replace("Env", "VectorEnv")
    assert venv.reset(seed=0)[0].shape == (2, *venv.single_observation_space.shape)


@pytest.mark.parametrize("vec_cls,single_cls,steps", [
    (CartPoleSwingUpVectorEnv, CartPoleSwingUpEnv, 14), (DoublePendulumVectorEnv, DoublePendulumEnv, 14),
    (QuadrotorVectorEnv, QuadrotorEnv, 14), (ThrowVectorEnv, ThrowEnv, 4),
    pytest.param(InvertedPendulumVectorEnv, InvertedPendulumEnv, 14, marks=COMPILE_BOUND),
    pytest.param(SwimmerVectorEnv, SwimmerEnv, 6, marks=COMPILE_BOUND),
    pytest.param(InvertedDoublePendulumVectorEnv, InvertedDoublePendulumEnv, 8, marks=COMPILE_BOUND),
    pytest.param(ReacherVectorEnv, ReacherEnv, 6, marks=COMPILE_BOUND),
    *(pytest.param(v, e, 6, marks=COMPILE_BOUND) for v, e in ((HopperVectorEnv, HopperEnv),
                                                               (Walker2dVectorEnv, Walker2dEnv),
                                                               (HalfCheetahVectorEnv, HalfCheetahEnv))),
    (AntVectorEnv, AntEnv, 6), (HumanoidVectorEnv, HumanoidEnv, 6)],
    ids=["swingup", "double_pendulum", "quadrotor", "throw", "inverted_pendulum", "swimmer",
         "inverted_double_pendulum", "reacher", "hopper", "walker2d", "half_cheetah", "ant", "humanoid"])
def test_vector_env_equals_single_envs_through_autoresets(vec_cls, single_cls, steps):
    """States drawn on the device (reset and autoresets) and stepped in one batch equal single envs seeded
    like each world, bit for bit in float64; truncation after ``max_episode_steps`` as TimeLimit does."""
    n, limit = 3, 4
    venv = vec_cls(num_envs=n, max_episode_steps=limit)
    singles = [single_cls() for _ in range(n)]
    vo, _ = venv.reset(seed=7)
    np.testing.assert_array_equal(vo, np.stack([e.reset(seed=7 + i)[0] for i, e in enumerate(singles)]))
    np.testing.assert_array_equal(venv.state, np.stack([e.state for e in singles]))
    space = singles[0].action_space
    rng = np.random.default_rng(1)
    ended, count, resets = np.zeros(n, dtype=bool), np.zeros(n, dtype=int), 0
    for _ in range(steps):
        acts = rng.uniform(space.low, space.high, (n, *space.shape)).astype(np.float32)
        vo, vr, vt, vtr, _ = venv.step(acts)
        for i, e in enumerate(singles):
            if ended[i]:  # next-step autoreset: the vector env returns the single env's next reset
                np.testing.assert_array_equal(e.reset()[0], vo[i])
                assert vr[i] == 0.0 and not vt[i] and not vtr[i]
                ended[i], count[i] = False, 0
                resets += 1
            else:
                o, r, t, _, _ = e.step(acts[i])
                count[i] += 1
                np.testing.assert_array_equal(o, vo[i])
                assert r == vr[i] and t == vt[i] and vtr[i] == (count[i] >= limit)  # as TimeLimit: both may be set
                ended[i] = t or count[i] >= limit
            np.testing.assert_array_equal(e.state, venv.state[i])
    assert resets >= n
    vo, _ = venv.reset()  # no seed: every world's stream goes on
    np.testing.assert_array_equal(vo, np.stack([e.reset()[0] for e in singles]))
    np.testing.assert_array_equal(venv.state, np.stack([e.state for e in singles]))


def test_rigid_vector_env_given_states_and_errors():
    venv = DoublePendulumVectorEnv(num_envs=2)
    with pytest.raises(RuntimeError, match="reset"):
        venv.step(np.zeros((2, 2), dtype=np.float32))
    start = np.array([[0.3, -0.2, 0.0, 1.0], [0.0, 0.1, 0.5, 0.0]])
    venv.reset(seed=0, options={"state": start})
    np.testing.assert_array_equal(venv.state, start)
    with pytest.raises(ValueError, match="shape"):
        venv.reset(options={"state": start[:1]})
    with pytest.raises(ValueError, match="finite"):
        venv.step(np.full((2, 2), np.nan, dtype=np.float32))


def test_start_distribution_within_bounds():
    """``initial_bounds`` is the one statement of a task's start distribution: single-env draws, the
    functional ``reset`` and the vector env's device draws all stay inside it, fixed components exact."""
    for dyn, venv in [(QuadrotorDynamics(), QuadrotorVectorEnv(num_envs=64)),
                      (ThrowDynamics(), ThrowVectorEnv(num_envs=64))]:
        low, high = dyn.initial_bounds()
        fixed = low == high
        venv.reset(seed=3)
        draws = (dyn.sample_initial(np.random.default_rng(0), size=64),
                 dyn.reset(64, torch.Generator().manual_seed(0)).numpy(), venv.state)
        for x in draws:
            assert np.all(x >= low) and np.all(x <= high)
            np.testing.assert_array_equal(x[:, fixed], np.broadcast_to(low[fixed], x[:, fixed].shape))
            assert np.all(x[:, ~fixed].std(0) > 0.1 * (high - low)[~fixed])


def test_normal_start_components():
    """HalfCheetah's velocities start at ``0.1 N(0, 1)`` (its positions uniform within their bounds): single-env
    draws, the functional ``reset`` and the vector env's device draws all have that spread."""
    dyn, venv = HalfCheetahDynamics(), HalfCheetahVectorEnv(num_envs=256)
    low, high = dyn.initial_bounds()
    std = dyn.initial_normal_std()
    assert np.all(std[:dyn.nq] == 0) and np.all(std[dyn.nq:] == 0.1) and np.all(low[dyn.nq:] == high[dyn.nq:])
    venv.reset(seed=3)
    draws = (dyn.sample_initial(np.random.default_rng(0), size=256),
             dyn.reset(256, torch.Generator().manual_seed(0)).numpy(), venv.state)
    for x in draws:
        q, v = x[:, :dyn.nq], x[:, dyn.nq:]
        assert np.all(q >= low[:dyn.nq]) and np.all(q <= high[:dyn.nq])
        assert abs(v.mean()) < 0.01 and 0.09 < v.std() < 0.11  # 2 304 draws: 3-4 standard errors
        assert np.abs(v).max() > 0.25  # not a bounded distribution


@pytest.mark.slow
@pytest.mark.parametrize("dyn_cls", [HopperDynamics, Walker2dDynamics, HalfCheetahDynamics, AntDynamics],
                         ids=["hopper", "walker2d", "half_cheetah", "ant"])
def test_locomotion_step_gradcheck_through_contacts(dyn_cls):
    """gradcheck of one env step (reward) of the locomotion tasks from states in ground contact (opt-in: compiles
    each model's gradient module, 25-40 s apiece cold on a 2-core machine). The contacts are stiff: central
    differences are off by ~3e-4 at eps = 1e-6 and by ~3e-6 at 1e-7 (second order in eps), so eps = 1e-8."""
    dyn = dyn_cls()
    with torch.no_grad():  # settle onto the floor first
        state = dyn.reset(2, torch.Generator().manual_seed(0))
        for _ in range(15):
            state, _ = dyn.transition(state, torch.zeros(2, dyn.nu, dtype=torch.float64))
    state = state.clone().requires_grad_(True)
    action = (0.5 * torch.rand(2, dyn.nu, generator=torch.Generator().manual_seed(1),
                               dtype=torch.float64)).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda s, a: dyn.step(s, a)[2], (state, action), eps=1e-8, atol=1e-5, rtol=1e-4)


def test_humanoid_step_gradients_through_contacts_match_central_differences():
    """Humanoid (loops structure: nothing to compile) lying on the floor, many contacts active: directional
    derivatives of one env step's reward and next state along random state and action directions equal central
    differences. The contacts are stiff, so differences converge only as eps^2 (relative error 4e-4 at eps = 1e-6,
    ~1e-7 at 1e-8): eps = 1e-8, tolerance 1e-5."""
    from envs.humanoid import HumanoidDynamics

    dyn = HumanoidDynamics()
    with torch.no_grad():  # fall and lie on the floor
        state = dyn.reset(2, torch.Generator().manual_seed(0))
        for _ in range(60):
            state, _ = dyn.transition(state, torch.zeros(2, dyn.nu, dtype=torch.float64))
        assert float(dyn.contact_forces(state).abs().sum(dim=(1, 2)).min()) > 100.0
    g = torch.Generator().manual_seed(3)
    action = 0.2 * torch.rand(2, dyn.nu, generator=g, dtype=torch.float64)
    for part in (lambda out: out[2], lambda out: out[0][:, :dyn.nq + dyn.nv]):  # reward, next (qpos, qvel)
        s, a = state.clone().requires_grad_(True), action.clone().requires_grad_(True)
        out = part(dyn.step(s, a))
        weights = torch.randn(out.shape, generator=g, dtype=torch.float64)
        gs, ga = torch.autograd.grad((out * weights).sum(), [s, a])
        for _ in range(2):
            ds, da = torch.randn(state.shape, generator=g, dtype=torch.float64), torch.randn(action.shape, generator=g,
                                                                                              dtype=torch.float64)
            eps = 1e-8
            with torch.no_grad():
                plus, minus = (part(dyn.step(state + e * ds, action + e * da)) for e in (eps, -eps))
            fd = float(((plus - minus) * weights).sum()) / (2 * eps)
            analytic = float((gs * ds).sum() + (ga * da).sum())
            assert abs(analytic - fd) <= 1e-5 * abs(fd), (analytic, fd)


@pytest.mark.parametrize("dyn_cls", [CartPoleSwingUpDynamics, DoublePendulumDynamics, QuadrotorDynamics,
                                     *(pytest.param(c, marks=COMPILE_BOUND) for c in (
                                         InvertedPendulumDynamics, InvertedDoublePendulumDynamics, ReacherDynamics,
                                         SwimmerDynamics))],
                         ids=["swingup", "double_pendulum", "quadrotor", "inverted_pendulum",
                              "inverted_double_pendulum", "reacher", "swimmer"])
def test_functional_step_gradcheck(dyn_cls):
    dyn = dyn_cls()  # built here, not at collection: its model compiles a kinematics module when loaded
    state = dyn.reset(2, torch.Generator().manual_seed(0)).requires_grad_(True)
    low, high = torch.as_tensor(dyn.ctrl_low), torch.as_tensor(dyn.ctrl_high)
    action = (low + (high - low) * torch.rand(2, dyn.nu, generator=torch.Generator().manual_seed(1),
                                              dtype=torch.float64)).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda s, a: dyn.step(s, a)[2], (state, action), eps=1e-6, atol=1e-5, rtol=1e-4)


def test_gradient_reaches_physical_parameters():
    dyn = CartPoleSwingUpDynamics()
    dyn.template.body_mass.requires_grad_(True)
    state = dyn.reset(4, torch.Generator().manual_seed(0))
    total = 0.0
    for _ in range(20):
        state, _, reward, _ = dyn.step(state, torch.full((4, 1), 0.5, dtype=torch.float64))
        total = total + reward.sum()
    (g,) = torch.autograd.grad(total, dyn.template.body_mass)
    assert torch.isfinite(g).all() and g.abs().sum() > 0


def test_quadrotor_hover_keeps_position_and_goal_reward():
    env = QuadrotorEnv()
    env.reset(seed=0, options={"state": [0, 0, 1, 1, 0, 0, 0] + [0] * 6 + [0, 0, 1]})
    for _ in range(50):
        _, r, t, _, _ = env.step(np.full(4, HOVER))
    assert not t and r > 2 - 2e-6 and abs(env.state[2] - 1.0) < 1e-9  # -1e-6: the distance is sqrt(d^2 + 1e-12)


def test_crashing_the_drone_scores_below_hovering():
    env = gym.make("diffsim/Quadrotor-v0")
    returns = []
    for thrust in (0.0, HOVER):  # motors off: it falls and terminates; hover: it stays up for the episode
        env.reset(seed=3)
        total, done, steps = 0.0, False, 0
        while not done:
            _, r, term, trunc, _ = env.step(np.full(4, thrust, dtype=np.float32))
            total, done, steps = total + r, term or trunc, steps + 1
        returns.append((total, term, steps))
    (crash, crashed, crash_steps), (hover, _, hover_steps) = returns
    assert crashed and crash_steps < 100 and hover_steps == 500
    assert hover > crash


def test_swingup_rewards_never_make_leaving_the_track_pay():
    """Per-step rewards on the track are >= -0.1 and 0 when hanging still at the centre, so ending an
    episode early can never beat hanging still (the optimum, 1 per step, is balanced at the centre)."""
    env = gym.make("diffsim/CartPoleSwingUp-v0")
    rng = np.random.default_rng(0)
    rewards = []
    for ep in range(3):
        env.reset(seed=ep)
        done = False
        while not done:
            _, r, term, trunc, _ = env.step(rng.uniform(-1, 1, 1).astype(np.float32))
            rewards.append(r)
            done = term or trunc
    assert min(rewards) >= -0.1
    env.reset(seed=0, options={"state": [0.0, np.pi, 0.0, 0.0]})
    assert abs(env.step(np.zeros(1, dtype=np.float32))[1]) < 1e-9
    env.reset(seed=0, options={"state": [0.0, 0.0, 0.0, 0.0]})
    assert env.step(np.zeros(1, dtype=np.float32))[1] > 0.999


def test_throw_push_lands_at_v0_squared_over_2_mu_g():
    env = ThrowEnv()
    target = 2.0 ** 2 / (2 * 0.5 * 9.81)
    env.reset(options={"state": [0, 0, 0.1, 1, 0, 0, 0] + [0] * 6 + [target]})
    _, r, t, _, info = env.step(np.array([2.0, 0.0]))
    assert t and abs(r) < 0.05 * target


def test_throw_gradient_w_r_t_friction_matches_finite_differences():
    dyn = ThrowDynamics()
    base = dyn.template.geom_contact.clone()
    state = torch.tensor([[0, 0, 0.1, 1, 0, 0, 0] + [0] * 6 + [1.0]], dtype=torch.float64)

    def final_x(mu):
        dyn.template.geom_contact = base.clone()
        dyn.template.geom_contact[0, 0, 0] = mu
        ns, _ = dyn.transition(state, torch.tensor([[2.0, 0.0]], dtype=torch.float64))
        return ns[0, 0]

    mu = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(final_x(mu), mu)
    fd = (final_x(torch.tensor(0.5 + 1e-6, dtype=torch.float64))
          - final_x(torch.tensor(0.5 - 1e-6, dtype=torch.float64))) / 2e-6
    assert abs(float(g) - float(fd)) < 1e-4 * abs(float(fd))
    assert abs(float(g) - (-2.0 ** 2 / (2 * 0.5 ** 2 * 9.81))) < 0.05 * abs(float(g))  # d/dmu of v0^2/(2 mu g)


@pytest.mark.parametrize("env_id,bad,match", [("diffsim/DoublePendulum-v0", np.zeros(3), "shape"),
                                              ("diffsim/Quadrotor-v0", np.full(4, np.nan), "finite")])
def test_bad_actions(env_id, bad, match):
    env = gym.make(env_id).unwrapped
    env.reset(seed=0)
    with pytest.raises(ValueError, match=match):
        env.step(bad)


def test_bad_parameter_override():
    with pytest.raises(ValueError, match="unknown physical parameter"):
        CartPoleSwingUpDynamics(pole_length=2.0)
    with pytest.raises(ValueError, match=r"body_mass\[world 0, index \(1,\)\] must be > 0 \(kg\)"):
        CartPoleSwingUpDynamics(body_mass=[1.0, -0.1])


def test_swingup_training_shaping_is_zero_on_the_track_and_grows_past_the_soft_rails():
    """The training-only soft rails: no term within 2 m of the centre, a smooth quadratic beyond (the env's own
    reward is unchanged)."""
    from envs.cartpole_swingup import SOFT_RAIL

    dyn = CartPoleSwingUpDynamics()
    x = torch.tensor([0.0, 1.9, -1.9, 2.5, -2.9], dtype=torch.float64, requires_grad=True)
    state = torch.zeros(5, 4, dtype=torch.float64)
    nxt = torch.stack([x, torch.zeros(5), torch.zeros(5), torch.zeros(5)], dim=1)
    extra = dyn.shaping(state, torch.zeros(5, 1, dtype=torch.float64), nxt)
    assert torch.all(extra[:3] == 0)
    torch.testing.assert_close(extra[3:], -5.0 * (torch.tensor([2.5, 2.9], dtype=torch.float64) - SOFT_RAIL) ** 2)
    extra.sum().backward()
    assert x.grad[3] < 0 < x.grad[4]  # pushes back towards the centre


def test_reacher_goals_lie_in_the_disc_and_the_target_starts_still():
    dyn, venv = ReacherDynamics(), ReacherVectorEnv(num_envs=256)
    venv.reset(seed=1)
    for x in (dyn.sample_initial(np.random.default_rng(0), size=256),
              dyn.reset(256, torch.Generator().manual_seed(0)).numpy(), venv.state):
        goal = x[:, 2:4]
        assert np.all(np.linalg.norm(goal, axis=1) < 0.2) and goal.std(0).min() > 0.05
        assert np.all(x[:, 6:8] == 0) and np.all(np.abs(x[:, 4:6]) <= 0.005)
        assert np.all(np.abs(x[:, :2]) <= 0.1)


@pytest.mark.compile_bound
def test_integrator_and_structure_are_env_arguments():
    """``integrator`` picks what each diffsim step runs (MuJoCo's RK4 or its semi-implicit Euler); the default is
    the task's. The env's step is exactly ``frame_skip * substeps`` steps of :func:`diffsim.rigid.rollout`."""
    from diffsim.rigid import rollout

    dyn = InvertedPendulumDynamics(integrator="euler", substeps=2)
    assert InvertedPendulumDynamics().integrator == "rk4" and dyn.integrator == "euler"
    state = dyn.reset(3, torch.Generator().manual_seed(0))
    action = torch.tensor([[0.5], [-1.0], [2.5]], dtype=torch.float64)
    next_state = dyn.step(state, action)[0]
    steps = dyn.frame_skip * dyn.substeps
    qs, vs = rollout(dyn.model_for(3), state[:, :dyn.nq].clone(), state[:, dyn.nq:].clone(),
                     action[:, None].expand(3, steps, 1).contiguous(), integrator="euler",
                     timestep=dyn.template.timestep / 2)
    torch.testing.assert_close(next_state, torch.cat([qs[:, -1], vs[:, -1]], 1), rtol=0, atol=0)
    rk4 = InvertedPendulumDynamics(substeps=2).step(state, action)[0]
    assert (next_state - rk4).abs().max() > 1e-6  # the two integrators differ at this step
    with pytest.raises(ValueError, match=r"integrator must be None or one of "
                                         r"\('rk4', 'euler', 'implicit_contacts'\), got 'verlet'"):
        InvertedPendulumDynamics(integrator="verlet")
    # ``structure``: the same dynamics as loops (what large models run by default) as in generated code
    as_loops = InvertedPendulumDynamics(substeps=2, structure="loops").step(state, action)[0]
    torch.testing.assert_close(as_loops, rk4, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="structure must be one of"):
        InvertedPendulumDynamics(structure="unrolled")


@pytest.mark.compile_bound
def test_substeps_trade_step_length_for_speed():
    """``substeps`` (diffsim steps per simulator step) is an env argument; the default is the task's."""
    assert HalfCheetahDynamics().substeps == 2 and HalfCheetahDynamics(substeps=4).substeps == 4
    env = gym.make("diffsim/HalfCheetah-v0", substeps=4).unwrapped
    env.reset(seed=0)
    assert np.all(np.isfinite(env.step(np.zeros(6))[0]))
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="substeps must be an int >= 1"):
            HalfCheetahDynamics(substeps=bad)
