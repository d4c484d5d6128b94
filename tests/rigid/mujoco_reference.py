"""MuJoCo as the reference the rigid-body tests compare against."""
import numpy as np


def mujoco_rk4(mj, q0, v0, ctrl):
    """MuJoCo's RK4 on the ``mujoco.MjModel`` ``mj`` from ``(q0, v0)`` under ``ctrl`` ``(T, nu)``: qpos at every step
    ``(T + 1, nq)`` and the final qvel."""
    import mujoco

    mj.opt.integrator = mujoco.mjtIntegrator.mjINT_RK4
    d = mujoco.MjData(mj)
    d.qpos[:], d.qvel[:] = q0, v0
    qs = [d.qpos.copy()]
    for u in ctrl:
        d.ctrl[:] = u
        mujoco.mj_step(mj, d)
        qs.append(d.qpos.copy())
    return np.array(qs), d.qvel.copy()
