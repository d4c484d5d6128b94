"""Run ``demos.lnn`` on a machine without Warp (the GPU machine): diffsim is replaced by stand-ins that the
demo's training path never calls; its evaluation gets the test set computed with diffsim elsewhere (a file)
and a plain torch RK4 on diffsim's fixed grid (checked against diffsim.ode.odeint on the CPU beforehand)."""
import sys
import types

import numpy as np
import torch

TEST_SET = sys.argv[1]


def _missing(name):
    def f(*a, **k):
        raise RuntimeError(f"{name} needs Warp, absent here")
    return f


def rk4_odeint(func, y0, t, method="rk4", step_size=None, **_):
    assert method == "rk4"
    t = np.asarray(t.cpu() if isinstance(t, torch.Tensor) else t, dtype=np.float64)
    y, out = y0, [y0]
    for t0, t1 in zip(t[:-1], t[1:]):
        n = 1 if step_size is None else max(1, int(np.ceil((t1 - t0) / step_size - 1e-9)))
        h = (t1 - t0) / n
        for k in range(n):
            tk = t0 + k * h
            k1 = func(tk, y)
            k2 = func(tk + 0.5 * h, y + (0.5 * h) * k1)
            k3 = func(tk + 0.5 * h, y + (0.5 * h) * k2)
            k4 = func(tk + h, y + h * k3)
            y = y + h * ((1 / 6) * k1 + (1 / 3) * k2 + (1 / 3) * k3 + (1 / 6) * k4)
        out.append(y)
    return torch.stack(out)


if "--cpu-check" not in sys.argv:
    sys.modules["warp"] = None  # importing it fails loudly
    def stub(name):
        m = types.ModuleType(name)
        m.__path__ = []
        def getattr_(attr):
            if attr.startswith("__"):
                raise AttributeError(attr)
            return _missing(f"{name}.{attr}")
        m.__getattr__ = getattr_
        sys.modules[name] = m
        return m
    diffsim = stub("diffsim")
    for sub in ("ode", "ode.fields", "parallel", "runtime", "bridge"):
        stub(f"diffsim.{sub}")
    diffsim.ode, diffsim.parallel = sys.modules["diffsim.ode"], sys.modules["diffsim.parallel"]
    diffsim.ode.fields = sys.modules["diffsim.ode.fields"]
    diffsim.ode.odeint = rk4_odeint


saved = torch.load(TEST_SET, weights_only=True)
data_test_set = lambda seed=0, n=40, t_end=100.0, fps=10: saved  # noqa: E731

from demos import lnn  # noqa: E402

if "--cpu-check" in sys.argv:  # the stand-in RK4 against diffsim's own, on a small model
    from diffsim.ode import odeint
    torch.manual_seed(0)
    m = lnn.LNN(dof=2, hidden=32, layers=3, periodic=[True, True], kinetic_prior=1.0)
    y0, t = saved["ys"][:, 0], saved["t"][:51]
    with torch.no_grad():
        a, b = odeint(m, y0, t, method="rk4", step_size=0.01), rk4_odeint(m, y0, t, step_size=0.01)
    print("stand-in RK4 vs diffsim.ode.odeint, max abs diff:", float((a - b).abs().max()))
    sys.exit()
lnn.double_pendulum_test_set = data_test_set
lnn.main(sys.argv[2:])
