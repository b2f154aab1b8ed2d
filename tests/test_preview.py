"""Dataset previews: stored labels drawn on images, and the trainer's augmentations plotted.

Real Ultralytics throughout, on a 12-image demo set at 96 px (imgsz 64 keeps it fast).
"""

from __future__ import annotations

import random
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from yolov11.data.demo import CLASSES, write_demo
from yolov11.data.preview import augmentation_preview, draw_samples
from yolov11.errors import UserError


@pytest.fixture
def ds(tmp_path) -> Path:
    write_demo(tmp_path / "ds", n_images=12, size=96)
    return tmp_path / "ds"


def _label_rows(ds: Path, image: Path) -> np.ndarray:
    label = ds / "labels" / image.parent.name / f"{image.stem}.txt"
    return np.loadtxt(label, ndmin=2).reshape(-1, 5) if label.is_file() else np.zeros((0, 5))


def _expected_caption(image: Path, rows: np.ndarray, names: list[str]) -> str:
    if not len(rows):
        return f"{image.name} · no boxes"
    counts = Counter(int(c) for c in rows[:, 0])
    parts = ", ".join(f"{names[c]}×{counts[c]}" for c in sorted(counts))
    return f"{image.name} · {len(rows)} box{'es' if len(rows) != 1 else ''}: {parts}"


def _pixels(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), np.int16)


def test_draw_samples_one_jpeg_per_image_with_label_counts(ds, tmp_path):
    images = sorted((ds / "images" / "train").glob("*.jpg"))[:4] + sorted((ds / "images" / "val").glob("*.jpg"))[:2]
    out = draw_samples(ds, images, tmp_path / "out")

    assert len(out) == len(images)
    assert len({path for path, _ in out}) == len(images)  # no two samples share a file
    for image, (path, caption) in zip(images, out):
        assert Path(path).parent == tmp_path / "out"
        with Image.open(path) as im:
            assert im.format == "JPEG"
            assert im.size == (96, 96)
        assert caption == _expected_caption(image, _label_rows(ds, image), CLASSES)
    assert any(len(_label_rows(ds, im)) > 1 for im in images)  # the demo set gives multi-box captions


def test_draw_samples_uses_given_names(ds, tmp_path):
    image = next(im for im in sorted((ds / "images" / "train").glob("*.jpg")) if len(_label_rows(ds, im)))
    names = ["hat", "bare", "hi-vis"]
    [(_, caption)] = draw_samples(ds, [image], tmp_path / "out", names=names)
    assert caption == _expected_caption(image, _label_rows(ds, image), names)


def test_drawn_box_changes_the_pixels_on_its_outline_only(ds, tmp_path):
    # A flat grey 200 px image with one known box (x 60..140, y 80..160) shows exactly where ink goes.
    Image.new("RGB", (200, 200), (128, 128, 128)).save(ds / "images" / "train" / "flat.png")
    (ds / "labels" / "train" / "flat.txt").write_text("0 0.5 0.6 0.4 0.4\n")
    [(path, caption)] = draw_samples(ds, [ds / "images" / "train" / "flat.png"], tmp_path / "out", line_width=2)
    assert caption == "flat.png · 1 box: helmet×1"
    ink = np.abs(_pixels(path) - 128).max(2)  # how far each pixel moved from the grey

    assert ink[100:150, 59:62].mean() > 40  # left edge, below the name tag
    assert ink[100:150, 138:141].mean() > 40  # right edge
    assert ink[158:161, 70:130].mean() > 40  # bottom edge
    assert ink[95:145, 75:125].max() < 12  # inside the box: untouched (JPEG noise only)
    assert ink[170:, :].max() < 12
    assert ink[:, :45].max() < 12  # outside, away from box and tag
    assert ink[60:80, 60:140].mean() > 40  # the name tag sits on top of the box

    from ultralytics.utils.plotting import colors  # imported after draw_samples ran offline.prepare()

    edge_colour = np.median(_pixels(path)[100:150, 60], axis=0)
    assert np.abs(edge_colour - np.array(colors(0))).max() < 30  # Ultralytics' blue for class 0, as RGB


def test_draw_samples_background_grayscale_and_rgba_images(ds, tmp_path):
    src = sorted((ds / "images" / "train").glob("*.jpg"))[0]
    train, val = ds / "images" / "train", ds / "images" / "val"
    with Image.open(src) as im:
        im.convert("RGBA").save(train / "no_label.png")  # a background: no label file at all
        im.convert("RGBA").save(val / "empty.png")  # a background: an empty label file
        im.convert("L").save(train / "gray.png")  # 8-bit grey, with the source's labels
        luma = np.asarray(im.convert("L"))
    Image.fromarray(luma.astype(np.uint16) * 257).save(val / "deep.png")  # 16-bit grey, no labels
    (ds / "labels" / "val" / "empty.txt").write_text("")
    shutil.copy(ds / "labels" / "train" / f"{src.stem}.txt", ds / "labels" / "train" / "gray.txt")

    out = draw_samples(ds, [train / "no_label.png", train / "gray.png", val / "empty.png", val / "deep.png"], tmp_path / "out")

    gray_caption = _expected_caption(train / "gray.png", _label_rows(ds, src), CLASSES)
    assert [c for _, c in out] == ["no_label.png · no boxes", gray_caption, "empty.png · no boxes", "deep.png · no boxes"]
    for path, _ in out:
        with Image.open(path) as im:
            assert im.format == "JPEG"
            assert im.mode == "RGB"
            assert im.size == (96, 96)
    # Nothing drawn on a background: the copy is the source up to JPEG noise; 16-bit grey is
    # read as the trainer's cv2 reads it (high byte), not clipped to white.
    assert np.abs(_pixels(out[0][0]) - _pixels(src)).mean() < 4
    assert np.abs(_pixels(out[3][0])[..., 0] - luma).mean() < 4


def test_draw_samples_rejects_an_image_outside_the_dataset(ds, tmp_path):
    stray = tmp_path / "stray.jpg"
    shutil.copy(next((ds / "images" / "train").glob("*.jpg")), stray)
    with pytest.raises(UserError, match="not inside"):
        draw_samples(ds, [stray], tmp_path / "out")


def test_a_drawing_is_kept_while_what_it_shows_is_unchanged(ds, tmp_path):
    """The gallery's drawings are reused (a filter change or a second pick draws nothing), and a
    label that changed is drawn anew, never shown stale."""
    image = next(im for im in sorted((ds / "images" / "train").glob("*.jpg")) if len(_label_rows(ds, im)) > 1)
    [(first, _)] = draw_samples(ds, [image], tmp_path / "out")
    drawn_at = Path(first).stat().st_mtime_ns
    [(again, _)] = draw_samples(ds, [image], tmp_path / "out")
    assert again == first and Path(again).stat().st_mtime_ns == drawn_at  # the same file, not written again
    label = ds / "labels" / "train" / f"{image.stem}.txt"
    label.write_text(label.read_text().splitlines()[0] + "\n")  # one box left
    [(changed, caption)] = draw_samples(ds, [image], tmp_path / "out")
    assert changed != first and " · 1 box: " in caption
    assert np.abs(_pixels(changed) - _pixels(first)).max() > 40  # a box fewer is drawn


def test_the_box_table_is_read_again_when_the_dataset_changes(ds):
    """dataset_boxes is kept per dataset folder (every pick and filter change asks for it) until
    its report.json or a label folder changes."""
    from yolov11.data.stats import dataset_boxes

    (ds / "report.json").write_text("{}")
    first = dataset_boxes(ds)
    assert dataset_boxes(ds).equals(first)
    for label in (ds / "labels" / "val").glob("*.txt"):
        label.unlink()  # the folder changes: a version or an import writes new files
    assert set(dataset_boxes(ds)["split"]) == {"train"} and "val" in set(first["split"])


def test_the_box_table_reads_a_label_file_it_cannot_split_with_the_parser(ds):
    """A label file whose every line has 6 numbers (30 values: as many as six 5-number boxes) is
    no box list: the table's quick read hands it to the importer's parser, which names file:line."""
    from yolov11.data.stats import dataset_boxes

    label = next((ds / "labels" / "train").glob("*.txt"))
    label.write_text("0 0.5 0.5 0.1 0.1 0.9\n" * 5)
    with pytest.raises(UserError, match=rf"{label.name}:1: 6 columns"):
        dataset_boxes(ds)


def test_augmentation_preview_writes_a_grid_of_augmented_samples(ds, tmp_path):
    out = augmentation_preview(ds / "data.yaml", tmp_path / "aug" / "preview.jpg", imgsz=64, n=16, seed=0)

    assert out == tmp_path / "aug" / "preview.jpg"
    assert out.stat().st_size > 0
    with Image.open(out) as im:
        assert im.format == "JPEG"
        assert im.size == (4 * 64, 4 * 64)  # plot_images lays 16 samples out 4 by 4 at imgsz
        pixels = np.asarray(im.convert("RGB"))
    assert pixels.reshape(-1, 3).std(0).max() > 20  # real content, not one colour
    assert (ds / "labels" / "train.cache").is_file()  # Ultralytics' label cache, next to the labels


def test_augmentation_preview_is_deterministic_and_leaves_random_state(ds, tmp_path):
    yaml_path = ds / "data.yaml"
    random.seed(123)
    expected_next = random.random()
    random.seed(123)
    a = augmentation_preview(yaml_path, tmp_path / "a.png", imgsz=64, n=9, seed=7)
    assert random.random() == expected_next  # the caller's random stream is untouched
    b = augmentation_preview(yaml_path, tmp_path / "b.png", imgsz=64, n=9, seed=7)
    c = augmentation_preview(yaml_path, tmp_path / "c.png", imgsz=64, n=9, seed=8)

    assert np.array_equal(_pixels(a), _pixels(b))
    assert not np.array_equal(_pixels(a), _pixels(c))


def test_augmentation_settings_reach_the_dataset(ds, tmp_path):
    yaml_path = ds / "data.yaml"
    mosaic = augmentation_preview(yaml_path, tmp_path / "mosaic.png", imgsz=64, n=4, seed=0, mosaic=1.0)
    plain = augmentation_preview(yaml_path, tmp_path / "plain.png", imgsz=64, n=4, seed=0, mosaic=0.0)
    assert _pixels(mosaic).shape == _pixels(plain).shape == (128, 128, 3)
    assert not np.array_equal(_pixels(mosaic), _pixels(plain))
    with pytest.raises(UserError, match="not_an_augmentation"):
        augmentation_preview(yaml_path, tmp_path / "bad.png", imgsz=64, n=4, not_an_augmentation=1)
