"""Small objects in big frames: tiles in training plus sliced inference, against full frames in one pass.

A generated "yard" set: large frames (default 1920x1080) on a plain noisy ground, each holding
several demo scenes (``yolov11.data.demo.draw_image`` drawn small, 144 or 160 px, so helmets are
about 11-29 px wide) pasted at random non-overlapping spots, their labels moved into the frame; the
first ``--val`` frames are the fixed val split. Written as a YOLO folder and imported. Two arms
with the same recipe (model, epochs, imgsz, batch, seed):

  (a) trained on the full frames at ``--imgsz``; scored with plain one-pass prediction
  (b) trained on ``tile_dataset(yard, size=imgsz, overlap)``; scored with sliced prediction
      (tiles of imgsz, the same overlap, the full-frame pass on: ``predict(..., sliced=True)``'s default)

Both are scored on the untiled parent's full val frames by the same COCO evaluator
(``yolov11.evaluate(run, data=yard, sliced=True, slice_size=imgsz)``: "coco" is the sliced
prediction, "unsliced" the one-pass prediction of the same frames, conf >= 0.001). mAP50 overall is
COCO's AP50; mAP50 for boxes under 32 px is recomputed from the evaluation's saved coco_gt / coco_dt
files with faster-coco-eval: ``precision[IoU 0.5, :, :, area "small" (< 32^2 px), maxDets 100]``,
the mean over entries > -1 (what COCO's APs is, at IoU 0.5 only).

Latency per frame (one frame of ``--latency-frame``, default the frame size; conf 0.25, the
project's predictor, median of ``--repeats`` round-robin runs after a warm-up): one pass of (a)'s
model at imgsz, sliced prediction by (b)'s model (tiles batched 8 at a time, as the .pt path does,
plus the full-frame pass), the tiles alone, and one tile; the target divides sliced by
(tiles x one tile).

    .venv/bin/python bench/small_objects.py [--frames 200] [--val 40] [--frame-size 1920x1080] [--imgsz 640]
                                            [--epochs 30] [--batch 8] [--repeats 10] [--quick]

Full size is hours on 2 CPU cores. BENCH_SMALL_OBJECTS_ARGS (extra arguments, shell-quoted) lets
``python -m bench`` run a reduced size; the notes say what ran.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import report  # noqa: E402  (bench/ is the script's folder, so on sys.path)

from yolov11.data.demo import CLASSES, draw_image  # noqa: E402  (imports no Ultralytics)

TARGET_SMALL, TARGET_LATENCY = 2.0, 1.2
SMALL = 32 ** 2  # COCO's "small": area below 32 x 32 px
QUICK = ["--frames", "12", "--val", "4", "--frame-size", "960x540", "--imgsz", "320", "--epochs", "1", "--repeats", "3"]


# --- the yard set -----------------------------------------------------------------------------


def ground(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A plain yard: a tone, a gentle gradient, coarse blotches and fine noise."""
    base = rng.uniform(80, 170, 3) * np.array([1.0, 0.92, 0.8])
    ramp = np.linspace(-1, 1, height)[:, None, None] * rng.uniform(5, 25)
    cell = 48
    coarse = rng.normal(0, 1, (height // cell + 1, width // cell + 1))
    coarse = np.kron(coarse, np.ones((cell, cell)))[:height, :width, None] * rng.uniform(4, 14)
    fine = rng.normal(0, 5, (height, width, 1))
    return np.clip(base + ramp + coarse + fine, 0, 255).astype(np.uint8)


def yard_frame(seed: int, index: int, width: int, height: int, scene: tuple[int, int], density: float) -> tuple[Image.Image, list[tuple]]:
    """One frame and its (class, x1, y1, x2, y2) pixel boxes: demo scenes of ``scene`` px pasted
    on a plain ground, covering about ``density`` of it, never overlapping."""
    rng = np.random.default_rng([seed, index, 7])
    frame = ground(rng, width, height)
    mean_area = ((scene[0] + scene[1]) / 2) ** 2
    want = max(1, round(density * width * height / mean_area * rng.uniform(0.5, 1.5)))
    placed, boxes = [], []
    for _ in range(want * 30):
        if len(placed) >= want:
            break
        s = 16 * int(rng.integers(scene[0] // 16, scene[1] // 16 + 1))  # the demo draws sides that are multiples of 16
        if s >= min(width, height):
            s = (min(width, height) - 1) // 16 * 16
        x, y = int(rng.integers(0, width - s + 1)), int(rng.integers(0, height - s + 1))
        if any(x < px + ps + 4 and px < x + s + 4 and y < py + ps + 4 and py < y + s + 4 for px, py, ps in placed):
            continue
        img, rows = draw_image(seed * 1_000_003 + index, len(placed), s)
        frame[y:y + s, x:x + s] = np.asarray(img)
        placed.append((x, y, s))
        boxes += [(int(c), x + (cx - w / 2) * s, y + (cy - h / 2) * s, x + (cx + w / 2) * s, y + (cy + h / 2) * s)
                  for c, cx, cy, w, h in rows]
    return Image.fromarray(frame), boxes


def write_yard(dest: Path, frames: int, n_val: int, width: int, height: int, scene: tuple[int, int], density: float,
               seed: int) -> list[tuple]:
    """The yard set as a YOLO folder under ``dest`` (data.yaml, images/, labels/); returns every
    (split, class, w, h) box for the summary."""
    summary = []
    for i in range(frames):
        split = "val" if i < n_val else "train"
        img, boxes = yard_frame(seed, i, width, height, scene, density)
        for sub in ("images", "labels"):
            (dest / sub / split).mkdir(parents=True, exist_ok=True)
        img.save(dest / "images" / split / f"yard_{i:05d}.jpg", quality=92)
        lines = [f"{c} {(x1 + x2) / 2 / width:.6f} {(y1 + y2) / 2 / height:.6f} {(x2 - x1) / width:.6f} {(y2 - y1) / height:.6f}"
                 for c, x1, y1, x2, y2 in boxes]
        (dest / "labels" / split / f"yard_{i:05d}.txt").write_text("".join(ln + "\n" for ln in lines))
        summary += [(split, c, x2 - x1, y2 - y1) for c, x1, y1, x2, y2 in boxes]
    data = {"names": dict(enumerate(CLASSES)), "nc": len(CLASSES), "train": "images/train", "val": "images/val"}
    (dest / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return summary


# --- scoring ----------------------------------------------------------------------------------


def ap50_by_area(gt_file: str, dt_file: str) -> dict[str, float]:
    """AP at IoU 0.5 over all boxes and over COCO's small ones (area < 32^2), from saved COCO files:
    faster-coco-eval's precision[IoU 0.5, recall, class, area, maxDets 100], mean over entries > -1."""
    import json

    from faster_coco_eval import COCO, COCOeval_faster

    detections = json.loads(Path(dt_file).read_text())
    if not detections:
        return {"all": 0.0, "small": 0.0}
    gt = COCO(json.loads(Path(gt_file).read_text()))
    with contextlib.redirect_stdout(sys.stderr):
        ev = COCOeval_faster(gt, gt.loadRes(detections), iouType="bbox", print_function=lambda *a: None)
        ev.evaluate()
        ev.accumulate()
    precision = ev.eval["precision"]
    assert float(ev.params.iouThrs[0]) == 0.5 and list(ev.params.areaRngLbl)[:2] == ["all", "small"] and ev.params.maxDets[2] == 100
    out = {}
    for label, a in (("all", 0), ("small", 1)):
        p = precision[0, :, :, a, 2]
        out[label] = float(p[p > -1].mean()) if (p > -1).any() else float("nan")
    return out


# --- latency ----------------------------------------------------------------------------------


def latency(weights_a: str, weights_b: str, frame: np.ndarray, imgsz: int, overlap: float, repeats: int) -> dict:
    """Seconds per frame, median and samples: {"one_pass", "sliced", "tiles_only", "tile", "n_tiles"}."""
    from yolov11.serve.predict import load_detector
    from yolov11.serve.sliced import Slicing, detect_sliced, padded_crop, tile_boxes

    a, b = load_detector(weights_a), load_detector(weights_b)
    height, width = frame.shape[:2]
    tiles = tile_boxes(width, height, imgsz, overlap)
    tile = padded_crop(frame, tiles[len(tiles) // 2], imgsz)
    runs = {
        "one_pass": lambda: a.predict(frame, imgsz=imgsz, conf=0.25, verbose=False),
        "sliced": lambda: detect_sliced(b, frame, Slicing(size=imgsz, overlap=overlap), imgsz, batch=8, conf=0.25),
        "tiles_only": lambda: detect_sliced(b, frame, Slicing(size=imgsz, overlap=overlap, full_frame=False), imgsz, batch=8, conf=0.25),
        "tile": lambda: b.predict(tile, imgsz=imgsz, conf=0.25, verbose=False),
    }
    samples: dict[str, list[float]] = {k: [] for k in runs}
    for r in range(repeats + 2):  # two warm-up rounds, then round-robin so drift hits every kind alike
        for k, run in runs.items():
            t0 = time.perf_counter()
            run()
            if r >= 2:
                samples[k].append(time.perf_counter() - t0)
    return {"samples": samples, "median": {k: statistics.median(v) for k, v in samples.items()}, "n_tiles": len(tiles)}


# --- the study --------------------------------------------------------------------------------


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: WIDTHxHEIGHT, e.g. 1920x1080") from None
    return w, h


def _range(text: str) -> tuple[int, int]:
    lo, _, hi = text.partition("-")
    return int(lo), int(hi or lo)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=200, help="frames drawn in all (val included)")
    p.add_argument("--val", type=int, default=40, help="frames in the fixed val split (the first ones drawn)")
    p.add_argument("--frame-size", type=_size, default=(1920, 1080), help="WIDTHxHEIGHT of the frames")
    p.add_argument("--scene", type=_range, default=(144, 160),
                   help="px range of the pasted demo scenes, in steps of 16 (144-160: helmets ~11-29 px wide)")
    p.add_argument("--density", type=float, default=0.12, help="share of a frame the scenes cover, on average")
    p.add_argument("--imgsz", type=int, default=640, help="training input size of both arms; the tile size of (b)")
    p.add_argument("--overlap", type=float, default=0.2, help="tile overlap, in tiling the train set and in sliced prediction")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--model", default="yolov11n")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeats", type=int, default=10, help="latency runs of each kind")
    p.add_argument("--latency-frame", type=_size, default=None, help="WIDTHxHEIGHT of the frame timed (default --frame-size)")
    p.add_argument("--quick", action="store_true", help=f"a tiny check that it runs: {shlex.join(QUICK)}")
    report.add_json_flag(p)
    extra = shlex.split(os.environ.get("BENCH_SMALL_OBJECTS_ARGS", ""))
    argv = sys.argv[1:] + extra
    args = p.parse_args(argv)
    if args.quick:
        args = p.parse_args([*QUICK, *argv])
    report.start(args)
    t_all = time.time()
    root = Path(tempfile.mkdtemp(prefix="yolov11-bench-small-"))
    os.environ["YOLOV11_WORKSPACE"] = str(root / "ws")
    import yolov11

    ws = yolov11.Workspace.at(root / "ws")
    (width, height), S = args.frame_size, args.imgsz
    boxes = write_yard(root / "yard", args.frames, args.val, width, height, args.scene, args.density, args.seed)
    val_boxes = [b for b in boxes if b[0] == "val"]
    helmets = sorted(max(w, h) for s, c, w, h in boxes if c == 0)
    n_small = sum(w * h < SMALL for _, _, w, h in val_boxes)
    print(f"drew {args.frames} frames {width}x{height} ({args.val} val), {len(boxes)} boxes in {time.time() - t_all:.0f} s",
          file=sys.stderr, flush=True)
    with contextlib.redirect_stdout(sys.stderr):
        parent = yolov11.import_dataset(root / "yard", name="yard", workspace=ws)["name"]
        t0 = time.time()
        tiled = yolov11.tile_dataset(parent, size=S, overlap=args.overlap, workspace=ws)
        tile_s = time.time() - t0
        recipe = dict(epochs=args.epochs, imgsz=S, batch=args.batch, workers=0, plots=False, seed=args.seed, val=False)
        runs, train_s = {}, {}
        for arm, data in (("a", parent), ("b", tiled["name"])):
            t0 = time.time()
            runs[arm] = yolov11.train(data, args.model, workspace=ws, **recipe)
            train_s[arm] = time.time() - t0
            print(f"arm ({arm}) trained on {data} in {train_s[arm]:.0f} s", file=sys.stderr, flush=True)
        evals, eval_s = {}, {}
        for arm in ("a", "b"):
            t0 = time.time()
            evals[arm] = yolov11.evaluate(run=runs[arm]["run"], data=parent, imgsz=S, sliced=True, slice_size=S,
                                          slice_overlap=args.overlap, workspace=ws)
            eval_s[arm] = time.time() - t0
    files = {arm: evals[arm]["files"] for arm in evals}
    scores = {  # (a) one pass, (b) sliced: the arms compared; (a) sliced and (b) one pass: beside them
        "a": ap50_by_area(files["a"]["coco_gt"], files["a"]["coco_dt_unsliced"]),
        "b": ap50_by_area(files["b"]["coco_gt"], files["b"]["coco_dt"]),
        "a sliced": ap50_by_area(files["a"]["coco_gt"], files["a"]["coco_dt"]),
        "b one pass": ap50_by_area(files["b"]["coco_gt"], files["b"]["coco_dt_unsliced"]),
    }
    lw, lh = args.latency_frame or args.frame_size
    frame = np.ascontiguousarray(np.asarray(yard_frame(args.seed + 1, 0, lw, lh, args.scene, args.density)[0])[:, :, ::-1])  # BGR
    lat = latency(runs["a"]["weights"], runs["b"]["weights"], frame, S, args.overlap, args.repeats)
    took = time.time() - t_all

    med, n_tiles = lat["median"], lat["n_tiles"]
    setup = (f"{args.frames} frames {width}x{height} ({args.val} val), {args.model} {args.epochs} epochs at imgsz {S}, "
             f"batch {args.batch}; (b) tiles {S} px overlap {args.overlap:g}")
    small_a, small_b = scores["a"]["small"], scores["b"]["small"]
    ratio = small_b / small_a if small_a and small_a > 0 else None
    figures = [
        report.figure(f"small boxes (< 32 px) mAP50, (b) tiles + sliced inference ({setup})", small_b, "", baseline=small_a,
                      baseline_name="(a) full frames, one pass", ratio=ratio, ratio_of="(b) / (a)", target=f">= {TARGET_SMALL:g}",
                      met=small_b > 0 and small_b >= TARGET_SMALL * small_a,
                      note=f"{n_small} of {len(val_boxes)} val boxes are small"
                      + ("" if ratio is not None else "; (a) scored 0: no ratio (met if (b) > 0)")),
        report.figure("mAP50, all boxes, (b) tiles + sliced inference", scores["b"]["all"], "", baseline=scores["a"]["all"],
                      baseline_name="(a) full frames, one pass",
                      ratio=scores["b"]["all"] / scores["a"]["all"] if scores["a"]["all"] > 0 else None, ratio_of="(b) / (a)"),
    ]
    ideal = n_tiles * med["tile"]
    kinds = (("sliced", "sliced (tiles batched 8 + full-frame pass)"), ("tiles_only", "tiles only (batched 8, no full-frame pass)"))
    for key, what in kinds:
        ratios = [s / ideal for s in lat["samples"][key]]
        figures.append(report.figure(
            f"latency per {lw}x{lh} frame, {what}, {n_tiles} tiles of {S}", med[key] * 1000, "ms", baseline=ideal * 1000,
            baseline_name=f"{n_tiles} x one tile ({med['tile'] * 1000:.1f} ms)", ratio=med[key] / ideal,
            ratio_of="sliced / (tiles x one tile)",
            target=f"<= {TARGET_LATENCY:g}" if key == "sliced" else "", met=med[key] / ideal <= TARGET_LATENCY if key == "sliced" else None,
            samples=ratios))
    figures.append(report.figure(f"latency per {lw}x{lh} frame, one pass at imgsz {S}", med["one_pass"] * 1000, "ms",
                                 samples=[s * 1000 for s in lat["samples"]["one_pass"]],
                                 note=f"sliced is {med['sliced'] / med['one_pass']:.1f}x this"))

    notes = [f"settings: {setup}; seed {args.seed}; scenes {args.scene[0]}-{args.scene[1]} px at density {args.density:g}; "
             "no per-epoch validation (val=False: best.pt is the last epoch's); "
             f"latency on one {lw}x{lh} frame, conf 0.25, median of {args.repeats} round-robin runs after 2 warm-ups"]
    if extra:
        notes.append(f"arguments added from BENCH_SMALL_OBJECTS_ARGS: {shlex.join(extra)}")
    if args.quick:
        notes.append(f"--quick: {shlex.join(QUICK)} (a pipeline check, not figures to quote)")
    notes.append(f"the set: {len(boxes)} boxes ({len(val_boxes)} val, {n_small} of them under 32x32 px); helmet longer side "
                 f"{helmets[0]:.0f}-{helmets[-1]:.0f} px (median {statistics.median(helmets):.0f})" if helmets else "the set: no helmets")
    notes.append(f"tiled train/val: {tiled['tiles']} tiles of {tiled['images']} frames ({tiled['empty_kept']} empty kept, "
                 f"{tiled['clipped']} boxes clipped, {tiled['dropped']} dropped) in {tile_s:.0f} s; "
                 f"training (a) {train_s['a'] / 60:.1f} min, (b) {train_s['b'] / 60:.1f} min at the same epochs")
    notes.append("scoring: both arms on the parent's full val frames, yolov11.evaluate(run, data=parent, sliced=True, slice_size=imgsz): "
                 "(a) its 'unsliced' detections, (b) its sliced ones; mAP50 = faster-coco-eval precision[IoU .5, :, :, area, maxDets 100] "
                 "mean over entries > -1, area 'all' or 'small' (< 32^2 px, COCO's areaRng); conf >= 0.001")
    arms = (("a", "(a) one pass"), ("b", "(b) sliced"), ("a sliced", "(a)'s model sliced"), ("b one pass", "(b)'s model one pass"))
    for key, name in arms:
        notes.append(f"{name}: mAP50 all {scores[key]['all']:.3f}, small {scores[key]['small']:.3f}")
    for arm in ("a", "b"):
        c, u = evals[arm]["coco"], evals[arm]["unsliced"]["coco"]
        notes.append(f"evaluate ({arm}) in {eval_s[arm]:.0f} s: sliced AP {c['AP']:.3f} AP50 {c['AP50']:.3f} APs {c['APs']:.3f}; "
                     f"one pass AP {u['AP']:.3f} AP50 {u['AP50']:.3f} APs {u['APs']:.3f}; {evals[arm]['tiles']} tiles")
    notes.append("latency medians (ms): " + ", ".join(f"{k} {v * 1000:.1f}" for k, v in med.items()) + f"; {n_tiles} tiles")
    notes.append(f"running time: {took / 60:.1f} min")
    report.say(figures, notes)
    report.finish(args, "small_objects", figures, notes)


if __name__ == "__main__":
    main()
