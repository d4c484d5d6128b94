"""Learned fields: the structure each model promises holds for any weights, gradients reach every parameter
through diffsim's integrators, and bad inputs are refused."""
import math

import pytest
import torch

from controllers.dynamics import CHNN, HNN, LNN, UDE, ControlledHNN, MLPField
from controllers.dynamics.data import chain_cartesian
from controllers.dynamics.lnn import indefiniteness, inverse_dynamics_error, solve_euler_lagrange
from diffsim.ode import fields, odeint

F64 = torch.float64


def test_hnn_with_random_weights_conserves_its_own_hamiltonian():
    torch.manual_seed(0)
    model = HNN(dof=2, hidden=32)
    y0 = torch.randn(4, 4, dtype=F64)
    drift = {}
    with torch.no_grad():
        H0 = model.hamiltonian(y0)
        for h in (0.2, 0.1, 0.005):
            ys = odeint(model, y0, torch.linspace(0, 2, 3), method="rk4", step_size=h)
            drift[h] = float((torch.stack([model.hamiltonian(y) for y in ys]) - H0).abs().max())
    assert drift[0.005] < 1e-14 * max(1.0, float(H0.abs().max()))  # conserved to rounding
    assert drift[0.2] / drift[0.1] > 8  # what drift there is, is RK4's (order 4: 2^4 when h halves)


def test_hnn_field_is_the_symplectic_gradient():
    model = HNN(dof=1, hidden=16)
    y = torch.randn(5, 2, dtype=F64)
    f = model(0.0, y)
    eps = 1e-6
    for i in range(2):
        e = torch.zeros(2, dtype=F64)
        e[i] = eps
        dH = (model.hamiltonian(y + e) - model.hamiltonian(y - e)) / (2 * eps)
        expected = -dH if i == 0 else dH  # dp/dt = -dH/dq, dq/dt = dH/dp
        torch.testing.assert_close(f[:, 1 - i], expected.detach(), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("prior", [0.0, 1.0])
def test_lnn_accelerations_satisfy_euler_lagrange_and_conserve_energy(prior):
    torch.manual_seed(1)
    model = LNN(dof=2, hidden=32, layers=2, kinetic_prior=prior)
    q = torch.randn(3, 2, dtype=F64)
    qd = torch.randn(3, 2, dtype=F64)
    qdd = model.accelerations(q, qd).detach()
    # d/dt (dL/dqdot) - dL/dq = 0 along (q, qd, qdd): the time derivative by central differences
    h = 1e-5

    def dL(qq, vv):
        qq, vv = qq.clone().requires_grad_(True), vv.clone().requires_grad_(True)
        gq, gv = torch.autograd.grad(model.lagrangian(qq, vv).sum(), (qq, vv))
        return gq, gv

    _, gv_plus = dL(q + h * qd + 0.5 * h * h * qdd, qd + h * qdd)
    _, gv_minus = dL(q - h * qd + 0.5 * h * h * qdd, qd - h * qdd)
    gq, _ = dL(q, qd)
    torch.testing.assert_close((gv_plus - gv_minus) / (2 * h), gq, rtol=1e-5, atol=1e-6)
    # the energy is conserved along the learned flow (to the integrator's error)
    y0 = torch.cat([q, qd], -1) * 0.3
    drift = {}
    with torch.no_grad():
        for h in (0.04, 0.02):
            ys = odeint(model, y0, torch.linspace(0, 0.4, 3), method="rk4", step_size=h)
            E = torch.stack([model.energy(y) for y in ys])
            drift[h] = float((E - E[0]).abs().max())
    assert drift[0.02] < 1e-9 * max(1.0, float(E.abs().max()))
    if drift[0.04] > 1e-13:  # above rounding, the drift is RK4's (order 4), not the model's
        assert drift[0.04] / drift[0.02] > 8


@pytest.mark.parametrize("prior", [0.0, 0.5])
def test_lnn_mass_matrix_is_the_lagrangians_velocity_hessian(prior):
    torch.manual_seed(3)
    model = LNN(dof=2, hidden=16, layers=2, kinetic_prior=prior)
    q, qd = torch.randn(4, 2, dtype=F64), torch.randn(4, 2, dtype=F64)
    qdd, mass = model.accelerations_and_mass(q, qd)
    torch.testing.assert_close(qdd, model.accelerations(q, qd), rtol=0, atol=0)
    for i in range(4):
        hess = torch.autograd.functional.hessian(lambda v: model.lagrangian(q[i:i + 1], v[None])[0], qd[i])
        torch.testing.assert_close(mass[i], hess, rtol=1e-10, atol=1e-12)


def test_indefiniteness_is_zero_for_either_definite_sign_and_scale_free():
    rot = torch.linalg.qr(torch.randn(6, 3, 3, dtype=F64))[0]
    pos = rot @ torch.diag_embed(torch.rand(6, 3, dtype=F64) + 0.1) @ rot.transpose(1, 2)
    assert indefiniteness(pos) == 0 and indefiniteness(-pos) == 0
    one_flipped = rot @ torch.diag(torch.tensor([-1.0, 2.0, 1.0], dtype=F64)) @ rot.transpose(1, 2)
    torch.testing.assert_close(indefiniteness(one_flipped), torch.tensor(0.25, dtype=F64))
    torch.testing.assert_close(indefiniteness(1e-4 * one_flipped), torch.tensor(0.25, dtype=F64))
    # the batch's mean trace sets the intended sign: five positive-definite, one negative-definite matrix
    mixed = torch.cat([pos[:5], -pos[5:]])
    torch.testing.assert_close(indefiniteness(mixed), torch.tensor(1 / 6, dtype=F64))
    # finite gradients where eigenvalues meet (the identity) and where they have mixed signs
    x = torch.cat([torch.eye(3, dtype=F64)[None], one_flipped[:1]]).requires_grad_(True)
    indefiniteness(x).backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    with pytest.raises(ValueError, match=r"mass must have shape \(batch, dof, dof\)"):
        indefiniteness(torch.eye(2, dtype=F64))
    # a singular matrix costs nothing without a margin; with one, each eigenvalue below its share of the sum counts
    singular = torch.diag(torch.tensor([1.0, 0.0], dtype=F64))[None]
    assert indefiniteness(singular) == 0
    torch.testing.assert_close(indefiniteness(singular, margin=0.1), torch.tensor(0.1, dtype=F64))
    assert indefiniteness(torch.eye(2, dtype=F64)[None], margin=0.1) == 0
    with pytest.raises(ValueError, match=r"margin must be in \[0, 1 / dof\) = \[0, 0.5\)"):
        indefiniteness(singular, margin=0.5)


def test_inverse_dynamics_error_vanishes_on_the_learned_motion_and_is_scale_free():
    torch.manual_seed(3)
    model = LNN(dof=2, hidden=32, periodic=[True, True]).double()
    y = torch.randn(64, 4, dtype=F64)
    q, qdot = model.split(y)
    mass, rhs = model.euler_lagrange(q, qdot)
    qddot, mass_too = model.accelerations_and_mass(q, qdot)
    torch.testing.assert_close(mass, mass_too)
    torch.testing.assert_close(solve_euler_lagrange(mass, rhs), qddot)
    assert inverse_dynamics_error(mass, rhs, qddot).abs().max() < 1e-9 * qddot.abs().max()
    other = qddot + torch.randn_like(qddot)
    err = inverse_dynamics_error(mass, rhs, other)
    # exact: the residual mass (other - qddot) over the batch's mean |trace| / dof
    scale = torch.diagonal(mass, dim1=-2, dim2=-1).sum(-1).abs().mean() / 2
    torch.testing.assert_close(err, (mass @ (other - qddot).unsqueeze(-1)).squeeze(-1) / scale)
    with torch.no_grad():  # L -> -3 L: the same motion, the same error up to L's sign
        model.net[-1].weight.mul_(-3.0)
    torch.testing.assert_close(inverse_dynamics_error(*model.euler_lagrange(q, qdot), other), -err)
    # finite, with a gradient, where the learned matrix is singular
    singular = torch.diag(torch.tensor([1.0, 0.0], dtype=F64)).expand(3, 2, 2).clone().requires_grad_(True)
    inverse_dynamics_error(singular, torch.ones(3, 2, dtype=F64), torch.ones(3, 2, dtype=F64)).abs().sum().backward()
    assert torch.isfinite(singular.grad).all() and singular.grad.abs().sum() > 0
    with pytest.raises(ValueError, match=r"mass must have shape \(batch, dof, dof\)"):
        inverse_dynamics_error(torch.eye(2, dtype=F64), rhs, qddot)
    with pytest.raises(ValueError, match=r"rhs and qddot must have shape \(64, 2\)"):
        inverse_dynamics_error(mass, rhs, qddot[:, :1])


def _chain(hidden=32, m1=1.3, m2=0.7, l1=1.1, l2=0.8):
    return CHNN(points=2, dim=2, rods=[(0, 1, l2)], tethers=[(0, (0.0, 0.0), l1)], hidden=hidden)


def test_chnn_with_the_true_potential_and_masses_is_the_double_pendulum():
    """Gravity as V and the true masses: the constrained field equals diffsim's double-pendulum field in angles,
    carried to Cartesian coordinates by the chain rule."""
    m1, m2, l1, l2, g = 1.3, 0.7, 1.1, 0.8, 9.81
    model = _chain(8, m1, m2, l1, l2)
    with torch.no_grad():
        model.log_mass.copy_(torch.tensor([m1, m2], dtype=F64).log())
    model.potential = lambda x: g * (model.masses * x.unflatten(-1, (2, 2))[..., 1]).sum(-1)
    y = torch.cat([6 * torch.rand(16, 2, dtype=F64) - 3, 8 * torch.rand(16, 2, dtype=F64) - 4], -1)
    dy = fields.double_pendulum([m1, m2, l1, l2, g]).evaluate(y)
    z, dz = torch.func.jvp(lambda a: chain_cartesian(a, l1, l2), (y,), (dy,))
    torch.testing.assert_close(model(0.0, z), dz, rtol=1e-12, atol=1e-11)
    assert float(model.constraints(z).abs().max()) < 1e-13


def test_chnn_with_random_weights_keeps_its_rods_and_conserves_its_energy():
    torch.manual_seed(1)
    model = _chain()
    with torch.no_grad():
        model.log_mass.copy_(torch.tensor([0.3, -0.2], dtype=F64))
        z0 = chain_cartesian(torch.randn(5, 4, dtype=F64), 1.1, 0.8)
        zs = odeint(model, z0, torch.linspace(0, 2, 5, dtype=F64), method="dopri5", rtol=1e-11, atol=1e-12)
        energy = torch.stack([model.hamiltonian(z) for z in zs])
        rods = torch.stack([model.constraints(z) for z in zs])
    assert float((energy - energy[0]).abs().max()) < 1e-8 * float(energy.abs().max())
    assert float(rods.abs().max()) < 1e-8
    assert float((zs[-1] - z0).abs().max()) > 0.1  # it moved


@pytest.mark.parametrize("method,order", [("rattle", 2), ("rattle4", 4)])
def test_chnn_rattle_keeps_the_rods_is_symmetric_and_converges_at_its_order(method, order):
    """RATTLE on a CHNN with random weights: the rods and their rates stay at zero after every step (to the Newton
    solve's precision), a step of -h undoes a step of h (a symmetric method), the energy error stays bounded over a
    long run, and the error against a fine RK4 solve falls as h^order."""
    torch.manual_seed(3)
    model = _chain()
    with torch.no_grad():
        model.log_mass.copy_(torch.tensor([0.3, -0.2], dtype=F64))
        z0 = chain_cartesian(torch.randn(4, 4, dtype=F64), 1.1, 0.8)
        t = torch.tensor([0.0, 0.24], dtype=F64)
        ref = odeint(model, z0, t, method="rk4", step_size=2e-3)[-1]  # error ~1e-11, 1e4 below rattle4's at 0.02
        err = {h: float((odeint(model, z0, t, method=method, step_size=h)[-1] - ref).abs().max()) for h in (0.04, 0.02)}
        rate = math.log2(err[0.04] / err[0.02])
        assert order - 0.3 < rate < order + 0.6, err
        one = model.rattle(0.0, z0, 0.05)
        torch.testing.assert_close(model.rattle(0.0, one, -0.05), z0, rtol=0, atol=1e-12)
        zs = odeint(model, z0, torch.linspace(0, 10, 51, dtype=F64), method=method, step_size=0.1)
        rods = torch.stack([model.constraints(z) for z in zs])
        energy = torch.stack([model.hamiltonian(z) for z in zs])
    assert float(rods.abs().max()) < 1e-11
    drift = (energy - energy[0]).abs()
    assert float(drift.max()) < 0.05 * float(energy.abs().max())
    assert float(drift[25:].max()) < 3 * float(drift[:26].max())  # bounded: no secular growth in the second half


def test_training_through_rattle_reaches_every_parameter_and_other_fields_are_refused():
    """Gradients flow through RATTLE's Newton solve to the potential network and the masses, and match central
    differences w.r.t. the start and the masses (gradcheck, float64); a field without ``rattle`` (a plain torch field
    or a Warp field) is refused with the method's name."""
    torch.manual_seed(4)
    model = _chain(hidden=8)
    z0 = chain_cartesian(torch.randn(3, 4, dtype=F64), 1.1, 0.8)
    zs = odeint(model, z0, torch.linspace(0, 0.1, 3, dtype=F64), method="rattle4")
    zs.square().sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and bool(p.grad.abs().sum() > 0), name
    masses, saved = model.log_mass.detach().clone().requires_grad_(True), model.log_mass

    def solve(y0, log_mass):  # the masses as an input, so that gradcheck perturbs them too
        del model.log_mass
        model.log_mass = log_mass
        try:
            return odeint(model, y0, [0.0, 0.1], method="rattle4")[-1]
        finally:
            del model.log_mass
            model.log_mass = saved

    assert torch.autograd.gradcheck(solve, (z0[:2].clone().requires_grad_(True), masses), atol=1e-7, rtol=1e-6)
    with pytest.raises(TypeError, match="method 'rattle4' steps fields with holonomic constraints"):
        odeint(MLPField(dof=1, hidden=4), torch.zeros(1, 2, dtype=F64), [0.0, 0.1], method="rattle4")
    with pytest.raises(TypeError, match="method 'rattle' steps fields .* WarpVectorField has none"):
        odeint(fields.mass_spring(), torch.zeros(1, 2, dtype=F64), [0.0, 0.1], method="rattle")


def test_controlled_hnn_conserves_h_without_input_and_damping_only_removes_energy():
    torch.manual_seed(2)
    free = ControlledHNN(dof=1, control_dim=1, hidden=16, dissipation=False)
    y0 = torch.randn(3, 2, dtype=F64)
    with torch.no_grad():
        ys = odeint(free, y0, torch.linspace(0, 1, 5), method="rk4", step_size=1e-3)
        H = torch.stack([free.hamiltonian(y) for y in ys])
    assert (H - H[0]).abs().max() < 1e-9 * max(1.0, float(H.abs().max()))
    damped = ControlledHNN(dof=1, control_dim=1, hidden=16, dissipation=True)
    y = torch.randn(64, 2, dtype=F64)
    yy = y.clone().requires_grad_(True)
    grad_h = torch.autograd.grad(damped.hamiltonian(yy).sum(), yy)[0]
    power = (grad_h * damped(0.0, y)).sum(-1)  # dH/dt along the unforced flow
    assert (power <= 1e-12).all() and (power < 0).any()
    u = torch.randn(64, 1, dtype=F64)
    forced = damped(0.0, y, u) - damped(0.0, y)
    torch.testing.assert_close(forced[:, 1:], (damped.input_matrix(y[:, :1]) @ u.unsqueeze(-1)).squeeze(-1).detach())


def test_ude_adds_the_network_to_the_known_terms():
    def known(t, y):
        return torch.stack([1.3 * y[:, 0], -1.8 * y[:, 1]], -1)

    model = UDE(known, dof=1, hidden=8)
    y = torch.rand(6, 2, dtype=F64)
    torch.testing.assert_close(model(0.0, y), known(0.0, y) + model.unknown(y))


def test_second_order_mlp_field_moves_q_with_qdot_and_learns_only_accelerations():
    torch.manual_seed(0)
    model = MLPField(dof=2, hidden=16, second_order=True, periodic=[True, False])
    y = torch.randn(5, 4, dtype=F64)
    dy = model(0.0, y)
    assert dy.shape == (5, 4) and model.net[-1].out_features == 2
    torch.testing.assert_close(dy[:, :2], y[:, 2:], rtol=0, atol=0)
    torch.testing.assert_close(dy[:, 2:], model.net(model.features(y)))


@pytest.mark.parametrize("make", [lambda: MLPField(dof=2, hidden=16), lambda: HNN(dof=2, hidden=16),
                                  lambda: MLPField(dof=2, hidden=16, second_order=True),
                                  lambda: LNN(dof=2, hidden=16, layers=2),
                                  lambda: ControlledHNN(dof=2, control_dim=1, hidden=16).with_control(
                                      torch.ones(3, 1, dtype=F64)),
                                  lambda: UDE(lambda t, y: -y, dof=2, hidden=16),
                                  lambda: CHNN(points=1, dim=2, rods=(), tethers=[(0, (0.0, 0.0), 1.0)], hidden=16)],
                         ids=["mlp", "hnn", "mlp_second_order", "lnn", "controlled", "ude", "chnn"])
@pytest.mark.parametrize("method", ["rk4", "verlet", "dopri5"])
def test_gradients_reach_every_parameter_through_the_solver(make, method):
    torch.manual_seed(3)
    field = make()
    module = field if isinstance(field, torch.nn.Module) else field.__closure__[0].cell_contents  # with_control
    y0 = (0.3 * torch.randn(3, 4, dtype=F64)).requires_grad_(True)
    ys = odeint(field, y0, torch.linspace(0, 0.2, 3), method=method, step_size=0.05, rtol=1e-6, atol=1e-8)
    ys[-1].square().sum().backward()
    assert y0.grad is not None and torch.isfinite(y0.grad).all()
    for name, p in module.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("activation, periodic, scale", [("softplus", [True, True], 1.0), ("tanh", [False, True], 3.0),
                                                         ("softplus", None, 10.0)])
def test_lnn_explicit_derivatives_equal_torch_func(activation, periodic, scale):
    """The layer-by-layer derivative propagation gives torch.func's accelerations and parameter gradients."""
    torch.manual_seed(2)
    model = LNN(dof=2, hidden=24, layers=3, activation=activation, periodic=periodic, kinetic_prior=0.5,
                velocity_scale=scale)
    q, qd = 3 * torch.randn(16, 2, dtype=F64), 5 * torch.randn(16, 2, dtype=F64)
    qd[0] = 30.0 * scale  # past softplus's linear threshold (20) in the first layer
    results = []
    for explicit in (True, False):
        if not explicit:
            model._activation_derivatives = None  # the generic path
        qdd = model.accelerations(q, qd)
        results.append((qdd, torch.autograd.grad(qdd.square().sum(), list(model.parameters()))))
    (a, ga), (b, gb) = results
    torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12 * float(b.abs().max()))
    for x, y in zip(ga, gb):
        torch.testing.assert_close(x, y, rtol=1e-11, atol=1e-11 * float(y.abs().max()))


def test_bad_inputs_give_clear_errors():
    with pytest.raises(ValueError, match="dof must be an int >= 1"):
        HNN(dof=0)
    with pytest.raises(ValueError, match="dof must be an int >= 1"):
        LNN(dof=1.5)
    with pytest.raises(ValueError, match=r"y must have shape \(batch, 4\) = \(batch, 2 \* dof\) for dof = 2"):
        HNN(dof=2)(0.0, torch.zeros(3, 3, dtype=F64))
    with pytest.raises(ValueError, match="periodic must have one entry per degree of freedom"):
        MLPField(dof=2, periodic=[True])
    with pytest.raises(ValueError, match="control_dim must be an int >= 1"):
        ControlledHNN(dof=1, control_dim=0)
    with pytest.raises(ValueError, match=r"u must have shape \(3, 2\)"):
        ControlledHNN(dof=1, control_dim=2)(0.0, torch.zeros(3, 2, dtype=F64), torch.zeros(3, 1, dtype=F64))
    with pytest.raises(TypeError, match="known must be a callable"):
        UDE(known=3.0)
    with pytest.raises(ValueError, match="kinetic_prior must be >= 0"):
        LNN(kinetic_prior=-1.0)
    with pytest.raises(ValueError, match="velocity_scale must be > 0"):
        LNN(velocity_scale=0.0)
    for kwargs, match in ((dict(points=0), "points must be an int >= 1"),
                          (dict(rods=[(0, 2, 1.0)]), r"rods: point indices must be ints in \[0, 1\], got 2"),
                          (dict(rods=[(0, 1, -1.0)]), "rods: lengths must be > 0 m"),
                          (dict(rods=[(1, 1, 1.0)]), "a rod must join two different points"),
                          (dict(tethers=[(0, (0.0,), 1.0)]), "the anchor must have dim = 2 coordinates"),
                          (dict(rods=(), tethers=()), r"need between 1 and 3 rods and tethers in all, got 0")):
        with pytest.raises(ValueError, match=match):
            CHNN(**kwargs)
    for model in (HNN(dof=1, hidden=8), LNN(dof=1, hidden=8), ControlledHNN(dof=1, hidden=8),
                  CHNN(points=1, rods=(), hidden=8)):
        with torch.inference_mode(), pytest.raises(RuntimeError, match=r"under torch.no_grad\(\) instead"):
            model(0.0, torch.zeros(2, model.dim, dtype=F64))


def test_periodic_coordinates_make_the_model_2pi_periodic():
    model = HNN(dof=2, hidden=16, periodic=[True, False])
    y = torch.randn(4, 4, dtype=F64)
    shifted = y.clone()
    shifted[:, 0] += 2 * torch.pi
    torch.testing.assert_close(model.hamiltonian(shifted), model.hamiltonian(y))
