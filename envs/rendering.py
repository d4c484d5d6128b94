"""Write frames (H, W, 3 uint8, from ``render_mode="rgb_array"``) as an animated GIF (Pillow)."""
from __future__ import annotations

from pathlib import Path


def write_gif(frames, path: Path, fps: int = 30) -> Path:
    from PIL import Image

    if not frames:
        raise ValueError("write_gif needs at least one frame")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=max(1, int(1000 / fps)), loop=0)
    return path
