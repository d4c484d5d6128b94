"""Training windows from trajectories: ``windows(states, window, horizon, exog=None, stride=1)``.

``states (N, L, D)`` (and inputs ``exog (N, L, E)``, the input applied at each sample) are cut into every
``(past (M, window, D), future (M, horizon, D), exog (M, window + horizon, E))`` that fits, starting every
``stride`` samples; ``M = N * (1 + (L - window - horizon) // stride)``.
"""
from __future__ import annotations

import torch


def windows(states: torch.Tensor, window: int, horizon: int, exog: torch.Tensor | None = None, stride: int = 1):
    for name, v in (("window", window), ("horizon", horizon), ("stride", stride)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be an int >= 1, got {v!r}")
    if not isinstance(states, torch.Tensor) or states.dim() != 3:
        raise ValueError(f"states must be a tensor of shape (N, L, D), got "
                         f"{tuple(states.shape) if isinstance(states, torch.Tensor) else type(states).__name__}")
    N, L, _ = states.shape
    span = window + horizon
    if L < span:
        raise ValueError(f"trajectories of {L} samples are shorter than window + horizon = {span}")
    if exog is not None and (not isinstance(exog, torch.Tensor) or exog.dim() != 3 or exog.shape[:2] != (N, L)):
        raise ValueError(f"exog must be a tensor of shape ({N}, {L}, E), got "
                         f"{tuple(exog.shape) if isinstance(exog, torch.Tensor) else type(exog).__name__}")
    starts = torch.arange(0, L - span + 1, stride)
    idx = starts[:, None] + torch.arange(span)  # (S, span)
    cut = states[:, idx].reshape(-1, span, states.shape[2])
    past, future = cut[:, :window], cut[:, window:]
    if exog is None:
        return past, future, None
    return past, future, exog[:, idx].reshape(-1, span, exog.shape[2])


def smooth_controls(n: int, steps: int, dim: int, low, high, dt: float, generator: torch.Generator,
                    waves: int = 4, fraction: float = 0.5) -> torch.Tensor:
    """``(n, steps, dim)`` random smooth inputs: per trajectory and dimension a sum of ``waves`` sinusoids with
    frequencies uniform in [0.1, 1] Hz and random phases, scaled to ``fraction`` of the half range around the
    box ``[low, high]``'s centre (float64)."""
    low, high = torch.as_tensor(low, dtype=torch.float64), torch.as_tensor(high, dtype=torch.float64)
    t = torch.arange(steps, dtype=torch.float64) * dt
    freq = 0.1 + 0.9 * torch.rand(n, 1, dim, waves, generator=generator, dtype=torch.float64)
    phase = 2 * torch.pi * torch.rand(n, 1, dim, waves, generator=generator, dtype=torch.float64)
    amp = torch.rand(n, 1, dim, waves, generator=generator, dtype=torch.float64)
    s = (amp * torch.sin(2 * torch.pi * freq * t[None, :, None, None] + phase)).sum(-1) / amp.sum(-1)
    return (low + high) / 2 + fraction * (high - low) / 2 * s


def driven_trajectories(env_id: str, n: int, steps: int, seed: int = 0, fraction: float = 0.5):
    """``(states (n, steps + 1, S), controls (n, steps + 1, A))``: ``n`` trajectories of a diffsim rigid-body env
    (e.g. ``diffsim/DoublePendulum-v0``, ``diffsim/CartPoleSwingUp-v0``) from its own start distribution under
    :func:`smooth_controls` (``controls[:, k]`` is held from sample ``k`` to ``k + 1``; the last is the next
    input, known to a predictor of the step after), one env step per sample, simulated in one batched rollout."""
    from diffsim.rigid import rollout
    from envs import make_functional

    dyn = make_functional(env_id)
    if not hasattr(dyn, "frame_skip"):
        raise ValueError(f"env_id must be a diffsim rigid-body env, got {env_id!r}")
    gen = torch.Generator().manual_seed(seed)
    start = dyn.reset(n, gen)
    dt = dyn.frame_skip * dyn.model_for(1).timestep
    u = smooth_controls(n, steps + 1, dyn.nu, dyn.ctrl_low, dyn.ctrl_high, dt, gen, fraction=fraction)
    q, v, _ = dyn.split(start)
    with torch.no_grad():
        qs, vs = rollout(dyn.model_for(n), q, v, u[:, :steps].repeat_interleave(dyn.frame_skip, dim=1))
    states = torch.cat([qs, vs], -1)[:, ::dyn.frame_skip]
    return states, u


def delayed_pendulum(n: int, steps: int, seed: int = 0, delays=(1, 8)):
    """A system whose coupling to its input changes with its state: diffsim's ``Pendulum-v0`` (Gymnasium's
    Pendulum-v1 step, 0.05 s) driven by the input of ``delays[0]`` steps ago while the rod is in its upper half
    (``cos theta > 0``) and of ``delays[1]`` steps ago in its lower half. Returns ``(states (n, steps + 1, 2),
    inputs (n, steps + 1, 1))``, states ``[theta, theta_dot]`` with ``theta`` unwrapped (rad), inputs in N m;
    the first ``max(delays)`` inputs are zero-padded history."""
    from envs import make_functional

    dyn = make_functional("diffsim/Pendulum-v0")
    gen = torch.Generator().manual_seed(seed)
    u = smooth_controls(n, steps + 1, 1, [-2.0], [2.0], 0.05, gen, fraction=0.9)
    s = dyn.reset(n, gen)
    states = [s]
    with torch.no_grad():
        for k in range(steps):
            lag = torch.where(torch.cos(s[:, 0]) > 0, delays[0], delays[1])
            idx = (k - lag).clamp_min(0)
            a = torch.where((k - lag)[:, None] >= 0, u[torch.arange(n), idx], 0.0)
            s, _ = dyn.transition(s, a)
            states.append(s)
    return torch.stack(states, 1), u


def free_pendulum():
    """diffsim's ``Pendulum-v0`` dynamics with its torque and speed limits lifted (50 N m, 50 rad/s), so that an
    added force is never clipped: the known part of :func:`memory_friction_pendulum`."""
    from envs import make_functional

    return make_functional("diffsim/Pendulum-v0", max_torque=50.0, max_speed=50.0)


def memory_friction_pendulum(n: int, steps: int, seed: int = 0, coef: float = 0.6, lags: int = 8,
                             decay: float = 3.0):
    """A pendulum with a friction that remembers: :func:`free_pendulum` (0.05 s steps) driven by random smooth
    torques (within +-1.8 N m) plus ``-coef * sum_k w_k theta_dot_{t-k}``, ``k = 0 .. lags - 1``, ``w_k``
    proportional to ``exp(-k / decay)`` and summing to 1 (velocities before the start count as the start's).
    Returns ``(states (n, steps + 1, 2), inputs (n, steps + 1, 1))``: ``[theta, theta_dot]`` (rad, rad/s) and the
    applied torques without the friction (what a model is told)."""
    dyn = free_pendulum()
    gen = torch.Generator().manual_seed(seed)
    u = smooth_controls(n, steps + 1, 1, [-2.0], [2.0], 0.05, gen, fraction=0.9)
    w = torch.exp(-torch.arange(lags, dtype=torch.float64) / decay)
    w = w / w.sum()
    s = dyn.reset(n, gen)
    past = s[:, 1:2].repeat(1, lags)  # theta_dot_{t}, theta_dot_{t-1}, ...
    states = [s]
    with torch.no_grad():
        for k in range(steps):
            friction = -coef * (past * w).sum(1, keepdim=True)
            s, _ = dyn.transition(s, u[:, k] + friction)
            past = torch.cat([s[:, 1:2], past[:, :-1]], 1)
            states.append(s)
    return torch.stack(states, 1), u


def lorenz96(variables: int = 17, samples: int = 5000, dt: float = 0.05, forcing: float = 8.0, seed: int = 0,
             burn_in: float = 20.0) -> torch.Tensor:
    """A chaotic multivariate series: Lorenz-96, ``x_i' = (x_{i+1} - x_{i-2}) x_{i-1} - x_i + forcing`` (indices
    modulo ``variables``), integrated by :func:`diffsim.ode.odeint` (RK4, 10 steps per sample) from ``forcing``
    plus a small random perturbation (``seed``), after ``burn_in`` time units onto the attractor.
    Returns ``(samples, variables)`` float64, one row every ``dt``."""
    from diffsim.ode import odeint

    if isinstance(variables, bool) or not isinstance(variables, int) or variables < 4:
        raise ValueError(f"variables must be an int >= 4 (Lorenz-96 couples i-2 .. i+1), got {variables!r}")
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ValueError(f"samples must be an int >= 1, got {samples!r}")
    if not (dt > 0 and burn_in >= 0):
        raise ValueError(f"dt must be > 0 and burn_in >= 0, got dt={dt!r}, burn_in={burn_in!r}")

    def field(t, x):
        return (torch.roll(x, -1, -1) - torch.roll(x, 2, -1)) * torch.roll(x, 1, -1) - x + forcing

    gen = torch.Generator().manual_seed(seed)
    x0 = forcing + 0.01 * torch.randn(1, variables, generator=gen, dtype=torch.float64)
    n_burn = int(round(burn_in / dt))
    t = torch.arange(n_burn + samples, dtype=torch.float64) * dt
    with torch.no_grad():
        xs = odeint(field, x0, t, method="rk4", step_size=dt / 10)[:, 0]
    return xs[n_burn:]


def controlled_quadrotor(n: int, steps: int, seed: int = 0, reach: float = 0.5, disturbance: float = 0.1):
    """``diffsim/Quadrotor-v0`` under a controller: the hover LQR of :func:`controllers.trajopt.hover_lqr` steers
    each drone after a random smooth reference within ``+-reach`` m of (0, 0, 1) m (LQR on the position error),
    and random smooth thrust disturbances up to ``disturbance`` x hover thrust are added (what the controller
    does not know; the predictor is told the applied thrusts). Starts at the reference's first point, level, at
    rest. Returns ``(states (n, steps + 1, 13), thrusts (n, steps + 1, 4))``: position (m), quaternion (w, x, y,
    z), linear and angular velocity; the rotor thrusts applied from each sample to the next (N, 10 ms env
    steps; the last one is the next input)."""
    from controllers.trajopt import hover_lqr
    from envs.quadrotor import HOVER

    home = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)
    dyn, ctrl = hover_lqr(home.tolist())
    dt = dyn.frame_skip * dyn.model_for(1).timestep
    gen = torch.Generator().manual_seed(seed)
    ref = home + smooth_controls(n, steps + 1, 3, [-reach] * 3, [reach] * 3, dt, gen, fraction=1.0)
    push = smooth_controls(n, steps + 1, 4, [-disturbance * HOVER] * 4, [disturbance * HOVER] * 4, dt, gen,
                           fraction=1.0)
    low, high = torch.as_tensor(dyn.ctrl_low), torch.as_tensor(dyn.ctrl_high)
    s = torch.cat([ref[:, 0], torch.tensor([1.0, 0, 0, 0], dtype=torch.float64).expand(n, 4),
                   torch.zeros(n, 6, dtype=torch.float64), home.expand(n, 3)], 1)
    states, thrusts = [s[:, :13]], []
    with torch.no_grad():
        for k in range(steps + 1):
            seen = s.clone()
            seen[:, :3] += home - ref[:, k]  # the LQR holds ``home``: show it the error to the reference
            u = torch.clamp(torch.as_tensor(ctrl(seen.numpy())) + push[:, k], low, high)
            thrusts.append(u)
            if k < steps:
                s = dyn.transition(s, u)[0]
                states.append(s[:, :13])
    return torch.stack(states, 1), torch.stack(thrusts, 1)
