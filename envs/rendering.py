"""Drawing the envs' ``rgb_array`` frames (H, W, 3 uint8) and writing them as an animated GIF (Pillow)."""
from __future__ import annotations

from pathlib import Path


def side_view(x: float, z: float, half_height: int = 4):
    """A 128-pixel side view of a body at ``(x, z)`` (m): a black marker ``2 half_height`` pixels tall, 20 pixels per
    metre across (wrapping) and 40 up from a grey ground line."""
    import numpy as np

    size = 128
    img = np.full((size, size, 3), 255, dtype=np.uint8)
    px, pz = int(size / 2 + 20 * x) % size, int(size - 10 - 40 * z)
    img[max(0, pz - half_height):max(0, pz + half_height), max(0, px - 2):px + 3] = (0, 0, 0)
    img[size - 10:size - 9] = (120, 120, 120)
    return img


def write_gif(frames, path: Path, fps: int = 30) -> Path:
    from PIL import Image

    if not frames:
        raise ValueError("write_gif needs at least one frame")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=max(1, int(1000 / fps)), loop=0)
    return path


def segment(img, a, b, color, width=0):
    """Draw a line from pixel ``a`` to ``b`` (x, y) on the square frame ``img``, ``2 width + 1`` pixels wide."""
    import numpy as np

    size = img.shape[0]
    for t in np.linspace(0.0, 1.0, 80):
        x, y = int(a[0] + t * (b[0] - a[0])), int(a[1] + t * (b[1] - a[1]))
        if 0 <= x < size and 0 <= y < size:
            img[max(0, y - width):y + width + 1, max(0, x - width):x + width + 1] = color


def two_link_frame(theta1: float, theta2: float, color=(77, 77, 204), size: int = 128, link: float = 28.0):
    """A 128x128 frame of two links hanging from the centre (angles from straight down, rad)."""
    import math

    import numpy as np

    img = np.full((size, size, 3), 255, dtype=np.uint8)
    c = size // 2
    p1 = (c + link * math.sin(theta1), c + link * math.cos(theta1))
    p2 = (p1[0] + link * math.sin(theta1 + theta2), p1[1] + link * math.cos(theta1 + theta2))
    segment(img, (c, c), p1, color, 1)
    segment(img, p1, p2, color, 1)
    return img


def cartpole_frame(x: float, theta: float, x_scale: float, size: int = 128, cart_y: int = 90, pole: float = 50.0):
    """A frame of a cart at ``x`` (m) with a pole at ``theta`` (rad from upright)."""
    import math

    import numpy as np

    img = np.full((size, size, 3), 255, dtype=np.uint8)
    cx = int(size / 2 + x * x_scale)
    img[cart_y:cart_y + 8, max(0, cx - 12):max(0, cx + 12)] = (0, 0, 0)
    segment(img, (cx, cart_y), (cx + pole * math.sin(theta), cart_y - pole * math.cos(theta)), (202, 152, 101), 1)
    return img
