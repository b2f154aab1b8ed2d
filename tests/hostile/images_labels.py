"""Hostile cases, groups B and C: images inside a valid YOLO dataset, and YOLO label lines."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from . import BASE_BOXES, BASE_IMAGES, GOOD_LINES, Ctx, add, both, boxes, image_bytes, images_total, imp, no_issue_naming, yolo_folder


# === B. images inside a valid YOLO dataset ===========================================================
def png_bomb(width: int = 20000, height: int = 20000) -> bytes:
    """A PNG whose header claims width x height; its IDAT is a few invalid bytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", b"\x00not zlib") + chunk(b"IEND", b""))


def _with_image(name: str, data: bytes, label: str = "0 0.5 0.5 0.2 0.2\n"):
    def build(ctx: Ctx) -> list[str]:
        return imp(yolo_folder(ctx, {f"images/train/{name}": data, f"labels/train/{Path(name).stem}.txt": label}))

    return build


def _gif() -> bytes:
    frames = [Image.fromarray(np.full((64, 64, 3), v, np.uint8)) for v in (40, 200)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buf.getvalue()


def _gif_check(report: dict, ctx: Ctx) -> None:
    root = Path(report["path"])
    pngs = list((root / "images").rglob("a.png"))
    assert pngs, f"a.gif should be imported as a.png, images are {sorted(p.name for p in (root / 'images').rglob('*.*'))}"
    assert Image.open(pngs[0]).format == "PNG"
    label = root / "labels" / pngs[0].parent.name / "a.txt"
    assert label.is_file(), f"a.png's label should hold its box: {label}"
    assert len(label.read_text().split()) == 5, f"a.png's label should hold its box: {label}"


def _truncated_check(report: dict, ctx: Ctx) -> None:
    found = list(Path(report["path"]).joinpath("images").rglob("a.jpg"))
    assert found, "the truncated a.jpg should be re-saved whole"
    assert found[0].read_bytes().endswith(b"\xff\xd9"), "the truncated a.jpg should be re-saved whole"


add("image-png-header-bomb", _with_image("a.png", png_bomb()), "imported", ("a.png", "400,000,000 pixels", "exceed the cap"),
    check=images_total(BASE_IMAGES), max_s=10)
add("image-truncated-jpeg", lambda c: _with_image("a.jpg", image_bytes(50)[: len(image_bytes(50)) * 2 // 3])(c), "imported",
    ("a.jpg", "truncated JPEG", "fixed"), check=both(images_total(BASE_IMAGES + 1), _truncated_check))
add("image-text-as-jpg", _with_image("a.jpg", b"Hello, I am not a JPEG at all.\n" * 10), "imported",
    ("a.jpg", "not an image file", "(skipped)"), check=images_total(BASE_IMAGES))
add("image-zero-bytes", _with_image("a.jpg", b""), "imported", ("a.jpg", "not an image file", "(skipped)"), check=images_total(BASE_IMAGES))
add("image-gif", _with_image("a.gif", _gif()), "imported", ("a.gif", "GIF image", "first frame imported as PNG"),
    check=both(images_total(BASE_IMAGES + 1), _gif_check))
add("image-heic", _with_image("a.heic", b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64)), "imported",
    ("a.heic", "not supported"), check=images_total(BASE_IMAGES))
add("image-png-named-jpg", _with_image("a.jpg", image_bytes(51, fmt="PNG")), "imported",
    check=both(images_total(BASE_IMAGES + 1), boxes(BASE_BOXES + 1), no_issue_naming("a.jpg")))


# === C. YOLO label lines =============================================================================
def _label(text: str | bytes):
    def build(ctx: Ctx) -> list[str]:
        return imp(yolo_folder(ctx, {"images/train/a.jpg": image_bytes(60), "labels/train/a.txt": text}))

    return build


def _line3(bad: str):
    return _label(GOOD_LINES + bad + "\n")


AT3 = "labels/train/a.txt:3"
add("label-non-numeric", _line3("zero 0.5 0.5 0.2 0.2"), "imported", (AT3, "not numbers"), check=boxes(BASE_BOXES + 2))
add("label-nan", _line3("0 nan 0.5 0.2 0.2"), "imported", f"{AT3}: NaN or infinite value (dropped)", check=boxes(BASE_BOXES + 2))
add("label-nan-class", _line3("NaN 0.5 0.5 0.2 0.2"), "imported", (AT3, "(dropped)"), check=boxes(BASE_BOXES + 2))
add("label-inf", _line3("0 0.5 inf 0.2 0.2"), "imported", f"{AT3}: NaN or infinite value (dropped)", check=boxes(BASE_BOXES + 2))
add("label-overflow-1e309", _line3("0 0.5 0.5 1e309 0.2"), "imported", (AT3, "NaN or infinite"), check=boxes(BASE_BOXES + 2))
add("label-negative-class", _line3("-1 0.5 0.5 0.2 0.2"), "imported", (AT3, "class id -1"), check=boxes(BASE_BOXES + 2))
add("label-fractional-class", _line3("1.5 0.5 0.5 0.2 0.2"), "imported", (AT3, "class id 1.5"), check=boxes(BASE_BOXES + 2))
add("label-class-ge-nc", _line3("3 0.5 0.5 0.2 0.2"), "imported", (AT3, "class id 3", "out of range"), check=boxes(BASE_BOXES + 2))
add("label-huge-class", _line3("99999999999999999999999 0.5 0.5 0.2 0.2"), "imported", (AT3, "out of range"), check=boxes(BASE_BOXES + 2))
add("label-4-columns", _line3("0 0.5 0.5 0.2"), "imported", (AT3, "4 columns"), check=boxes(BASE_BOXES + 2))
add("label-6-columns", _line3("0 0.5 0.5 0.2 0.2 0.9"), "imported", (AT3, "6 columns"), check=boxes(BASE_BOXES + 2))
add("label-coords-over-1", _line3("0 0.9 0.5 0.4 0.2"), "imported", (AT3, "outside 0..1", "fixed"), check=boxes(BASE_BOXES + 3))
add("label-box-outside", _line3("0 1.5 1.5 0.2 0.2"), "imported", (AT3, "entirely outside", "dropped"), check=boxes(BASE_BOXES + 2))
add("label-zero-width", _line3("0 0.5 0.5 0 0.2"), "imported", (AT3, "zero-area", "dropped"), check=boxes(BASE_BOXES + 2))
add("label-duplicate-lines", _label(GOOD_LINES + "2 0.7 0.7 0.1 0.1\n"), "imported", ("a.jpg", "duplicate box", "dropped"),
    check=boxes(BASE_BOXES + 2))
add("label-polygon-even-columns", _line3("0 0.1 0.1 0.5 0.1 0.5 0.5 0.1"), "imported", (AT3, "8 columns"), check=boxes(BASE_BOXES + 2))
add("label-polygon-odd-columns", _line3("0 0.1 0.1 0.5 0.1 0.5 0.5 0.1 0.5"), "imported",
    check=both(boxes(BASE_BOXES + 3), no_issue_naming("a.txt")))
add("label-utf8-bom", _label("\ufeff0 0.5 0.5 0.2 0.2\n".encode("utf-8")), "imported",
    check=both(boxes(BASE_BOXES + 1), no_issue_naming("a.txt")))
add("label-crlf", _label(b"0 0.5 0.5 0.2 0.2\r\n1 0.3 0.3 0.1 0.1\r\n"), "imported",
    check=both(boxes(BASE_BOXES + 2), no_issue_naming("a.txt")))
add("label-tabs", _label("0\t0.5\t0.5\t0.2\t0.2\n1\t0.3 0.3\t0.1 0.1\n"), "imported",
    check=both(boxes(BASE_BOXES + 2), no_issue_naming("a.txt")))
add("label-10mb-file", _label(b"0 0.5 0.5 0.2 0.2\n" * (10 * 2**20 // 18 + 1)), "imported", ("labels/train/a.txt", "label file of"),
    check=both(boxes(BASE_BOXES), images_total(BASE_IMAGES + 1)))
add("label-binary-garbage", _label(bytes(range(256)) * 4 + b"\x89PNG\r\n\x1a\n\xff\xfe\x00\x00"), "imported",
    ("labels/train/a.txt:", "not numbers"), check=boxes(BASE_BOXES))
add("label-empty-file", _label(b""), "imported", check=both(boxes(BASE_BOXES), images_total(BASE_IMAGES + 1)))
