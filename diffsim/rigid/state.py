"""``State`` and ``Control``: the per-step arrays of a :class:`~diffsim.rigid.model.Model`, and ``step``.

``State(qpos (W, nq), qvel (W, nv))`` in MuJoCo's layout (a free joint: position and a w-x-y-z
quaternion in qpos, world linear and body angular velocity in qvel); ``Control(ctrl (W, nu))``
in actuator units (clamped to each ``ctrlrange``). ``step(model, state, control)`` advances
every world by one timestep, differentiably (it is :func:`~diffsim.rigid.rollout.rollout`
with one step).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from diffsim.rigid.model import Model
from diffsim.rigid.rollout import rollout

FREE = 2  # JOINT_TYPES.index("free")


@dataclass
class State:
    qpos: torch.Tensor
    qvel: torch.Tensor


@dataclass
class Control:
    ctrl: torch.Tensor


def default_state(model: Model, dtype=None) -> State:
    """MuJoCo's qpos0 (hinges and slides at their ``ref``, 0 by default; free bodies at their MJCF pose) with zero
    velocity."""
    dtype = dtype or model.body_mass.dtype
    W = model.num_worlds
    qpos = torch.zeros(W, model.nq, dtype=dtype, device=model.body_mass.device)
    for b, jt in enumerate(model.joint_type):
        if jt == FREE:
            a = model.qpos_adr[b]
            qpos[:, a:a + 3] = model.body_pos[:, b].to(dtype)
            qpos[:, a + 3:a + 7] = model.body_quat[:, b].to(dtype)
        elif jt >= 0 and model.joint_ref:
            qpos[:, model.qpos_adr[b]] = model.joint_ref[b]
    return State(qpos, torch.zeros(W, model.nv, dtype=dtype, device=qpos.device))


def default_control(model: Model, dtype=None) -> Control:
    dtype = dtype or model.body_mass.dtype
    return Control(torch.zeros(model.num_worlds, model.nu, dtype=dtype, device=model.body_mass.device))


def step(model: Model, state: State, control: Control, integrator: str = "rk4", timestep: float | None = None) -> State:
    """The next :class:`State` of every world after one timestep."""
    qs, vs = rollout(model, state.qpos, state.qvel, control.ctrl.unsqueeze(1), integrator=integrator,
                     timestep=timestep)
    return State(qs[:, -1], vs[:, -1])
