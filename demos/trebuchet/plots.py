"""Figures of the trebuchet demo (matplotlib, Agg backend, written to files)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from diffsim.trebuchet import simulate  # noqa: E402


def learning_curve(curve, path, title):
    steps, mean, median = zip(*curve)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.semilogy(steps, mean, marker=".", label="mean")
    ax.semilogy(steps, median, marker=".", label="median")
    ax.set_xlabel("training step")
    ax.set_ylabel("|miss| on 256 held-out shots (m)")
    ax.legend()
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def miss_map(acc, path):
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    reach = acc["is_reachable"]
    sc = ax.scatter(acc["wind"][reach], acc["target"][reach], c=np.log10(acc["abs_miss"][reach] + 1e-4), s=8,
                    cmap="viridis", vmin=-3, vmax=1)
    ax.scatter(acc["wind"][~reach], acc["target"][~reach], marker="x", c="red", s=12, label="unreachable")
    fig.colorbar(sc, label="log10 |miss| (m)")
    ax.set_xlabel("wind (m/s, + = tailwind)")
    ax.set_ylabel("target distance (m)")
    ax.legend(loc="lower right")
    ax.set_title("aiming error over 1000 fresh shots")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def trajectories(net, shots, path):
    wind = torch.tensor([s[0] for s in shots], dtype=net.recipe.torch_dtype)
    target = torch.tensor([s[1] for s in shots], dtype=net.recipe.torch_dtype)
    with torch.no_grad():
        angle, mass = net(wind, target)
        dist, info = simulate(wind, angle, mass, model=net.recipe.model, return_info=True, record=True)
    fig, ax = plt.subplots(figsize=(8, 4))
    for i in range(len(shots)):
        p = info["path"][i].double().numpy()
        p = p[~np.isnan(p[:, 0])]
        line, = ax.plot(p[:, 0], p[:, 1] + 1.524, lw=1.2,
                        label=f"wind {float(wind[i]):+.1f} m/s, {np.degrees(float(angle[i])):.1f} deg, "
                              f"{float(mass[i]) / 0.45359237:.0f} lb -> miss {float(dist[i] - target[i]):+.2f} m")
        ax.plot([float(target[i])], [0.0], marker="v", color=line.get_color(), ms=9)
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set_xlabel("x from the pivot (m)")
    ax.set_ylabel("height above ground (m)")
    ax.set_title("shots aimed by the network (triangles: targets)")
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
