"""Augmented families (yolov11.data.families) through the real import: do copies of one photo
stay on one side of the split, does the report find the families a given split cuts, are
look-alikes left alone, and what does it cost per image?

Generated sets (tests/family_fixtures.py, cached under --cache): Roboflow YOLO exports of base
photos each seen 2-5 times as augmented copies (one of 8 flips/turns, a crop keeping 60-100 %,
±30 % brightness/contrast/saturation, JPEG re-encode), named ``<stem>_jpg.rf.<hash>.jpg``, and
the same sets with the names stripped (random names: the content test alone).

* leakage: a train-only export imported by yolov11.import_dataset (val fraction 0.2) with each
  of --seeds split seeds; the share of val images with a sibling in train in the imported
  dataset (the median and spread over the seeds), with the names and with the names stripped.
  Baseline: the import before families (a seeded split image by image, the same code path with
  no families). Target <= 2 %.
* crossing: an export whose copies were put in train/valid/test at random, imported: the share
  of the families that cross splits which the report lists as crossing (two of its members in
  one listed family, on two sides). Target >= 90 %, names stripped.
* look-alikes: the demo set (300 procedurally drawn site scenes, seed 0: the hardest case) and
  the random-content COCO export of bench/import_speed.py, imported: the share of images the
  report puts in a family. Targets <= 1 % and ~0.
* cost: CPU ms per image to describe (decode at reduced scale + describe + features, minus the
  decode alone, which the import's checks do anyway: they run in its thread pool) and to group
  (find_families on the descriptors, names stripped: one thread), on 2,000 and 5,000 images of a
  family export (the worst case: every image has copies and look-alikes) and of the
  random-content set; beside them the import's own CPU ms per image (same run, all its threads).

    .venv/bin/python bench/families.py [--families N] [--seeds N] [--sizes 2000,5000] [--cache DIR] [--json]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
import report  # noqa: E402  (bench/ is the script's folder, so on sys.path)

from yolov11.data import families  # noqa: E402
from yolov11.data.family_features import features  # noqa: E402

import family_fixtures  # noqa: E402  (the generator lives with the tests that use it)

GEN_VERSION = 1  # bump when the generator changes, so cached sets are redrawn
VAL_FRACTION = 0.2


def cached(cache: Path, name: str, want: dict, make) -> Path:
    """``cache/name`` made by ``make(folder)`` unless a complete one with the same parameters is there."""
    folder, marker = cache / name, cache / f"{name}.complete.json"
    if marker.is_file() and json.loads(marker.read_text()) == want:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    marker.unlink(missing_ok=True)
    t0 = time.time()
    truth = make(folder)
    marker.write_text(json.dumps(want))
    if truth is not None:
        (cache / f"{name}.truth.json").write_text(json.dumps(truth))
    print(f"generated {name} in {time.time() - t0:.0f} s", file=sys.stderr)
    return folder


def family_set(cache: Path, name: str, n: int, seed: int, splits: dict | None = None, names: bool = True) -> tuple[Path, dict]:
    """A generated export and its truth: {"family": {stem: photo}, "split": {stem: split}}."""
    def make(folder: Path) -> dict:
        fs = family_fixtures.write_families(folder, n, seed=seed, splits=splits, names=names)
        return {"family": {Path(r).stem: f for r, f in fs.family.items()}, "split": {Path(r).stem: sp for r, sp in fs.split.items()}}

    want = {"families": n, "seed": seed, "splits": splits, "names": names, "version": GEN_VERSION}
    folder = cached(cache, name, want, make)
    return folder, json.loads((cache / f"{name}.truth.json").read_text())


def images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))


def describe_all(paths: list[Path], workers: int) -> list:
    def batch(part: list[Path]) -> list:
        descs = [families.describe_file(p) for p in part]
        done = iter(features([d for d in descs if d is not None]))
        return [next(done) if d is not None else None for d in descs]

    with ThreadPoolExecutor(workers) as pool:  # as the import's checks run: PIL decodes without the GIL
        return [d for part in pool.map(batch, [paths[k:k + 32] for k in range(0, len(paths), 32)]) for d in part]


def imported_splits(root: Path) -> dict[str, str]:
    """stem -> split of the images of an imported dataset (the import keeps the source's stems)."""
    return {p.stem: p.parent.name for p in images(root / "images")}


def leak(split_of: dict[str, str], family: dict[str, int]) -> float:
    """Share of val images with a true sibling in train."""
    train = {family[s] for s, sp in split_of.items() if sp == "train"}
    val = [family[s] for s, sp in split_of.items() if sp == "val"]
    return sum(f in train for f in val) / max(1, len(val))


def import_once(folder: Path, ws: Path, name: str, **kwargs) -> dict:
    import yolov11

    return yolov11.import_dataset(folder, name=name, workspace=ws, **kwargs)


def leakage(folder: Path, truth: dict, ws: Path, seeds: range, no_families: bool = False) -> list[float]:
    """Leak per split seed, each through a whole import; ``no_families``: the import as it was
    before families (image by image: the same split code without family keys)."""
    from yolov11.data import importer

    shares = []
    for seed in seeds:
        name = f"leak-{seed}"
        if no_families:
            original = importer.assign_splits
            importer.assign_splits = lambda samples, fraction, s, families=None, warnings=None, original=original: original(
                samples, fraction, s, None, warnings)
        try:
            r = import_once(folder, ws, name, seed=seed, val_fraction=VAL_FRACTION)
        finally:
            if no_families:
                importer.assign_splits = original
        shares.append(leak(imported_splits(Path(r["path"])), truth["family"]))
        shutil.rmtree(r["path"], ignore_errors=True)
    return shares


def crossing_found(report: dict, truth: dict) -> tuple[int, int, int]:
    """(true crossing families the report lists crossing, true crossing families, listed families
    holding images of two photos: false joins). A true family is found when two of its members sit
    in one listed family on two sides."""
    fam, split = truth["family"], truth["split"]
    true_crossing = {f for f in set(fam.values()) if len({split[s] for s in fam if fam[s] == f}) > 1}
    found, false = set(), 0
    for listed in report["families"]["crossing"]:
        stems = [Path(p).stem for p in listed["images"]]
        false += len({fam[s] for s in stems}) > 1
        for f in {fam[s] for s in stems}:
            sides = {p.split("/")[1] for p, s in zip(listed["images"], stems) if fam[s] == f}
            if len(sides) > 1:
                found.add(f)
    return len(found & true_crossing), len(true_crossing), false


def timed_cost(paths: list[Path], repeats: int) -> dict:
    """CPU ms per image (process time: on a shared machine wall time measures the neighbours too):
    decode alone, decode + describe + features, and grouping (find_families without names)."""
    blobs = [p.read_bytes() for p in paths]

    def decode(blob: bytes) -> None:
        with Image.open(io.BytesIO(blob)) as im:
            im.draft("YCbCr", (families.DRAFT, families.DRAFT))
            im.load()

    def decode_describe(blob: bytes):
        with Image.open(io.BytesIO(blob)) as im:
            im.draft("YCbCr", (families.DRAFT, families.DRAFT))
            return families.describe(im)

    out: dict[str, list[float]] = {"decode": [], "describe": [], "group": []}
    for _ in range(repeats):
        t0 = time.process_time()
        for b in blobs:
            decode(b)
        t1 = time.process_time()
        descs = [decode_describe(b) for b in blobs]
        descs = [d for k in range(0, len(descs), 32) for d in features(descs[k:k + 32])]  # as the import's batches
        t2 = time.process_time()
        families.find_families(descs, names=[""] * len(descs))
        t3 = time.process_time()
        n = len(blobs) / 1000
        out["decode"].append((t1 - t0) / n)
        out["describe"].append(((t2 - t1) - (t1 - t0)) / n)
        out["group"].append((t3 - t2) / n)
    return out


def import_ms_per_image(folder: Path, ws: Path) -> tuple[float, float]:
    """The import's own cost per image: (wall ms, CPU ms of this process, all its threads)."""
    t0, c0 = time.perf_counter(), time.process_time()
    import_once(folder, ws, "speed")
    n = len(images(folder)) / 1000
    return (time.perf_counter() - t0) / n, (time.process_time() - c0) / n


def spread(values: list[float]) -> str:
    return f"median {100 * statistics.median(values):.1f} %, {100 * min(values):.1f}-{100 * max(values):.1f} % over {len(values)} seeds"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--families", type=int, default=300, help="base photos in the leakage and crossing sets (2-5 copies each)")
    p.add_argument("--seeds", type=int, default=20, help="split seeds of the leakage figures (one import each)")
    p.add_argument("--sizes", default="2000,5000", help="image counts for the cost figures (empty: none)")
    p.add_argument("--repeats", type=int, default=1, help="cost runs per size (the median is reported)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache", type=Path, default=Path("/tmp/yolov11-bench-families"))
    report.add_json_flag(p)
    args = p.parse_args()
    report.start(args)
    cache = args.cache.expanduser().resolve()
    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="yolov11-bench-"))
    os.environ["YOLOV11_WORKSPACE"] = str(tmp / "env")
    from yolov11.compat import offline
    from yolov11.data import report as health

    offline.prepare()
    health.MAX_LISTED_FAMILIES = 10**9  # every crossing family listed, to be matched against the truth
    figures, notes = [], []
    workers = os.cpu_count() or 1
    seeds = range(args.seeds)
    try:
        # --- leakage: train-only export, imported with each split seed ---
        for names, label in ((True, "names + content"), (False, "content alone (names stripped)")):
            tag = "" if names else "-stripped"
            folder, truth = family_set(cache, f"train-only{tag}-{args.families}-{args.seed}", args.families, args.seed, names=names)
            leaks = leakage(folder, truth, tmp / "ws-leak", seeds)
            today = leakage(folder, truth, tmp / "ws-today", seeds[:3], no_families=True)
            value = statistics.median(leaks)
            print(f"leakage, {label}: val images with a sibling in train {spread(leaks)} (before families: {spread(today)})")
            figures.append(report.figure(f"families: val images with a sibling in train after import, {label}", 100 * value, "%",
                                         baseline=100 * statistics.median(today), baseline_name="the import before families",
                                         target="<= 2 %", met=value <= 0.02, samples=[100 * x for x in leaks],
                                         note=f"{len(images(folder))} images, {args.families} photos; {spread(leaks)}"))
        # --- crossing families in given splits: the import's report ---
        for names, label in ((False, "content alone"), (True, "names + content")):
            tag = "" if names else "-stripped"
            folder, truth = family_set(cache, f"crossing{tag}-{args.families}-{args.seed}", args.families, args.seed + 1,
                                       {"train": 0.7, "valid": 0.2, "test": 0.1}, names=names)
            r = import_once(folder, tmp / "ws-crossing", f"crossing{tag}")
            got, crossing, false = crossing_found(r, truth)
            share = got / max(1, crossing)
            print(f"crossing families found by the import's report, {label}: {got} of {crossing} ({share:.1%}); "
                  f"{false} listed families join two photos")
            figures.append(report.figure(f"families: crossing families the report finds, {label}", 100 * share, "%", target=">= 90 %",
                                         met=share >= 0.9, note=f"{got} of {crossing}; {false} false joins; "
                                         f"{r['families']['crossing_count']} listed"))
        # --- look-alikes ---
        from yolov11.data.demo import write_demo

        demo = cached(cache, "demo-300", {"images": 300, "seed": 0, "version": GEN_VERSION}, lambda f: write_demo(f) and None)
        sys.path.insert(0, str(ROOT / "bench"))
        import import_speed

        coco = cached(cache, "coco-2000", {"images": 2000, "version": import_speed.GEN_VERSION},
                      lambda f: import_speed.generate(f, 2000, workers) or None)
        for folder, label, target in ((demo, "demo set (300 look-alike site scenes)", 0.01), (coco, "random-content COCO set", 0.001)):
            r = import_once(folder, tmp / "ws-lookalikes", label.split()[0])
            total = sum(r["images"].values())
            share = r["families"]["images"] / total
            print(f"{label}: {share:.2%} of {total} images put in a family ({r['families']['count']} families) by the import")
            figures.append(report.figure(f"families: images put in a family by the import, {label}", 100 * share, "%",
                                         target=f"<= {100 * target:g} %", met=share <= target,
                                         note=f"{r['families']['count']} families of {total} images"))
        # --- cost ---
        for size in (int(s) for s in args.sizes.split(",") if s):
            n_fam = round(size / 3.5)  # 2-5 copies: 3.5 on average
            folder, _ = family_set(cache, f"cost-{n_fam}-{args.seed}", n_fam, args.seed + 2)
            rand = cached(cache, f"coco-{size}", {"images": size, "version": import_speed.GEN_VERSION},
                          lambda f, size=size: import_speed.generate(f, size, workers) or None)
            for label, src in (("family export", folder), ("random-content set", rand)):
                paths = images(src)[:size]
                cost = timed_cost(paths, args.repeats)
                imp_wall, imp_cpu = import_ms_per_image(src, tmp / f"ws-{label.split()[0]}-{size}")
                shutil.rmtree(tmp / f"ws-{label.split()[0]}-{size}", ignore_errors=True)
                med = {k: statistics.median(v) for k, v in cost.items()}
                print(f"{label}, {len(paths)} images, CPU ms/img: decode {med['decode']:.2f}, describe +{med['describe']:.2f}, "
                      f"group {med['group']:.2f}; the import itself {imp_cpu:.2f} CPU ({imp_wall:.2f} wall) ms/img")
                added = med["describe"] + med["group"]
                figures.append(report.figure(f"families: added CPU ms per image, {label}, {len(paths)} images", added, "ms",
                                             baseline=imp_cpu, baseline_name="the import's CPU ms per image", ratio=added / imp_cpu,
                                             ratio_of="added / import CPU",
                                             samples=[d + g for d, g in zip(cost["describe"], cost["group"])],
                                             note=f"describe {med['describe']:.2f} + group {med['group']:.2f}"))
                notes.append(f"{label} {len(paths)}: CPU ms/img decode {med['decode']:.2f}, describe {med['describe']:.2f}, "
                             f"group {med['group']:.2f}; import {imp_cpu:.2f} CPU, {imp_wall:.2f} wall (load {os.getloadavg()[0]:.1f})")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report.finish(args, "families", figures, notes)


if __name__ == "__main__":
    main()
