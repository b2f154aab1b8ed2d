"""How fast does import_dataset take in a large COCO export? Target: >= 500 images/s, and at least
as fast as Ultralytics' own path (ratio >= 1.0).

Generates (once, cached) a Roboflow-style COCO export: train/ (80%) and valid/ (20%), each with
640x480 JPEGs and a _annotations.coco.json, about 10 boxes per image, 4 categories with
non-contiguous ids. Then times, on the same files:

* ours: yolov11.import_dataset(cache) into a fresh workspace (format detection, image health
  checks, image copy, label writing and the health report: the whole import);
* baseline: ultralytics.data.converter.convert_coco (COCO JSON -> YOLO label txt files) followed
  by the label scan YOLODataset runs before training (cache_labels: verify_image_label on every
  image/label pair in a thread pool, then the labels.cache file).

Prints seconds and images/s for each, the ratio ours/baseline and whether the targets hold.
Both write to a temp dir (TMPDIR): on a busy disk, file creation is a large, noisy part of both.

    .venv/bin/python bench/import_speed.py [--images N] [--cache DIR] [--workers W] [--repeats R] [--baseline-copy]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import report  # noqa: E402  (bench/ is the script's folder, so on sys.path)

TARGET_IPS, TARGET_RATIO = 500.0, 1.0
W, H, SEED = 640, 480, 0
CATEGORIES = {2: "person", 5: "car", 9: "hardhat", 14: "vest"}  # non-contiguous, as exports often are
SPLITS = {"train": 0.8, "valid": 0.2}  # Roboflow's folder names
ANN = "_annotations.coco.json"
GEN_VERSION = 1  # bump when the generator changes, so old caches are redrawn


def _draw(path: Path, i: int) -> list[tuple[int, list[float]]]:
    """Draw image ``i`` (seeded by its index, so thread order doesn't matter); return its boxes."""
    rng = np.random.default_rng([SEED, i])
    # Low-resolution noise upsampled: photo-like smooth texture, realistic JPEG sizes (tens of kB).
    small = rng.integers(40, 220, (H // 16, W // 16, 3), dtype=np.uint8)
    img = Image.fromarray(small).resize((W, H), Image.BILINEAR)
    draw = ImageDraw.Draw(img)
    boxes = []
    for _ in range(int(rng.integers(8, 13))):  # 8..12, about 10 per image
        w, h = float(rng.uniform(16, 200)), float(rng.uniform(16, 160))
        x, y = float(rng.uniform(0, W - w)), float(rng.uniform(0, H - h))
        cat = int(rng.choice(list(CATEGORIES)))
        draw.rectangle([x, y, x + w, y + h], fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
        boxes.append((cat, [round(x, 2), round(y, 2), round(w, 2), round(h, 2)]))
    img.save(path, quality=85)
    return boxes


def generate(cache: Path, n: int, workers: int) -> None:
    """Write the COCO export under ``cache`` unless a complete one for ``n`` images is there."""
    # The marker sits beside the export, not in it: the importer would read any JSON inside.
    marker, want = cache.with_name(cache.name + ".complete.json"), {"images": n, "seed": SEED, "version": GEN_VERSION}
    if marker.is_file() and json.loads(marker.read_text()) == want:
        return
    t0 = time.time()
    marker.unlink(missing_ok=True)
    shutil.rmtree(cache, ignore_errors=True)  # incomplete or different: start over
    n_train = round(n * SPLITS["train"])
    ranges = {"train": range(0, n_train), "valid": range(n_train, n)}
    ann_id = 0
    with ThreadPoolExecutor(workers) as pool:  # PIL releases the GIL while resizing and encoding
        for split, ids in ranges.items():
            (cache / split).mkdir(parents=True)
            names = {i: f"img_{i:06d}.jpg" for i in ids}
            all_boxes = pool.map(lambda i, folder=cache / split, names=names: _draw(folder / names[i], i), ids)
            images, anns = [], []
            for i, boxes in zip(ids, all_boxes):
                images.append({"id": i, "file_name": names[i], "width": W, "height": H})
                for cat, bbox in boxes:
                    ann_id += 1
                    anns.append({"id": ann_id, "image_id": i, "category_id": cat, "bbox": bbox,
                                 "area": round(bbox[2] * bbox[3], 2), "iscrowd": 0})
            cats = [{"id": c, "name": name, "supercategory": "objects"} for c, name in CATEGORIES.items()]
            doc = {"images": images, "annotations": anns, "categories": cats}
            (cache / split / ANN).write_text(json.dumps(doc))
    marker.write_text(json.dumps(want))
    print(f"generated {n} images, {ann_id} boxes in {cache} in {time.time() - t0:.1f} s", file=sys.stderr)


def time_ours(cache: Path, ws: Path) -> tuple[float, int, int]:
    import yolov11

    t0 = time.perf_counter()
    report = yolov11.import_dataset(cache, workspace=ws)
    secs = time.perf_counter() - t0
    # Counted from what was written (not the report's schema, which may change): a sanity check too.
    labels = list(Path(report["path"]).glob("labels/*/*.txt"))
    return secs, len(labels), sum(len(f.read_text().splitlines()) for f in labels)


def time_baseline(cache: Path, tmp: Path, copy: bool) -> tuple[float, int, int]:
    """convert_coco + YOLODataset's label scan, laid out the way both expect.

    convert_coco reads every *.json in ONE folder and writes labels/<json stem minus 'instances_'>/
    <file_name>.txt under save_dir (which must not exist yet, or it picks save_dir-2). It writes
    no images. So: annotations/instances_{train,val}.json are symlinks to the two
    _annotations.coco.json files; after conversion, yolo/images/{train,val} are symlinks to the
    export's train/ and valid/ folders, so YOLODataset's images/ -> labels/ path rule finds the
    labels (its glob follows the folder symlinks and keeps the unresolved paths). The baseline
    thus copies no image bytes, while ours does; with ``copy`` it copies them too (timed), as a
    user would to get a self-contained dataset folder.
    """
    from ultralytics.data.converter import convert_coco
    from ultralytics.data.dataset import YOLODataset

    ann_dir, save_dir = tmp / "annotations", tmp / "yolo"
    ann_dir.mkdir(parents=True)
    for src, split in (("train", "train"), ("valid", "val")):
        (ann_dir / f"instances_{split}.json").symlink_to(cache / src / ANN)
    # With cls91to80=False a label's class is category_id - 1, so the class list must reach the largest id.
    names = {i: CATEGORIES.get(i + 1, f"unused{i + 1}") for i in range(max(CATEGORIES))}
    t0 = time.perf_counter()
    convert_coco(labels_dir=str(ann_dir), save_dir=str(save_dir), use_segments=False, cls91to80=False)
    n_img = n_box = 0
    for src, split in (("train", "train"), ("valid", "val")):
        if copy:
            shutil.copytree(cache / src, save_dir / "images" / split, ignore=shutil.ignore_patterns("*.json"))
        else:
            (save_dir / "images" / split).symlink_to(cache / src, target_is_directory=True)
        ds = YOLODataset(img_path=str(save_dir / "images" / split), data={"names": names}, task="detect", augment=False)
        n_img += len(ds.labels)
        n_box += sum(len(lb["cls"]) for lb in ds.labels)
    return time.perf_counter() - t0, n_img, n_box


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=5000, help="images in the generated export (default 5000)")
    p.add_argument("--cache", type=Path, default=Path("/tmp/yolov11-bench-coco"), help="where the export is kept")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="threads for drawing the export only; the timed parts use their own defaults")
    p.add_argument("--baseline-copy", action="store_true", help="baseline copies the images too (ours always does)")
    p.add_argument("--repeats", type=int, default=1, help="time each method this many times, report the fastest")
    report.add_json_flag(p)
    args = p.parse_args()
    report.start(args)
    cache = args.cache.expanduser().resolve()
    tmp = Path(tempfile.mkdtemp(prefix="yolov11-bench-"))
    os.environ["YOLOV11_WORKSPACE"] = str(tmp / "env")  # Ultralytics' settings live here
    try:
        generate(cache, args.images, args.workers)
        from yolov11.compat import offline

        # Ultralytics' console output goes to stderr, the table to stdout. prepare() (no network) runs
        # before any Ultralytics import, and inside the redirect: its logger binds sys.stdout on import.
        with contextlib.redirect_stdout(sys.stderr):
            offline.prepare()
            ours_runs, base_runs = [], []
            for r in range(args.repeats):  # alternate the two, keep each one's fastest run
                ours_runs.append(time_ours(cache, tmp / f"ws{r}"))
                base_runs.append(time_baseline(cache, tmp / f"baseline{r}", args.baseline_copy))
                for done in (tmp / f"ws{r}", tmp / f"baseline{r}"):  # free the disk and page cache they used
                    shutil.rmtree(done)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    ours, base = min(ours_runs), min(base_runs)
    rows = [("yolov11.import_dataset", *ours), ("ultralytics convert_coco+scan" + (" +copy" if args.baseline_copy else ""), *base)]
    print(f"{'method':<36} {'images':>7} {'boxes':>7} {'seconds':>8} {'images/s':>9}")
    for name, secs, n_img, n_box in rows:
        print(f"{name:<36} {n_img:>7} {n_box:>7} {secs:>8.2f} {n_img / secs:>9.0f}")
    ips, ratio = ours[1] / ours[0], (ours[1] / ours[0]) / (base[1] / base[0])
    print(f"ratio (ours / baseline images/s): {ratio:.2f}")
    ok = ips >= TARGET_IPS and ratio >= TARGET_RATIO
    print(f"targets (>= {TARGET_IPS:.0f} images/s, ratio >= {TARGET_RATIO:.1f}): {'HOLD' if ok else 'NOT MET'}"
          f" ({ips:.0f} images/s, ratio {ratio:.2f})")
    pair_ratios = [(o[1] / o[0]) / (b[1] / b[0]) for o, b in zip(ours_runs, base_runs)]
    base_ips = base[1] / base[0]
    note = f"{ours[1]} images, {ours[2]} boxes; fastest of {args.repeats}"
    figures = [
        report.figure("import: images/s, ours vs Ultralytics convert_coco + label scan", ips, "images/s", baseline=base_ips,
                      baseline_name="Ultralytics", ratio=ratio, ratio_of="ours / baseline images/s, fastest runs",
                      target=f"ratio >= {TARGET_RATIO:.1f}", met=ratio >= TARGET_RATIO, samples=pair_ratios, note=note),
        report.figure("import: images/s", ips, "images/s", target=f">= {TARGET_IPS:.0f} images/s", met=ips >= TARGET_IPS,
                      samples=[o[1] / o[0] for o in ours_runs]),
    ]
    report.finish(args, "import_speed", figures, [f"ours s: {', '.join(f'{o[0]:.2f}' for o in ours_runs)}; "
                                                  f"baseline s: {', '.join(f'{b[0]:.2f}' for b in base_runs)}"])


if __name__ == "__main__":
    main()
