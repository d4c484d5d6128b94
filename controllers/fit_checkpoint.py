"""The checkpoints of the supervised trainers (``controllers.dynamics.fit``, ``controllers.predictors.fit``).

A checkpoint holds the model, the optimizer, the step reached, the trainer's settings, the minibatch generator's
state and the logged history (float64 tensors), so that a run resumes bit for bit; it is written atomically and
read with ``torch.load(weights_only=True)``.
"""
from __future__ import annotations

from pathlib import Path

import torch


def save(path: Path, model, opt, step: int, history: dict, gen: torch.Generator, config: dict) -> None:
    """Write the checkpoint to ``path`` (through a temporary file: a run killed meanwhile keeps the last one)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step, "config": config,
                "history": {k: torch.tensor(v, dtype=torch.float64) for k, v in history.items()},
                "rng": gen.get_state()}, tmp)
    tmp.replace(path)


def restore(path: Path | None, config: dict, model, opt, gen: torch.Generator):
    """Load ``path`` into ``model``, ``opt`` and ``gen``; returns ``(step, history, seconds trained so far)``.
    Refuses a missing file and one written with other ``config`` settings (naming them)."""
    if path is None or not path.exists():
        raise FileNotFoundError(f"resume=True: no checkpoint at {path}")
    state = torch.load(path, weights_only=True)
    if state["config"] != config:
        diff = sorted(k for k in {*config, *state["config"]} if state["config"].get(k) != config.get(k))
        raise ValueError(f"resume=True: checkpoint {path} was trained with other settings: {diff}")
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    gen.set_state(state["rng"])
    history = {k: v.tolist() for k, v in state["history"].items()}
    return int(state["step"]), history, (history["seconds"][-1] if history["seconds"] else 0.0)
