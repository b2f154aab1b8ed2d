"""Shared by the video tests: a drawn two-class dataset a small model learns in seconds, the model
trained on it, and clips of those shapes moving across a background.

The shapes: a red square (``square``) and a blue disc (``disc``), large and high-contrast on a
grey, lightly textured background, so a yolov11n trained for a few epochs at 128 px finds every
one of them in every frame; the clip moves them slowly (a few pixels a frame) and far apart, so
ByteTrack keeps one track per shape from start to end.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

CLASSES = ["square", "disc"]
COLOURS = {"square": (214, 40, 40), "disc": (30, 70, 210)}
SIZE = 128  # the training images' side, and the model's imgsz
CLIP_W, CLIP_H = 160, 128  # the clip's frame: even sides, as H.264 in yuv420p needs
CLIP_FPS = 10
CLIP_SECONDS = 5
# (class, centre x at t=0, centre y, radius, pixels a frame along x): two squares in the top row
# 30 px apart, the disc in the bottom row 30 px below; all inside the frame for the whole clip
CLIP_OBJECTS = [("square", 24.0, 30.0, 18, 1.0), ("square", 90.0, 30.0, 18, 1.0), ("disc", 130.0, 96.0, 18, -1.2)]
EXPECTED = {"square": 2, "disc": 1}  # what the clip shows: the distinct objects per class


def _background(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    base = rng.uniform(110, 170)
    noise = np.kron(rng.normal(0, 6, (h // 8 + 1, w // 8 + 1)), np.ones((8, 8)))[:h, :w]
    arr = np.clip(base + noise, 0, 255)[..., None].repeat(3, -1)
    return Image.fromarray(arr.astype(np.uint8))


def _draw(draw: ImageDraw.ImageDraw, name: str, cx: float, cy: float, r: float) -> tuple[float, float, float, float]:
    box = (cx - r, cy - r, cx + r, cy + r)
    (draw.rectangle if name == "square" else draw.ellipse)(box, fill=COLOURS[name], outline=(20, 20, 20), width=1)
    return box


def draw_shapes(rng: np.random.Generator, w: int, h: int) -> tuple[Image.Image, list[tuple[int, tuple]]]:
    """A training image: 1 to 4 shapes of random class, size and place, not overlapping."""
    img = _background(rng, w, h)
    draw = ImageDraw.Draw(img)
    placed: list[tuple[int, tuple]] = []
    for _ in range(int(rng.integers(1, 5))):
        for _try in range(20):
            r = float(rng.uniform(10, 22))
            cx, cy = float(rng.uniform(r, w - r)), float(rng.uniform(r, h - r))
            if all(abs(cx - (b[0] + b[2]) / 2) > r + (b[2] - b[0]) / 2 + 2 or abs(cy - (b[1] + b[3]) / 2) > r + (b[3] - b[1]) / 2 + 2 for _, b in placed):
                c = int(rng.integers(len(CLASSES)))
                placed.append((c, _draw(draw, CLASSES[c], cx, cy, r)))
                break
    return img, placed


def write_shapes_dataset(dest: Path, n_images: int = 48, n_val: int = 12, seed: int = 3) -> Path:
    """The shapes dataset in YOLO layout; returns its folder (import it with yolov11.import_dataset)."""
    import yaml

    rng = np.random.default_rng(seed)
    for i in range(n_images):
        split = "val" if i < n_val else "train"
        img, placed = draw_shapes(rng, SIZE, SIZE)
        (dest / "images" / split).mkdir(parents=True, exist_ok=True)
        (dest / "labels" / split).mkdir(parents=True, exist_ok=True)
        img.save(dest / "images" / split / f"shape_{i:03d}.png")
        rows = [f"{c} {(b[0] + b[2]) / 2 / SIZE:.6f} {(b[1] + b[3]) / 2 / SIZE:.6f} {(b[2] - b[0]) / SIZE:.6f} {(b[3] - b[1]) / SIZE:.6f}\n" for c, b in placed]
        (dest / "labels" / split / f"shape_{i:03d}.txt").write_text("".join(rows))
    (dest / "data.yaml").write_text(yaml.safe_dump({"names": dict(enumerate(CLASSES)), "nc": len(CLASSES), "train": "images/train", "val": "images/val"}, sort_keys=False))
    return dest


TRAINING = {"epochs": 12, "imgsz": SIZE, "batch": 8, "mosaic": 0.0, "optimizer": "AdamW", "lr0": 0.005, "plots": False, "workers": 0, "seed": 0}
N_IMAGES, N_VAL = 112, 16


def train_shapes_model(base: Path, **overrides) -> dict:
    """A yolov11n really trained on the shapes (about 30 s on 2 CPU cores): {"workspace", "weights", "metrics"}."""
    import yolov11

    ws = yolov11.Workspace.at(base / "ws")
    data = yolov11.import_dataset(write_shapes_dataset(base / "shapes", N_IMAGES, N_VAL), name="shapes", workspace=ws)
    r = yolov11.train(data["name"], "yolov11n", workspace=ws, **{**TRAINING, **overrides})
    assert r["status"] == "done", r
    return {"workspace": ws, "weights": Path(r["weights"]), "metrics": r["metrics"]}


def clip_frames(seconds: float = CLIP_SECONDS, fps: int = CLIP_FPS, w: int = CLIP_W, h: int = CLIP_H, objects=CLIP_OBJECTS) -> list[np.ndarray]:
    """The clip's RGB frames: ``objects`` moving along x over one fixed background."""
    rng = np.random.default_rng(11)
    background = _background(rng, w, h)
    frames = []
    for i in range(int(round(seconds * fps))):
        img = background.copy()
        draw = ImageDraw.Draw(img)
        for name, x0, y, r, step in objects:
            _draw(draw, name, x0 + step * i, y, r)
        frames.append(np.asarray(img))
    return frames


def write_clip(dest: Path, frames: list[np.ndarray] | None = None, fps: int = CLIP_FPS, codec: str = "libx264") -> Path:
    """Encode ``frames`` (default: the clip) with PyAV (H.264 in .mp4/.mov, VP9 in .webm)."""
    import av

    frames = clip_frames() if frames is None else frames
    h, w = frames[0].shape[:2]
    with av.open(str(dest), "w") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.time_base = Fraction(1, fps)
        if codec == "libx264":
            stream.options = {"preset": "ultrafast", "crf": "18"}
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return dest

