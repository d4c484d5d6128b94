"""diffsim/Pendulum-v0, CartPole-v0 and Acrobot-v0 against Gymnasium's own envs, step by step."""
import gymnasium as gym
import numpy as np
import pytest
import torch
import warp as wp
from gymnasium.utils.env_checker import check_env
from gymnasium.utils.env_match import check_environments_match

import envs  # noqa: F401
from diffsim import parallel
from envs.acrobot import AcrobotDynamics, AcrobotEnv, AcrobotVectorEnv
from envs.cartpole import CartPoleDynamics, CartPoleEnv, CartPoleVectorEnv, small_angle_sincos
from envs.pendulum import PendulumDynamics, PendulumEnv, PendulumVectorEnv
from envs.warp_dynamics import WarpVectorEnv

PAIRS = [("diffsim/Pendulum-v0", "Pendulum-v1"), ("diffsim/CartPole-v0", "CartPole-v1"),
         ("diffsim/Acrobot-v0", "Acrobot-v1")]


@pytest.mark.parametrize("ours,theirs", PAIRS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_full_episode_parity_with_gymnasium(ours, theirs, seed):
    a, b = gym.make(ours), gym.make(theirs)
    oa, _ = a.reset(seed=seed)
    ob, _ = b.reset(seed=seed)
    np.testing.assert_allclose(oa, ob, rtol=0, atol=1e-6)
    b.action_space.seed(seed)
    steps = 0
    while True:
        act = b.action_space.sample()
        ra = a.step(act)
        rb = b.step(act)
        np.testing.assert_allclose(ra[0], rb[0], rtol=1e-5, atol=1e-5)
        # the float64 state, not only the float32 observation: a constant off in its 6th digit shows here
        np.testing.assert_allclose(a.unwrapped.state, np.asarray(b.unwrapped.state, dtype=np.float64),
                                   rtol=1e-12, atol=1e-12, err_msg=f"state after step {steps + 1}")
        assert abs(ra[1] - rb[1]) <= 1e-12 * max(1.0, abs(rb[1]))
        assert ra[2:4] == rb[2:4]
        steps += 1
        if rb[2] or rb[3]:
            break
    if "Pendulum" in ours:
        assert steps == 200  # never terminates, truncated by the time limit


# one step in float64 from states chosen to wrap angles, against Gymnasium's own step on its float64 state
_FLOAT64_CASES = [
    ("Pendulum-v1", lambda: PendulumDynamics(float32_torque=True),
     [[7.5, 3.0], [-4.0, -7.9], [np.pi - 1e-9, 0.0], [-np.pi + 1e-3, -0.2]],
     lambda a: np.array([a], dtype=np.float32), [1.7, -2.0, 0.3, 2.0]),
    ("Acrobot-v1", AcrobotDynamics, [[np.pi - 1e-4, -np.pi + 1e-4, 0.5, -0.5], [0.3, 3.1, 2.0, 8.0],
                                     [-3.14, 0.2, -3.0, 1.0], [3.0, -3.0, 4.0, -9.0]],
     lambda a: int(a + 1), [1, -1, 0, 1]),
]


@pytest.mark.parametrize("theirs,dyn_cls,states,gym_action,actions", _FLOAT64_CASES)
def test_one_float64_step_matches_gymnasium_across_angle_wraps(theirs, dyn_cls, states, gym_action, actions):
    env, dyn = gym.make(theirs).unwrapped, dyn_cls()
    for state, act in zip(states, actions):
        env.reset(seed=0)
        env.state = np.array(state, dtype=np.float64)
        _, reward, _, _, _ = env.step(gym_action(act))
        ours, our_reward = dyn.transition(torch.tensor([state], dtype=torch.float64),
                                          torch.tensor([[float(act)]], dtype=torch.float64))
        np.testing.assert_allclose(ours[0].numpy(), np.asarray(env.state, dtype=np.float64), rtol=1e-13, atol=1e-13)
        assert abs(float(our_reward[0]) - float(reward)) <= 1e-12 * max(1.0, abs(float(reward)))


@pytest.mark.parametrize("ours,theirs", PAIRS)
def test_gymnasium_env_matcher_passes(ours, theirs):
    """Gymnasium's own matcher: equal spaces, observations and rewards (values and types), terminations,
    truncations and infos, 3 000 steps through resets."""
    check_environments_match(gym.make(ours), gym.make(theirs), num_steps=3000, seed=0)


@pytest.mark.parametrize("ours", [p[0] for p in PAIRS])
def test_check_env(ours):
    check_env(gym.make(ours, render_mode="rgb_array").unwrapped, skip_render_check=False)


@pytest.mark.parametrize("split", [False, True], ids=["one-launch", "two-blocks"])
@pytest.mark.parametrize("mirrored", [False, True], ids=["shared-host-memory", "host-mirrors"])
@pytest.mark.parametrize("cls,n_act", [(PendulumVectorEnv, None), (CartPoleVectorEnv, 2), (AcrobotVectorEnv, 3)])
def test_vector_env_equals_single_envs_through_autoresets(cls, n_act, split, mirrored, monkeypatch):
    n = 4
    monkeypatch.setattr(WarpVectorEnv, "SHARE_HOST_MEMORY", not mirrored)  # host-mirrors: the path a GPU takes
    if split:  # worlds 0-1 and 2-3 step on two threads
        monkeypatch.setattr(WarpVectorEnv, "MIN_WORLDS_PER_THREAD", 2)
        parallel.set_cpu_threads(2)
    try:
        venv = cls(num_envs=n, max_episode_steps=70)
    finally:
        parallel.set_cpu_threads(None)
    assert len(venv._step_cmds) == (2 if split else 1)
    single_cls = {PendulumVectorEnv: PendulumEnv, CartPoleVectorEnv: CartPoleEnv, AcrobotVectorEnv: AcrobotEnv}[cls]
    singles = [single_cls() for _ in range(n)]
    vo, _ = venv.reset(seed=5)
    so = [e.reset(seed=5 + i)[0] for i, e in enumerate(singles)]
    np.testing.assert_array_equal(vo, np.stack(so))
    np.testing.assert_array_equal(venv.state, np.stack([e.state for e in singles]))  # float64, bit for bit
    rng = np.random.default_rng(0)
    ended, steps, resets = np.zeros(n, dtype=bool), np.zeros(n, dtype=int), 0
    for _ in range(300):
        acts = rng.integers(0, n_act, n) if n_act else rng.uniform(-2, 2, (n, 1)).astype(np.float32)
        vo, vr, vt, vtr, _ = venv.step(acts)
        for i, e in enumerate(singles):
            if ended[i]:  # next-step autoreset: the vector env returns the single env's next reset
                o, _ = e.reset()
                np.testing.assert_array_equal(o, vo[i])
                np.testing.assert_array_equal(e.state, venv.state[i])
                assert vr[i] == 0.0 and not vt[i] and not vtr[i]
                ended[i], steps[i] = False, 0
                resets += 1
                continue
            o, r, t, _, _ = e.step(acts[i])
            steps[i] += 1
            np.testing.assert_array_equal(o, vo[i])
            np.testing.assert_array_equal(e.state, venv.state[i])
            assert r == vr[i] and t == vt[i] and vtr[i] == (steps[i] >= 70)  # as TimeLimit does
            ended[i] = t or steps[i] >= 70
    assert resets >= n  # every world went through at least one autoreset
    vo, _ = venv.reset()  # no seed: every world's stream goes on
    np.testing.assert_array_equal(vo, np.stack([e.reset()[0] for e in singles]))
    np.testing.assert_array_equal(venv.state, np.stack([e.state for e in singles]))


def test_vector_autoreset_next_step():
    venv = gym.make_vec("diffsim/CartPole-v0", num_envs=3, vectorization_mode="vector_entry_point")
    assert isinstance(venv.unwrapped, CartPoleVectorEnv)
    venv.reset(seed=0)
    ended = None
    for _ in range(200):
        _, r, t, tr, _ = venv.step(np.ones(3, dtype=np.int64))
        if ended is not None:
            assert r[ended] == 0.0 and not t[ended]  # the reset step
            break
        if t.any():
            ended = int(np.argmax(t))
    assert ended is not None


def test_record_episode_statistics_and_sync_equivalence():
    venv = gym.wrappers.vector.RecordEpisodeStatistics(
        gym.make_vec("diffsim/Pendulum-v0", num_envs=2, vectorization_mode="vector_entry_point"))
    venv.reset(seed=0)
    for _ in range(200):
        _, _, _, trunc, info = venv.step(np.zeros((2, 1), dtype=np.float32))
    assert trunc.all() and (info["episode"]["l"] == 200).all()


@pytest.mark.parametrize("dyn", [PendulumDynamics(), CartPoleDynamics(), AcrobotDynamics()],
                         ids=["pendulum", "cartpole", "acrobot"])
def test_functional_step_gradients(dyn):
    g = torch.Generator().manual_seed(0)
    state = (dyn.reset(5, g) * 3).requires_grad_(True)
    action = (torch.rand(5, 1, generator=g, dtype=torch.float64) - 0.5).requires_grad_(True)
    params = dyn.params.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda s, a, p: dyn.transition(s, a, p), (state, action, params),
                                    eps=1e-6, atol=1e-7)
    # the one-launch functional step: next state, observation and reward all carry gradients
    assert torch.autograd.gradcheck(lambda s, a, p: dyn.step(s, a, p)[:3], (state, action, params),
                                    eps=1e-6, atol=1e-7)
    ns, obs, _, term = dyn.step(state, action, params)
    torch.testing.assert_close(obs, dyn.observe(ns))
    assert term.dtype == torch.bool and torch.equal(term, dyn.terminated(ns))


def test_differentiable_rollout_through_pendulum():
    dyn = PendulumDynamics()
    state = torch.tensor([[0.5, 0.0]], dtype=torch.float64)
    actions = torch.zeros(50, 1, 1, dtype=torch.float64, requires_grad=True)
    total = 0.0
    for k in range(50):
        state, _, reward, _ = dyn.step(state, actions[k])
        total = total + reward.sum()
    (grad,) = torch.autograd.grad(total, actions)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0


@pytest.mark.parametrize("make,bad,match", [
    (lambda: PendulumEnv(), np.array([np.nan], dtype=np.float32), "finite"),
    (lambda: PendulumEnv(), np.zeros(2, dtype=np.float32), "shape"),
    (lambda: CartPoleEnv(), 3, "0 or 1"),
])
def test_bad_actions(make, bad, match):
    env = make()
    env.reset(seed=0)
    with pytest.raises(ValueError, match=match):
        env.step(bad)


def test_bad_parameters():
    with pytest.raises(ValueError, match="m must be > 0"):
        PendulumEnv(m=-1.0)
    with pytest.raises(ValueError, match="num_envs"):
        CartPoleVectorEnv(num_envs=0)
    with pytest.raises(ValueError, match="masspole"):
        CartPoleEnv(masspole=0.0)


@pytest.mark.parametrize("dyn", [PendulumDynamics(), CartPoleDynamics()], ids=["pendulum", "cartpole"])
def test_checkpointed_long_rollout_gives_the_plain_gradients(dyn):
    """300 differentiable steps with sqrt(T) recomputed segments equal a plain, fully taped loop."""
    state = dyn.reset(4, torch.Generator().manual_seed(0))
    actions = (0.3 * torch.randn(300, 4, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(1)))
    a1 = actions.clone().requires_grad_(True)
    ret, _ = dyn.rollout_return(state, a1, gamma=0.99)
    (g1,) = torch.autograd.grad(ret.sum(), a1)
    a2 = actions.clone().requires_grad_(True)
    s, total = state, 0.0
    for k in range(300):
        s, r = dyn.transition(s, a2[k])
        total = total + r * 0.99 ** k
    (g2,) = torch.autograd.grad(total.sum(), a2)
    torch.testing.assert_close(ret, total.detach(), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(g1, g2, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cls", [PendulumVectorEnv, CartPoleVectorEnv, AcrobotVectorEnv])
def test_vector_envs_refuse_render_mode(cls):
    with pytest.raises(ValueError, match="does not render"):
        cls(num_envs=2, render_mode="rgb_array")


def test_vector_env_state_lives_on_device_and_outputs_are_copies():
    venv = PendulumVectorEnv(num_envs=3)
    start = np.array([[0.1, 0.0], [1.0, -0.5], [3.0, 0.2]])
    obs0, _ = venv.reset(seed=0, options={"state": start})
    np.testing.assert_array_equal(venv.state, start)
    np.testing.assert_allclose(obs0[:, 0], np.cos(start[:, 0]).astype(np.float32))
    obs1, rew1, *_ = venv.step(np.zeros((3, 1), dtype=np.float32))
    kept = obs1.copy(), rew1.copy()
    venv.step(np.full((3, 1), 2.0, dtype=np.float32))
    np.testing.assert_array_equal(obs1, kept[0])  # a later step does not write into returned arrays
    np.testing.assert_array_equal(rew1, kept[1])
    assert not np.array_equal(venv.state, start)
    with pytest.raises(AttributeError, match="reset"):
        venv.state = start


@wp.kernel
def _sincos_kernel(x: wp.array(dtype=wp.float64), s: wp.array(dtype=wp.float64), c: wp.array(dtype=wp.float64)):
    i = wp.tid()
    si, ci = small_angle_sincos(x[i])
    s[i] = si
    c[i] = ci


def test_cartpole_small_angle_sincos_matches_the_c_library_to_an_ulp():
    x = np.concatenate([np.linspace(-0.7, 0.7, 20001), [0.0, -0.0, 0.5, -0.5, np.nextafter(0.5, 1), 3.0, -100.0]])
    s, c = wp.zeros(len(x), dtype=wp.float64), wp.zeros(len(x), dtype=wp.float64)
    wp.launch(_sincos_kernel, len(x), inputs=[wp.array(x, dtype=wp.float64)], outputs=[s, c], device="cpu")
    for got, ref in ((s.numpy(), np.sin(x)), (c.numpy(), np.cos(x))):
        assert (np.abs(got - ref) <= np.spacing(np.abs(ref))).all()  # within one ulp of the C library
