"""Hostile cases, groups I and J: folder sources (symbolic links, missing paths), and import options."""

from __future__ import annotations

import json
import os
from pathlib import Path

from . import (
    BASE_IMAGES,
    CANARY_JPG,
    CANARY_TXT,
    CLASSES,
    SECRET,
    Ctx,
    add,
    case,
    image_bytes,
    images_total,
    imp,
    write_tree,
    yolo_files,
    yolo_folder,
    zip_tree,
)


# === I. folder sources ==============================================================================
def _secret_absent(report: dict, ctx: Ctx) -> None:
    assert SECRET not in json.dumps(report), "the canary's text reached the report"


@case("folder-label-symlink", "imported", "symbolic link(s) not followed", check=_secret_absent)
def _(ctx: Ctx) -> list[str]:
    root = yolo_folder(ctx, {"images/train/a.jpg": image_bytes(61)})
    os.symlink(ctx.tmp / CANARY_TXT, root / "labels" / "train" / "a.txt")
    return imp(root)


@case("folder-dir-symlink", "imported", "symbolic link(s) not followed", check=images_total(BASE_IMAGES))
def _(ctx: Ctx) -> list[str]:
    root = yolo_folder(ctx)
    os.symlink(ctx.tmp / "outside", root / "images" / "train" / "linked", target_is_directory=True)
    os.symlink(ctx.tmp / "outside", root / "labels" / "train" / "linked", target_is_directory=True)
    return imp(root)


@case("folder-image-symlink", "imported", "symbolic link(s) not followed", check=images_total(BASE_IMAGES))
def _(ctx: Ctx) -> list[str]:
    root = yolo_folder(ctx, {"labels/train/canary.txt": "0 0.5 0.5 0.2 0.2\n"})
    os.symlink(ctx.tmp / CANARY_JPG, root / "images" / "train" / "canary.jpg")
    return imp(root)


@case("folder-data-yaml-symlink", "either", check=_secret_absent)
def _(ctx: Ctx) -> list[str]:
    root = yolo_folder(ctx)
    (root / "data.yaml").unlink()
    (root / "classes.txt").write_text("\n".join(CLASSES) + "\n")
    os.symlink(ctx.tmp / CANARY_TXT, root / "data.yaml")
    return imp(root)


add("folder-missing", lambda c: imp(c.tmp / "nope"), "refused", "nope", "no such file")
add("folder-plain-file", lambda c: imp(write_tree(c.tmp, {"notes.txt": "just text\n"}) / "notes.txt"), "refused", "notes.txt",
    "expected a .zip")


# === J. import options ==============================================================================
add("name-300-chars", lambda c: imp(yolo_folder(c), "--name", "n" * 300), "refused", "--name")
add("name-with-slash", lambda c: imp(yolo_folder(c), "--name", "bad/name"), "refused", "--name")
add("name-dotdot", lambda c: imp(yolo_folder(c), "--name", ".."), "refused", "--name")
add("name-absolute", lambda c: imp(yolo_folder(c), "--name", str(c.tmp / "outside" / "x")), "refused", "--name")


def _flat(ctx: Ctx) -> Path:
    files: dict[str, bytes | str] = {}
    for k in range(5):
        files[f"images/f{k}.jpg"] = image_bytes(700 + k)
        files[f"labels/f{k}.txt"] = f"{k % 3} 0.5 0.5 0.2 0.2\n"
    files["classes.txt"] = "\n".join(CLASSES) + "\n"
    return write_tree(ctx.tmp / "flat", files)


add("val-fraction-2", lambda c: imp(_flat(c), "--val-fraction", "2"), "refused", "--val-fraction")
add("val-fraction-nan", lambda c: imp(_flat(c), "--val-fraction", "nan"), "refused", "--val-fraction")
add("val-fraction-negative", lambda c: imp(_flat(c), "--val-fraction", "-0.5"), "refused", "--val-fraction")


def _named(expected: str):
    def check(report: dict, ctx: Ctx) -> None:
        assert report["name"] == expected, f"name {report['name']!r}, expected {expected!r}"

    return check


add("zip-name-unicode-spaces", lambda c: imp(zip_tree(c.tmp / "Baustelle Übung (2).zip", yolo_files())), "imported",
    check=_named("Baustelle-Ubung-2"))
add("zip-name-only-non-ascii", lambda c: imp(zip_tree(c.tmp / "安全帽.zip", yolo_files())), "imported", check=_named("dataset"))
