"""Builders of hostile inputs for tests/test_hostile_inputs.py: the case record, the registry and
the materials the case groups share; the cases themselves live in this package's modules, one per
group (archives, images_labels, yaml_coco, xml_labelme, folders_options, commands). Importing the
package registers every case, in that order.

Each ``Case`` writes its input inside the case's own tmp folder (milliseconds to a second,
nothing large: the biggest is a 100 MiB-of-zeros zip member, a few hundred KB on disk) and
returns the CLI arguments that feed it to ``python -m yolov11`` (without ``--workspace`` and
``--json``, which the test adds). Next to the input lies ``outside/`` with canary files
(``make_outside``); path-escape cases aim at ``../outside/...``, so a reader or an extractor
that follows them would read or write a canary the test checks afterwards.

Expected outcomes:
  * ``refused``: exit 2, one ``error: ...`` line on stderr holding every ``fragments`` entry;
  * ``imported``: exit 0, the ``import --json`` report has, for every ``fragments`` entry, an
    issue holding it (a tuple: one issue holding all its strings), and ``check`` passes;
  * ``either``: exit 0 or a clean refusal (exit 2, one line); the other invariants still hold.
"""

from __future__ import annotations

import importlib
import io
import itertools
import json
import os
import shlex
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = ["helmet", "head", "vest"]
SECRET = "canary secret 7f3a9c"  # outside/canary.txt: must never show up in a report
CANARY_TXT = "outside/canary.txt"
CANARY_JPG = "outside/canary.jpg"
PWNED = "outside/pwned"  # what a payload that ran would create
ZIP_SLIP = "outside/x"  # what a zip-slip member would write
MODEL_YAML = Path(__file__).resolve().parents[2] / "yolov11" / "cfg" / "models" / "yolov11.yaml"


# --- the case record ----------------------------------------------------------------------------
@dataclass
class Ctx:
    """What a builder may use: its folder and the module's shared workspace."""

    tmp: Path  # the case's folder: outside/ (canaries) and the inputs it builds
    shared: Path | None = None  # the shared workspace root (tiny dataset, finished 1-epoch run)
    dataset: str = ""  # the tiny dataset's name there
    run: str = ""  # the finished 1-epoch run's id
    best: Path | None = None  # that run's best.pt


Fragment = str | tuple[str, ...]


@dataclass
class Case:
    id: str
    build: Callable[[Ctx], list[str]]
    expect: str  # "refused" | "imported" | "either"
    fragments: tuple[Fragment, ...] = ()
    check: Callable[[dict, Ctx], None] | None = None  # imported: extra checks of the report
    shared: bool = False  # run in the shared workspace (train, models, predict, ...)
    forbidden: tuple[str, ...] = (PWNED, ZIP_SLIP)  # paths (relative to tmp) that must not exist after
    argparse: bool = False  # refused by argparse: "python -m yolov11 ...: error: ..." (one line, exit 2)
    max_s: float = 30.0
    after: Callable[[Ctx], None] | None = None  # extra checks once the command returned


CASES: list[Case] = []


def case(id: str, expect: str, *fragments: Fragment, **kw):
    def deco(fn: Callable[[Ctx], list[str]]):
        CASES.append(Case(id, fn, expect, tuple(fragments), **kw))
        return fn

    return deco


def add(id: str, build: Callable[[Ctx], list[str]], expect: str, *fragments: Fragment, **kw) -> None:
    CASES.append(Case(id, build, expect, tuple(fragments), **kw))


def by_id() -> dict[str, Case]:
    ids = [c.id for c in CASES]
    dupes = {i for i in ids if ids.count(i) > 1}
    assert not dupes, f"case ids repeat: {dupes}"
    return {c.id: c for c in CASES}


# --- small materials ------------------------------------------------------------------------------
def image_bytes(seed: int, size: int = 64, fmt: str = "JPEG") -> bytes:
    """A 64x64 picture of 8x8 random blocks: distinct per seed (no accidental duplicates)."""
    rng = np.random.default_rng(seed)
    im = Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).resize((size, size), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    im.save(buf, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return buf.getvalue()


def make_outside(tmp: Path) -> None:
    """The canaries next to every case's input."""
    (tmp / "outside" / "sub").mkdir(parents=True, exist_ok=True)
    (tmp / CANARY_TXT).write_text(SECRET + "\n")
    (tmp / CANARY_JPG).write_bytes(image_bytes(999))
    (tmp / "outside" / "sub" / "nested.txt").write_text("canary\n")
    (tmp / "outside" / "canary.xml").write_text("<secret>" + SECRET + "</secret>\n")


def write_tree(root: Path, files: dict[str, bytes | str]) -> Path:
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data.encode() if isinstance(data, str) else data)
    return root


def zip_tree(path: Path, files: dict[str, bytes | str], prefix: str = "hats/", extra: list[tuple] = (),
             method: int = zipfile.ZIP_DEFLATED) -> Path:
    """A zip of ``files`` under ``prefix`` plus ``extra`` (name or ZipInfo, data) members as given."""
    with zipfile.ZipFile(path, "w", method) as zf:
        for rel, data in files.items():
            zf.writestr(prefix + rel, data)
        for name, data in extra:
            zf.writestr(name, data)
    return path


def patch_member(path: Path, name: str, local_off: int, central_off: int, fn: Callable[[int], int]) -> None:
    """Rewrite a 2-byte field of member ``name`` in its local header and central directory entry."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        local = zf.getinfo(name).header_offset
    assert data[local:local + 4] == b"PK\x03\x04"
    enc, central = name.encode(), -1
    i = data.find(b"PK\x01\x02")
    while i != -1:
        (n,) = struct.unpack_from("<H", data, i + 28)
        if data[i + 46:i + 46 + n] == enc:
            central = i
            break
        i = data.find(b"PK\x01\x02", i + 4)
    assert central >= 0, name
    for off in (local + local_off, central + central_off):
        (v,) = struct.unpack_from("<H", data, off)
        struct.pack_into("<H", data, off, fn(v))
    path.write_bytes(bytes(data))


# --- hostile materials more than one group uses -------------------------------------------------
def alias_bomb(key: str = "names") -> str:
    """9 levels of 10 aliases: 10^9 strings once expanded, 81 aliases, ~400 bytes."""
    levels = "abcdefghi"
    lines = ["a: &a [" + ", ".join(["x"] * 10) + "]"]
    lines += [f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 10) + "]" for prev, cur in itertools.pairwise(levels)]
    return "\n".join(lines + [f"{key}: *i"]) + "\n"


class Evil:
    """Pickles as a call of os.system: what a hostile .pt runs when loaded unrestricted."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def evil_pt(path: Path, target: Path) -> Path:
    import torch

    torch.save({"model": Evil(f"touch {shlex.quote(str(target))}"), "epoch": 0}, path)
    return path


# --- a small valid YOLO dataset (5 images, 5 boxes) -------------------------------------------------
BASE_BOXES = 5
BASE_IMAGES = 5
GOOD_LINES = "1 0.3 0.3 0.1 0.1\n2 0.7 0.7 0.1 0.1\n"  # lines 1-2 of labels/train/a.txt in label cases


def yolo_files(names: object = CLASSES, data_yaml: str | None = None) -> dict[str, bytes | str]:
    files: dict[str, bytes | str] = {}
    rows = {"train/t0": "0 0.5 0.5 0.2 0.2", "train/t1": "1 0.4 0.4 0.2 0.2", "train/t2": "2 0.6 0.6 0.2 0.2",
            "val/v0": "0 0.5 0.5 0.3 0.3", "val/v1": "1 0.5 0.5 0.3 0.3"}
    for k, (stem, row) in enumerate(rows.items()):
        files[f"images/{stem}.jpg"] = image_bytes(k)
        files[f"labels/{stem}.txt"] = row + "\n"
    files["data.yaml"] = data_yaml if data_yaml is not None else json.dumps({
        "names": names, "nc": len(names) if isinstance(names, list) else 0, "train": "images/train", "val": "images/val"}) + "\n"
    return files


def yolo_folder(ctx: Ctx, extra: dict[str, bytes | str] | None = None, name: str = "hats", **kw) -> Path:
    files = yolo_files(**kw)
    files.update(extra or {})
    return write_tree(ctx.tmp / name, files)


def imp(path: Path, *more: str) -> list[str]:
    return ["import", str(path), *more]


def boxes(n: int) -> Callable[[dict, Ctx], None]:
    def check(report: dict, ctx: Ctx) -> None:
        assert report["boxes"] == n, f"expected {n} boxes, the report has {report['boxes']}"

    return check


def images_total(n: int) -> Callable[[dict, Ctx], None]:
    def check(report: dict, ctx: Ctx) -> None:
        got = sum(report["images"].values())
        assert got == n, f"expected {n} images, the report has {report['images']}"

    return check


def both(*checks: Callable[[dict, Ctx], None]) -> Callable[[dict, Ctx], None]:
    def check(report: dict, ctx: Ctx) -> None:
        for c in checks:
            c(report, ctx)

    return check


def no_issue_naming(text: str) -> Callable[[dict, Ctx], None]:
    def check(report: dict, ctx: Ctx) -> None:
        bad = [i for i in report["issues"] if text in i]
        assert not bad, f"no issue should name {text!r}, got {bad}"

    return check


# The case modules, imported last (they use the names above) and in this order, the order of the
# cases: importing the package registers every case. A loop, not import statements an import
# sorter would reorder.
GROUPS = ("archives", "images_labels", "yaml_coco", "xml_labelme", "folders_options", "commands")
for _group in GROUPS:
    importlib.import_module(f"{__name__}.{_group}")
