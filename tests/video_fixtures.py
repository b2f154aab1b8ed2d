"""Shared by the video tests: a drawn two-class dataset a small model learns in seconds, the model
trained on it, and clips of those shapes moving across a background; and hostile files built small
(frames that grow after the header, a file cut short inside a frame).

The shapes: a red square (``square``) and a blue disc (``disc``), large and high-contrast on a
grey, lightly textured background, so a yolov11n trained for a few epochs at 128 px finds every
one of them in every frame; the clip moves them slowly (a few pixels a frame) and far apart, so
ByteTrack keeps one track per shape from start to end.
"""

from __future__ import annotations

import io
import struct
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
# A "yard" clip for sliced tracking: the same shapes at their native size in a 640x384 frame, which
# one pass at the model's 128 px shrinks five times. At 128 px tiles overlapping by 25 px (24 tiles
# a frame), the second square always straddles a seam: no tile sees it whole.
WIDE_W, WIDE_H, WIDE_SECONDS = 640, 384, 2
WIDE_OBJECTS = [("square", 60.0, 70.0, 18, 2.0), ("square", 400.0, 220.0, 18, 2.0), ("disc", 560.0, 320.0, 18, -2.4)]


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
            if all(abs(cx - (b[0] + b[2]) / 2) > r + (b[2] - b[0]) / 2 + 2 or abs(cy - (b[1] + b[3]) / 2) > r + (b[3] - b[1]) / 2 + 2
                   for _, b in placed):
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
        rows = [f"{c} {(b[0] + b[2]) / 2 / SIZE:.6f} {(b[1] + b[3]) / 2 / SIZE:.6f} {(b[2] - b[0]) / SIZE:.6f} {(b[3] - b[1]) / SIZE:.6f}\n"
                for c, b in placed]
        (dest / "labels" / split / f"shape_{i:03d}.txt").write_text("".join(rows))
    (dest / "data.yaml").write_text(yaml.safe_dump({"names": dict(enumerate(CLASSES)), "nc": len(CLASSES), "train": "images/train",
                                                    "val": "images/val"}, sort_keys=False))
    return dest


TRAINING = {"epochs": 12, "imgsz": SIZE, "batch": 8, "mosaic": 0.0, "optimizer": "AdamW", "lr0": 0.005, "plots": False, "workers": 0,
            "seed": 0}
N_IMAGES, N_VAL = 112, 16


def train_shapes_model(base: Path, **overrides) -> dict:
    """A yolov11n really trained on the shapes (about 30 s on 2 CPU cores): {"workspace", "weights", "metrics"}."""
    import yolov11

    ws = yolov11.Workspace.at(base / "ws")
    data = yolov11.import_dataset(write_shapes_dataset(base / "shapes", N_IMAGES, N_VAL), name="shapes", workspace=ws)
    r = yolov11.train(data["name"], "yolov11n", workspace=ws, **{**TRAINING, **overrides})
    assert r["status"] == "done", r
    return {"workspace": ws, "weights": Path(r["weights"]), "metrics": r["metrics"]}


def clip_frames(seconds: float = CLIP_SECONDS, fps: int = CLIP_FPS, w: int = CLIP_W, h: int = CLIP_H,
                objects=CLIP_OBJECTS) -> list[np.ndarray]:
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


def write_clip(dest: Path, frames: list[np.ndarray] | None = None, fps: int = CLIP_FPS, codec: str = "libx264",
               faststart: bool = False) -> Path:
    """Encode ``frames`` (default: the clip) with PyAV (H.264 in .mp4/.mov, VP9 in .webm);
    ``faststart``: the index before the frames, as phones and the web write .mp4."""
    import av

    frames = clip_frames() if frames is None else frames
    h, w = frames[0].shape[:2]
    with av.open(str(dest), "w", options={"movflags": "+faststart"} if faststart else {}) as out:
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



def cut_inside_frame(src: Path, dest: Path, frame: int) -> Path:
    """``src`` cut short in the middle of frame ``frame``'s data (0-based), as a download or a copy
    that stopped; with the index first (faststart) the file still opens, promising every frame.
    The clip has no B-frames (libx264 ultrafast), so the frames before it decode whole."""
    import av

    with av.open(str(src)) as container:
        packets = [p for p in container.demux(container.streams.video[0]) if p.size]
    packet = sorted(packets, key=lambda p: p.pts)[frame]
    data = src.read_bytes()
    dest.write_bytes(data[: packet.pos + packet.size // 2])
    return dest


def _jpeg_segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def huge_gray_jpeg(side: int) -> bytes:
    """A valid grey ``side`` x ``side`` baseline JPEG of about side²/32 bytes: its Huffman tables
    give the 1-bit code 0 to "no change" (DC) and to "end of block" (AC), so each 8x8 block is
    two zero bits and the decoder really writes every pixel of the frame (a shorter scan ends in
    an error before the frame's memory is touched)."""
    one_code = bytes([1] + [0] * 15)  # one code of length 1
    return (
        b"\xff\xd8"
        + _jpeg_segment(0xDB, bytes([0]) + bytes([1] * 64))  # quantisation table 0: all ones
        + _jpeg_segment(0xC0, bytes([8]) + struct.pack(">HH", side, side) + bytes([1, 1, 0x11, 0]))  # one 8-bit component
        + _jpeg_segment(0xC4, bytes([0x00]) + one_code + bytes([0]) + bytes([0x10]) + one_code + bytes([0]))  # DC 0 and AC 0 tables
        + _jpeg_segment(0xDA, bytes([1, 1, 0x00, 0, 63, 0]))
        + bytes((side // 8) ** 2 // 4)  # 2 bits a block
        + b"\xff\xd9"
    )


def write_growing_frames(dest: Path, side: int = 16000, fps: int = 10) -> Path:
    """A .mov of Motion-JPEG frames whose header says 64x64: three 64x64 frames, then one of
    ``side`` x ``side`` (16000: a 256 MB grey frame, in a file of about 1 MB)."""
    import av
    from PIL import Image

    small = io.BytesIO()
    Image.new("RGB", (64, 64), (120, 30, 30)).save(small, "JPEG")
    frames = [small.getvalue()] * 3 + [huge_gray_jpeg(side)]
    with av.open(str(dest), "w") as out:
        stream = out.add_stream("mjpeg", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuvj420p"
        stream.time_base = Fraction(1, fps)
        for i, data in enumerate(frames):  # packets written as they are: the muxer does not look inside
            packet = av.Packet(data)
            packet.stream, packet.pts, packet.dts, packet.duration, packet.time_base = stream, i, i, 1, stream.time_base
            out.mux(packet)
    return dest
