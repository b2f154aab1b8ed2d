"""See a dataset before training on it: its labels drawn on images, and what the trainer's
augmentations make of them.

``draw_samples`` draws the stored YOLO labels on chosen images (a quick check that boxes sit
where they should), ``draw_pairs`` joins duplicate pairs side by side; ``augmentation_preview``
builds the training split the way Ultralytics' trainer does and plots a batch of augmented
samples (mosaic, HSV, flips, scale...), so the
effect of an augmentation setting is visible without starting a run. All drawing is
Ultralytics' own (Annotator, plot_images), so previews look like the trainer's plots.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from yolov11.boxes import cxcywh_to_xyxy
from yolov11.data.class_names import class_names
from yolov11.data.yolo_format import read_label_boxes
from yolov11.errors import UserError, os_error_text
from yolov11.workspace.paths import save_whole


def _yaml_names(dataset_dir: Path) -> dict[int, str]:
    """Class names from data.yaml, as {id: name}."""
    return dict(enumerate(class_names(dataset_dir)))


def _to_rgb(img: Image.Image) -> Image.Image:
    """An 8-bit RGB copy, upright as the trainer reads it.

    The trainer reads with cv2, which applies EXIF rotation, drops alpha (no compositing) and
    scales 16-bit images by 1/256; doing the same keeps labels aligned with what it sees.
    """
    img = ImageOps.exif_transpose(img)
    if img.mode in {"I", "I;16", "I;16B", "I;16L"}:  # 16-bit grey: keep the high byte, as cv2 does
        img = Image.fromarray(np.clip(np.asarray(img, np.int64) // 256, 0, 255).astype(np.uint8))
    elif img.mode == "F":  # float grey (TIFF): 0..1 or 0..255
        arr = np.asarray(img, np.float64)
        img = Image.fromarray(np.clip(arr * 255 if arr.max() <= 1 else arr, 0, 255).astype(np.uint8))
    return img.convert("RGB")


def _caption(image: Path, classes: np.ndarray, names: dict[int, str]) -> str:
    if not len(classes):
        return f"{image.name} · no boxes"
    counts = Counter(int(c) for c in classes)
    parts = ", ".join(f"{names.get(c, str(c))}×{k}" for c, k in sorted(counts.items()))
    return f"{image.name} · {len(classes)} box{'es' if len(classes) != 1 else ''}: {parts}"


def _drawing_key(*parts: object) -> str:
    """A short hash of what a drawing shows: the file name it is kept under."""
    return hashlib.sha1(repr(parts).encode()).hexdigest()[:12]


def draw_samples(
    dataset_dir: Path,
    images: list[Path],
    out_dir: Path,
    names: list[str] | None = None,
    line_width: int | None = None,
) -> list[tuple[str, str]]:
    """Draw each image's stored labels into ``out_dir``; returns (jpeg path, caption) pairs.

    ``images`` lie under ``dataset_dir/images/<split>/``; labels are read from the matching
    ``labels/<split>/<stem>.txt``. ``names`` default to data.yaml's; an id without a name is
    drawn as its number. Captions read like ``site_0003.jpg · 4 boxes: helmet×2, vest×2``.
    A drawing is named by what it shows (the image file's size and time, its boxes, the names):
    one already in ``out_dir`` is reused, not drawn again, so a gallery shown twice draws once.
    """
    dataset_dir = Path(dataset_dir).resolve()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    id_names = dict(enumerate(names)) if names is not None else _yaml_names(dataset_dir)
    example = str(list(id_names.values()))
    results = []
    for image in map(Path, images):
        try:
            rel = image.resolve().relative_to(dataset_dir / "images")
        except ValueError:
            raise UserError(f"{image}: not inside {dataset_dir / 'images'}") from None
        boxes = read_label_boxes(dataset_dir / "labels" / rel.with_suffix(".txt"))
        try:
            st = image.stat()
        except OSError as exc:
            raise UserError(f"{image}: cannot be read ({os_error_text(exc)})") from None
        key = _drawing_key(str(rel), st.st_mtime_ns, st.st_size, boxes.tobytes(), example, line_width)
        # The split goes into the file name: train/ and val/ may share a stem.
        dest = out_dir / f"{'_'.join((*rel.parent.parts, image.stem))}-{key}.jpg"
        if not dest.is_file():
            _draw_one(image, boxes, id_names, example, line_width, dest)
        results.append((str(dest), _caption(image, boxes[:, 0], id_names)))
    return results


def _draw_one(image: Path, boxes: np.ndarray, id_names: dict[int, str], example: str, line_width: int | None, dest: Path) -> None:
    from yolov11.compat import offline

    offline.prepare()  # Annotator may load a font: it must find the local one, not download it
    from yolov11.compat.plotting import class_color, draw_boxes

    with Image.open(image) as src:
        rgb = _to_rgb(src)
    w, h = rgb.size
    drawn = [
        (cxcywh_to_xyxy(cx, cy, bw, bh, w, h), id_names.get(int(c), str(int(c))), class_color(c))
        for c, cx, cy, bw, bh in boxes
    ]
    save_whole(dest, lambda path: draw_boxes(rgb, drawn, path, example=example, line_width=line_width))  # the gallery serves what it finds


PAIR_HEIGHT = 240  # each image of a pair is scaled to this height, so the two sit side by side


def draw_pairs(dataset_dir: Path, pairs: list[list[str]], out_dir: Path, limit: int = 24) -> list[tuple[str, str]]:
    """Each pair of images (paths relative to ``dataset_dir``, as report.json's duplicates list
    them) drawn with its labels and joined side by side into one JPEG; returns (path, caption)
    pairs, captioned with both file names. An exact-copy group of three or more gives a pair for
    each copy after the first. At most ``limit`` pairs are drawn."""
    dataset_dir, out_dir = Path(dataset_dir), Path(out_dir)
    flat = [(group[0], other) for group in pairs for other in group[1:]][:limit]
    results = []
    for a, b in flat:
        drawn = draw_samples(dataset_dir, [dataset_dir / a, dataset_dir / b], out_dir / "parts")
        dest = out_dir / f"pair-{_drawing_key(*(Path(path).name for path, _ in drawn))}.jpg"  # the parts are named by what they show
        if not dest.is_file():
            save_whole(dest, lambda path, drawn=drawn: _join([p for p, _ in drawn]).save(path, quality=90))
        results.append((str(dest), f"{a} ↔ {b}"))
    return results


def _join(parts: list[str]) -> Image.Image:
    """Two drawings scaled to PAIR_HEIGHT, side by side with a white gap."""
    tiles = []
    for path in parts:
        with Image.open(path) as im:
            tiles.append(im.convert("RGB").resize((max(1, round(im.width * PAIR_HEIGHT / im.height)), PAIR_HEIGHT)))
    gap = 8
    joined = Image.new("RGB", (tiles[0].width + gap + tiles[1].width, PAIR_HEIGHT), "white")
    joined.paste(tiles[0], (0, 0))
    joined.paste(tiles[1], (tiles[0].width + gap, 0))
    return joined


def augmentation_preview(data_yaml: Path, out_path: Path, imgsz: int = 320, n: int = 16, seed: int = 0, **augment: Any) -> Path:
    """Plot ``n`` augmented training samples into ``out_path`` (a .jpg or .png grid); returns it.

    ``augment`` takes any Ultralytics train argument (mosaic, hsv_h, fliplr, scale, degrees...);
    the rest keep Ultralytics' defaults, so the grid shows what training would see. The same
    ``seed`` gives the same pixels; the caller's random state is left as it was.
    """
    from yolov11.compat import offline

    offline.prepare()
    import torch

    from yolov11.compat.plotting import plot_batch, training_config, training_samples

    if n < 1:
        raise UserError(f"n={n}: need at least one sample")
    out_path = Path(out_path)
    if out_path.suffix.lower() not in {".jpg", ".jpeg", ".png"}:
        raise UserError(f"{out_path}: the preview is written as .jpg or .png")
    try:  # as BaseTrainer._setup_train and get_dataset do, so sizes and names match a real run
        cfg = training_config(data_yaml, imgsz, augment)
    except (SyntaxError, TypeError, ValueError) as exc:  # unknown key or out-of-range value
        raise UserError(f"augmentation settings: {exc}") from None

    # Ultralytics' augmentations draw from the global random, numpy and torch generators, so
    # seed them all; restore them after, so a preview does not change the caller's randomness.
    saved = random.getstate(), np.random.get_state(), torch.get_rng_state()
    try:
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
        batch, names = training_samples(cfg, n)
    finally:
        random.setstate(saved[0])
        np.random.set_state(saved[1])
        torch.set_rng_state(saved[2])

    out_path.parent.mkdir(parents=True, exist_ok=True)
    plot_batch(batch, names, out_path, n)
    return out_path
