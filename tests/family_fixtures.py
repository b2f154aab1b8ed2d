"""Augmented families as a Roboflow export holds them: a few base photos, each seen 2-5 times
as augmented copies (flip, 90° turn, crop keeping 60-100 % of the area then resized back, ±30 %
brightness/contrast/saturation, a JPEG re-encode), named ``<stem>_jpg.rf.<32 hex>.jpg``.

Base photos look like photos at least a bit: half are demo-style site scenes (yolov11.data.demo
with other seeds: many objects, brick/concrete/scaffold/sky backgrounds), half are "outdoor"
scenes of a 1/f-noise terrain under a sky with textured objects, in landscape, portrait and
square sizes. Boxes (YOLO rows) are carried through every transform, so the sets also feed
import tests. ``write_families`` lays a set out as a Roboflow YOLO export and returns who is
whose sibling; the same seed gives the same files on every machine.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

from yolov11.data.demo import CLASSES, draw_image

SIZES = [(640, 480), (480, 640), (512, 512), (640, 360)]  # outdoor scenes: turns change width and height
MIN_AREA = 0.6  # crops keep 60-100 % of the area (the bound)
JITTER = 0.3  # brightness, contrast and saturation factors in 1 ± 0.3
MIN_VISIBLE = 0.3  # a box cut by a crop is kept while 30 % of it stays in view (Roboflow clips, then drops slivers)


@dataclass
class Photo:
    image: Image.Image
    boxes: np.ndarray  # (n, 5): class, cx, cy, w, h normalised
    ops: list[str] = field(default_factory=list)  # what was done to it, for messages


def _fractal(rng: np.random.Generator, h: int, w: int, beta: float) -> np.ndarray:
    """Noise with a 1/f^beta spectrum, scaled to 0..1: terrain, clouds, foliage-like."""
    fy, fx = np.fft.fftfreq(h)[:, None], np.fft.rfftfreq(w)[None, :]
    amp = 1.0 / np.maximum(np.hypot(fy, fx), 1.0 / max(h, w)) ** beta
    spec = amp * np.exp(2j * np.pi * rng.random(amp.shape))
    out = np.fft.irfft2(spec, s=(h, w))
    return (out - out.min()) / (np.ptp(out) + 1e-9)


def outdoor_photo(seed: int, index: int) -> Photo:
    """A sky over 1/f-noise ground with 4-14 textured objects (classes of the demo set)."""
    rng = np.random.default_rng([seed, index, 7])
    w, h = SIZES[int(rng.integers(len(SIZES)))]
    horizon = int(h * rng.uniform(0.15, 0.55))
    ground = _fractal(rng, h, w, rng.uniform(1.2, 2.0))[..., None]  # lower beta: more fine detail (gravel, grass)
    tint = _fractal(rng, h, w, 2.5)[..., None]  # slow changes of colour across the ground
    low, high, other = rng.uniform(20, 120, 3), rng.uniform(120, 240, 3), rng.uniform(40, 200, 3)
    arr = (low + (high - low) * ground) * (1 - 0.5 * tint) + other * 0.5 * tint
    sky_top, sky_low = rng.uniform([60, 100, 160], [140, 170, 250]), rng.uniform([170, 190, 200], [235, 240, 255])
    clouds = _fractal(rng, horizon, w, 2.2)[..., None] if horizon else np.zeros((0, w, 1))
    grad = np.linspace(0, 1, horizon)[:, None, None]
    arr[:horizon] = (sky_top + (sky_low - sky_top) * grad) * (1 - 0.4 * clouds) + 255 * 0.4 * clouds
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    rows = []
    for _ in range(int(rng.integers(4, 15))):
        bw, bh = (float(v) for v in rng.uniform([0.04, 0.04], [0.3, 0.35]) * (w, h))
        x, y = float(rng.uniform(0, w - bw)), float(rng.uniform(horizon * 0.5, h - bh))
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        cls = int(rng.integers(len(CLASSES)))
        if cls == 0:
            draw.ellipse([x, y, x + bw, y + bh], fill=colour, outline=(20, 20, 20), width=2)
        elif cls == 1:
            draw.polygon([(x, y + bh), (x + bw / 2, y), (x + bw, y + bh)], fill=colour)
        else:
            draw.rectangle([x, y, x + bw, y + bh], fill=colour)
            for k in range(int(rng.integers(1, 5))):  # stripes, windows: texture inside the object
                yy = y + bh * (k + 1) / 6
                draw.line([x, yy, x + bw, yy], fill=tuple(255 - c for c in colour), width=2)
        rows.append((cls, (x + bw / 2) / w, (y + bh / 2) / h, bw / w, bh / h))
    arr = np.asarray(img, np.float32) + rng.normal(0, 3, (h, w, 3))  # sensor noise
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    if rng.random() < 0.5:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0)))
    return Photo(img, np.array(rows, np.float32).reshape(-1, 5))


def base_photo(seed: int, index: int) -> Photo:
    """Even indices: a demo-style site scene (seeds far from the demo set's 0); odd: outdoor."""
    if index % 2 == 0:
        img, rows = draw_image(1000 + seed, index, int(np.random.default_rng([seed, index]).choice([320, 416, 640])))
        return Photo(img, rows)
    return outdoor_photo(seed, index)


# --- transforms: each returns the new image and its boxes ------------------------------------------


def dihedral(p: Photo, k: int) -> Photo:
    """k in 0..7: k % 4 quarter turns counter-clockwise, then a horizontal flip when k >= 4."""
    img, b = p.image, p.boxes.copy()
    for _ in range(k % 4):  # a CCW turn maps (x, y) -> (y, 1 - x)
        img = img.transpose(Image.Transpose.ROTATE_90)
        b = b[:, [0, 2, 1, 4, 3]]
        b[:, 2] = 1 - b[:, 2]
    if k >= 4:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        b[:, 1] = 1 - b[:, 1]
    return Photo(img, b, p.ops + [f"dihedral {k}"] if k else p.ops)


def crop(p: Photo, x0: float, y0: float, x1: float, y1: float) -> Photo:
    """Keep the normalised window (x0, y0)-(x1, y1), resized back to the photo's size."""
    w, h = p.image.size
    img = p.image.crop((round(x0 * w), round(y0 * h), round(x1 * w), round(y1 * h))).resize((w, h), Image.Resampling.BILINEAR)
    c, cx, cy, bw, bh = p.boxes.T
    bx0, bx1 = np.clip(cx - bw / 2, x0, x1), np.clip(cx + bw / 2, x0, x1)
    by0, by1 = np.clip(cy - bh / 2, y0, y1), np.clip(cy + bh / 2, y0, y1)
    visible = (bx1 - bx0) * (by1 - by0) / np.maximum(bw * bh, 1e-9)
    sx, sy = x1 - x0, y1 - y0
    rows = np.stack([c, ((bx0 + bx1) / 2 - x0) / sx, ((by0 + by1) / 2 - y0) / sy, (bx1 - bx0) / sx, (by1 - by0) / sy], 1)
    return Photo(img, rows[visible >= MIN_VISIBLE].astype(np.float32), p.ops + [f"crop {sx * sy:.0%}"])


def jitter(p: Photo, brightness: float, contrast: float, saturation: float) -> Photo:
    img = ImageEnhance.Brightness(p.image).enhance(brightness)
    img = ImageEnhance.Contrast(img).enhance(contrast)
    img = ImageEnhance.Color(img).enhance(saturation)
    return Photo(img, p.boxes, p.ops + [f"jitter {brightness:.2f}/{contrast:.2f}/{saturation:.2f}"])


def augment(p: Photo, rng: np.random.Generator, min_area: float = MIN_AREA, strength: float = JITTER) -> Photo:
    """One Roboflow-style augmented copy: a random one of the 8 flips/turns, a crop keeping
    ``min_area``..100 % of the area (aspect kept, as Roboflow's zoom does) and colour jitter."""
    out = dihedral(p, int(rng.integers(8)))
    side = float(np.sqrt(rng.uniform(min_area, 1.0)))
    x0, y0 = (float(v) for v in rng.uniform(0, 1 - side, 2))
    out = crop(out, x0, y0, x0 + side, y0 + side)
    return jitter(out, *(float(v) for v in rng.uniform(1 - strength, 1 + strength, 3)))


# --- names and the export --------------------------------------------------------------------------


def roboflow_name(stem: str, ext: str, salt: str) -> str:
    """``IMG_0012.jpg`` -> ``IMG_0012_jpg.rf.<32 hex>.jpg``, as Roboflow names its exports."""
    return f"{stem}_{ext}.rf.{hashlib.md5(f'{stem}/{salt}'.encode()).hexdigest()}.jpg"


@dataclass
class FamilySet:
    root: Path
    files: list[str]  # relative paths of the images, sorted
    family: dict[str, int]  # relative path -> index of its base photo
    split: dict[str, str]  # relative path -> "train" | "valid" | "test"

    def siblings(self) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        for f in self.files:
            out.setdefault(self.family[f], []).append(f)
        return out


def write_families(root: Path, n_families: int, seed: int = 0, names: bool = True, splits: dict[str, float] | None = None,
                   copies: tuple[int, int] = (2, 5), singles: int = 0, min_area: float = MIN_AREA) -> FamilySet:
    """A Roboflow YOLO export under ``root``: ``n_families`` base photos seen ``copies`` times
    each (augmented copies only, no original, as Roboflow exports them), plus ``singles``
    photos seen once. ``names=False`` gives every file a random name (the content test alone).
    ``splits`` ({"train": 0.7, "valid": 0.3}) puts each copy in a split drawn at random, so
    families cross splits as a careless split leaves them; default: train only."""
    rng = np.random.default_rng([seed, 21])
    splits = splits or {"train": 1.0}
    split_names, weights = list(splits), np.array(list(splits.values()), float) / sum(splits.values())
    fs = FamilySet(root, [], {}, {})
    for fam in range(n_families + singles):
        base = base_photo(seed, fam)
        n_copies = int(rng.integers(copies[0], copies[1] + 1)) if fam < n_families else 1
        stem = f"{['IMG', 'DSC', 'frame', 'site photo'][fam % 4]}_{fam:04d}"
        for k in range(n_copies):
            photo = augment(base, rng, min_area) if fam < n_families else base
            split = str(rng.choice(split_names, p=weights))
            if names:
                name = roboflow_name(stem, ["jpg", "jpeg", "png", "JPG"][fam % 4], f"{seed}/{k}")
            else:
                name = f"{hashlib.md5(f'{seed}/{fam}/{k}'.encode()).hexdigest()[:12]}.jpg"
            rel = f"{split}/images/{name}"
            (root / split / "images").mkdir(parents=True, exist_ok=True)
            (root / split / "labels").mkdir(parents=True, exist_ok=True)
            photo.image.save(root / rel, quality=int(rng.integers(75, 96)))
            (root / split / "labels" / (Path(name).stem + ".txt")).write_text(
                "".join(f"{int(c)} {x:.6f} {y:.6f} {w:.6f} {h:.6f}\n" for c, x, y, w, h in photo.boxes.tolist()))
            fs.files.append(rel)
            fs.family[rel], fs.split[rel] = fam, split
    data = {"names": CLASSES, "nc": len(CLASSES), **{("val" if s == "valid" else s): f"../{s}/images" for s in split_names}}
    (root / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    fs.files.sort()
    return fs
