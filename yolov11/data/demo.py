"""A procedurally drawn, deterministic hard-hat dataset that ships with the app.

Workers stand on varied site backgrounds (sky and ground, concrete, brick, scaffolding) among
distractors (crates, cones, pipes). Each worker's head is labelled ``helmet`` (wearing a hard
hat) or ``head`` (bare), and a high-visibility vest is labelled ``vest``: the classes of the
public hard-hat datasets. Same seed, same pixels and labels on every machine; a few hundred
320x320 images are drawn in seconds, and yolov11n learns them on a CPU in minutes
(bench/demo_learnability.py measures it).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import yaml
from PIL import Image, ImageDraw, ImageFilter

from yolov11.workspace import Workspace

DEMO_NAME = "demo-hardhat"
CLASSES = ["helmet", "head", "vest"]
HELMET_COLOURS = [(242, 201, 24), (240, 240, 236), (250, 122, 24), (206, 34, 34), (34, 84, 204)]
VEST_COLOURS = [(206, 255, 44), (255, 142, 0)]
SKIN = [(255, 224, 189), (241, 194, 125), (198, 134, 66), (141, 85, 36)]
SHIRTS = [(40, 60, 140), (90, 90, 96), (230, 230, 230), (120, 30, 40), (40, 100, 60), (30, 30, 34)]
HAIR = [(30, 24, 20), (90, 60, 30), (160, 140, 110), (20, 20, 20)]


def _background(rng: np.random.Generator, size: int) -> Image.Image:
    kind = rng.integers(4)
    if kind == 0:  # sky over ground
        horizon = int(size * rng.uniform(0.3, 0.6))
        sky = np.linspace(rng.uniform(150, 210), rng.uniform(200, 250), horizon)[:, None]
        arr = np.zeros((size, size, 3), np.float32)
        arr[:horizon] = np.stack([sky * 0.6, sky * 0.8, sky], -1)
        arr[horizon:] = rng.uniform(70, 150, 3) * np.array([1.0, 0.85, 0.65])
    else:  # textured surface: concrete, brick or scaffold bars on a wall
        base = rng.uniform(90, 190, 3)
        noise = rng.normal(0, 1, (size // 16, size // 16))
        noise = np.kron(noise, np.ones((16, 16)))[:size, :size, None] * rng.uniform(5, 20)
        arr = np.broadcast_to(base, (size, size, 3)) + noise
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    if kind == 2:  # brick courses
        h = int(rng.integers(10, 20))
        for y in range(0, size, h):
            for x in range(-(y // h % 2) * h, size, 2 * h):
                tone = tuple(int(v) for v in rng.uniform([120, 40, 30], [180, 80, 60]))
                draw.rectangle([x + 1, y + 1, x + 2 * h - 1, y + h - 1], fill=tone)
    elif kind == 3:  # scaffolding
        for _ in range(int(rng.integers(3, 7))):
            x = int(rng.integers(size))
            draw.line([x, 0, x, size], fill=(150, 150, 155), width=int(rng.integers(3, 7)))
        for _ in range(int(rng.integers(2, 5))):
            y = int(rng.integers(size))
            draw.line([0, y, size, y], fill=(140, 140, 146), width=int(rng.integers(3, 6)))
    return img


def _distractors(draw: ImageDraw.ImageDraw, rng: np.random.Generator, size: int) -> None:
    for _ in range(int(rng.integers(0, 4))):
        x, y, s = (int(v) for v in rng.integers([0, size // 3, 12], [size, size, 40]))
        kind = rng.integers(3)
        if kind == 0:  # crate
            draw.rectangle([x, y, x + s, y + int(s * 0.8)], fill=(140, 100, 60), outline=(90, 60, 30), width=2)
        elif kind == 1:  # traffic cone
            draw.polygon([(x, y + s), (x + s // 2, y), (x + s, y + s)], fill=(235, 90, 30))
            draw.rectangle([x + s // 4, y + s // 2, x + 3 * s // 4, y + s // 2 + 3], fill=(240, 240, 240))
        else:  # pipe
            draw.line([x, y, x + 3 * s, y + int(rng.integers(-10, 10))], fill=(110, 110, 120), width=max(3, s // 5))


def _worker(draw: ImageDraw.ImageDraw, rng: np.random.Generator, cx: float, top: float, height: float) -> list[tuple]:
    """Draw one worker; returns (class, x1, y1, x2, y2) boxes in pixels."""
    r = height * 0.09
    boxes = []
    torso_top, torso_h, torso_w = top + 2.3 * r, 0.36 * height, 0.30 * height
    legs_top = torso_top + torso_h
    leg_colour = tuple(int(v) for v in rng.integers(10, 70, 3))
    draw.rectangle([cx - torso_w * 0.45, legs_top, cx - torso_w * 0.05, top + height], fill=leg_colour)
    draw.rectangle([cx + torso_w * 0.05, legs_top, cx + torso_w * 0.45, top + height], fill=leg_colour)
    shirt = SHIRTS[rng.integers(len(SHIRTS))]
    arm_w = max(2, int(r * 0.6))
    for side in (-1, 1):
        draw.line([cx + side * torso_w / 2, torso_top + r * 0.5, cx + side * (torso_w / 2 + r * 0.8), legs_top], fill=shirt, width=arm_w)
    draw.rectangle([cx - torso_w / 2, torso_top, cx + torso_w / 2, legs_top], fill=shirt)
    if rng.random() < 0.55:
        vest = VEST_COLOURS[rng.integers(len(VEST_COLOURS))]
        draw.rectangle([cx - torso_w / 2, torso_top, cx + torso_w / 2, legs_top - torso_h * 0.08], fill=vest)
        draw.polygon([(cx - torso_w * 0.15, torso_top), (cx, torso_top + torso_h * 0.35), (cx + torso_w * 0.15, torso_top)], fill=shirt)
        for frac in (0.55, 0.75):
            y = torso_top + torso_h * frac
            draw.rectangle([cx - torso_w / 2, y, cx + torso_w / 2, y + max(2, torso_h * 0.06)], fill=(215, 215, 220))
        boxes.append((2, cx - torso_w / 2, torso_top, cx + torso_w / 2, legs_top - torso_h * 0.08))
    head_cy = top + r * 1.2
    draw.rectangle([cx - r * 0.35, head_cy + r * 0.8, cx + r * 0.35, torso_top + 1], fill=SKIN[rng.integers(len(SKIN))])
    skin = SKIN[rng.integers(len(SKIN))]
    draw.ellipse([cx - r, head_cy - r, cx + r, head_cy + r * 1.1], fill=skin)
    eye = max(1, r * 0.12)
    for side in (-1, 1):
        draw.ellipse([cx + side * r * 0.4 - eye, head_cy - eye, cx + side * r * 0.4 + eye, head_cy + eye], fill=(30, 30, 30))
    if rng.random() < 0.6:
        colour = HELMET_COLOURS[rng.integers(len(HELMET_COLOURS))]
        draw.pieslice([cx - 1.15 * r, head_cy - 1.45 * r, cx + 1.15 * r, head_cy + 0.55 * r], 180, 360, fill=colour)
        draw.rectangle([cx - 1.35 * r, head_cy - 0.5 * r, cx + 1.35 * r, head_cy - 0.3 * r], fill=colour)
        boxes.append((0, cx - 1.35 * r, head_cy - 1.45 * r, cx + 1.35 * r, head_cy + 1.1 * r))
    else:
        draw.chord([cx - r, head_cy - r * 1.05, cx + r, head_cy + r * 0.6], 180, 360, fill=HAIR[rng.integers(len(HAIR))])
        boxes.append((1, cx - r, head_cy - r * 1.05, cx + r, head_cy + r * 1.1))
    return boxes


def draw_image(seed: int, index: int, size: int = 320) -> tuple[Image.Image, np.ndarray]:
    """One demo image and its labels as (n, 5) rows of class, cx, cy, w, h (normalised)."""
    rng = np.random.default_rng([seed, index])
    img = _background(rng, size)
    draw = ImageDraw.Draw(img)
    _distractors(draw, rng, size)
    n = int(rng.integers(1, 5))
    slots = rng.permutation(4)[:n]
    boxes = []
    for slot in sorted(slots, key=lambda s: rng.random()):
        height = size * rng.uniform(0.3, 0.75)
        cx = (slot + 0.5) * size / 4 + rng.uniform(-0.08, 0.08) * size
        top = rng.uniform(0.02 * size, size - height * 0.8)
        boxes += _worker(draw, rng, cx, top, height)
    if rng.random() < 0.3:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 1.2)))
    arr = np.asarray(img, np.float32) * rng.uniform(0.7, 1.2) + rng.normal(0, 4, (size, size, 3))
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    rows = [(c, (x1 + x2) / 2 / size, (y1 + y2) / 2 / size, (x2 - x1) / size, (y2 - y1) / size)
            for c, x1, y1, x2, y2 in visible_boxes(boxes, size)]
    return img, np.array(rows, np.float32).reshape(-1, 5)


def visible_boxes(boxes: list[tuple], size: int) -> list[tuple]:
    """(class, x1, y1, x2, y2) boxes clipped to a ``size`` square image, those over 2 px each way."""
    kept = []
    for c, x1, y1, x2, y2 in boxes:
        x1, y1, x2, y2 = (float(np.clip(v, 0, size)) for v in (x1, y1, x2, y2))
        if x2 - x1 > 2 and y2 - y1 > 2:
            kept.append((c, x1, y1, x2, y2))
    return kept


def write_demo(dest: Path, n_images: int = 300, size: int = 320, seed: int = 0, val_fraction: float = 0.2) -> Path:
    """Write the demo set in Ultralytics layout under ``dest``; returns its data.yaml."""
    dest = Path(dest)
    n_val = int(round(n_images * val_fraction))
    for i in range(n_images):
        split = "val" if i < n_val else "train"
        img, rows = draw_image(seed, i, size)
        (dest / "images" / split).mkdir(parents=True, exist_ok=True)
        (dest / "labels" / split).mkdir(parents=True, exist_ok=True)
        img.save(dest / "images" / split / f"site_{i:04d}.jpg", quality=90)
        (dest / "labels" / split / f"site_{i:04d}.txt").write_text(
            "".join(f"{int(r[0])} {r[1]:.6f} {r[2]:.6f} {r[3]:.6f} {r[4]:.6f}\n" for r in rows)
        )
    data = {"names": dict(enumerate(CLASSES)), "nc": len(CLASSES), "train": "images/train", "val": "images/val"}
    (dest / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return dest / "data.yaml"


def write_demo_starved(dest: Path, starve: str = "head", keep: int = 10, n_train: int = 120, n_val: int = 40, size: int = 160,
                       seed: int = 7, left_out: Path | None = None) -> int:
    """The demo set with class ``starve`` left with ``keep`` train boxes: train images are drawn in
    order and one that would take that class past ``keep`` is skipped (into ``left_out``, a YOLO
    folder of its own, when given: what "label more of it" adds back); val is drawn as it comes.
    For the advice bench and tests. Returns the train boxes of ``starve`` (at most ``keep``)."""
    dest, starved = Path(dest), CLASSES.index(starve)
    counts, kept = {"train": 0, "val": 0}, 0
    for index in range(20 * (n_train + n_val)):
        split = "val" if index % 5 == 0 else "train"
        if counts[split] >= (n_train if split == "train" else n_val):
            if all(counts[k] >= n for k, n in (("train", n_train), ("val", n_val))):
                break
            continue
        img, rows = draw_image(seed, index, size)
        n = sum(int(r[0]) == starved for r in rows)
        where = dest
        if split == "train" and n and kept + n > keep:
            if left_out is None:
                continue
            where, split = Path(left_out), "train"
        else:
            kept += n if split == "train" else 0
            counts[split] += 1
        for sub in ("images", "labels"):
            (where / sub / split).mkdir(parents=True, exist_ok=True)
        img.save(where / "images" / split / f"s{index}.png")
        (where / "labels" / split / f"s{index}.txt").write_text("".join(f"{int(r[0])} {r[1]:.6f} {r[2]:.6f} {r[3]:.6f} {r[4]:.6f}\n"
                                                                         for r in rows))
    (dest / "data.yaml").write_text(yaml.safe_dump({"names": dict(enumerate(CLASSES)), "nc": len(CLASSES), "train": "images/train",
                                                    "val": "images/val"}, sort_keys=False))
    return kept


def ensure_demo_dataset(workspace: Workspace | str | Path | None = None, n_images: int = 300) -> dict:
    """Generate and import the demo set unless the workspace already has it; returns its report."""
    from yolov11.data.importer import import_dataset

    ws = Workspace.at(workspace)
    record = ws.dataset(DEMO_NAME)
    if record and (Path(record["path"]) / "data.yaml").is_file():
        return json.loads((Path(record["path"]) / "report.json").read_text())
    with tempfile.TemporaryDirectory(dir=ws.datasets_dir, prefix=".demo-") as tmp:
        write_demo(Path(tmp) / DEMO_NAME, n_images=n_images)
        report = import_dataset(Path(tmp) / DEMO_NAME, name=DEMO_NAME, workspace=ws)
    ws.set_origin(DEMO_NAME, {"demo": True, "options": {"n_images": n_images}})  # regenerated, not read back from a temp folder
    return report
