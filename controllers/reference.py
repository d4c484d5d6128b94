"""Reference worlds: a Gymnasium MuJoCo task's own model stepped by MuJoCo, beside diffsim's differentiable copy.

A policy trained through diffsim's penalty contacts can learn to exploit them (it runs on diffsim and stumbles in
MuJoCo). :class:`MujocoWorlds` lets a first-order trainer keep diffsim for what only it gives, the gradient over a
short window, and take the rest from the engine the policy is meant for: where each window starts (the states
the policy visits in MuJoCo) and the returns its critic learns (``TrainConfig.reference="mujoco"``,
:mod:`controllers.shac`).

States are diffsim's ``[qpos (nq), qvel (nv), extra columns]`` (float64, MuJoCo's coordinates: the rigid engine
loads the same MJCF file with the same joint order); the extra columns (domain-randomisation factors) ride along
unchanged. Actions are the env's (the actuators' control ranges), clipped to them as MuJoCo's ``ctrllimited``
does. A step is a function of the state and action alone: MuJoCo's solver starts every step cold (its warm start,
which Gymnasium's env carries from step to step, only changes how fast the solver converges), so a run resumed from a
checkpoint continues bit for bit. MuJoCo steps on the CPU, one world after another: a host round trip per env step.
"""
from __future__ import annotations

import numpy as np
import torch

REFERENCES = ("mujoco",)


class MujocoWorlds:
    """``n`` MuJoCo copies of the task of ``dyn`` (an :class:`envs.rigid_core.GymnasiumMujocoDynamics`):
    :meth:`step` maps ``(state (n, S), action (n, A))`` to the next state after one env step (``frame_skip``
    MuJoCo steps), with no gradients."""

    def __init__(self, dyn, n: int):
        try:
            import mujoco
        except ImportError:
            raise ImportError("reference='mujoco' needs the mujoco package: pip install -e '.[rl]'") from None
        if not hasattr(dyn, "model_file") or not hasattr(dyn, "frame_skip"):
            raise ValueError(f"reference='mujoco' needs a Gymnasium MuJoCo task's dynamics, got {type(dyn).__name__}")
        if n < 1:
            raise ValueError(f"n must be >= 1 (worlds), got {n}")
        self._mujoco = mujoco
        self.model = mujoco.MjModel.from_xml_path(dyn.model_file())
        for name in ("nq", "nv", "nu"):
            if getattr(self.model, name) != getattr(dyn, name):
                raise ValueError(f"MuJoCo's {name} ({getattr(self.model, name)}) differs from diffsim's "
                                 f"({getattr(dyn, name)}) for {dyn.model_file()}")
        self.nq, self.nv, self.frame_skip = dyn.nq, dyn.nv, int(dyn.frame_skip)
        self.ctrl_low, self.ctrl_high = np.asarray(dyn.ctrl_low), np.asarray(dyn.ctrl_high)
        self.data, self.n = mujoco.MjData(self.model), n

    def step(self, state: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """The next state ``(n, S)`` (float64, on ``state``'s device) after one env step of every world."""
        n, c = self.n, self.nq + self.nv
        if state.dim() != 2 or state.shape[0] != n or state.shape[1] < c:
            raise ValueError(f"state must have shape ({n}, >= {c}), got {tuple(state.shape)}")
        if action.shape != (n, self.model.nu):
            raise ValueError(f"action must have shape ({n}, {self.model.nu}), got {tuple(action.shape)}")
        s = state.detach().to("cpu", torch.float64).numpy()
        u = np.clip(action.detach().to("cpu", torch.float64).numpy(), self.ctrl_low, self.ctrl_high)
        out = s.copy()
        step, data = self._mujoco.mj_step, self.data
        for i in range(n):
            data.qpos[:] = s[i, :self.nq]
            data.qvel[:] = s[i, self.nq:c]
            data.ctrl[:] = u[i]
            data.qacc_warmstart[:] = 0.0
            step(self.model, data, nstep=self.frame_skip)
            out[i, :self.nq] = data.qpos
            out[i, self.nq:c] = data.qvel
        return torch.from_numpy(out).to(state.device)
