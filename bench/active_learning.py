"""A simulated labeling study: does the pool's ``mixed`` queue reach ``random``'s accuracy with fewer
labels, and how many box actions do pre-labels save?

A harder demo set (smaller, more and overlapping workers, more clutter, loose helmets as decoys)
is drawn once with a fixed val split. Per seed, both strategies start from the same labeled share
of the train images (imported as a dataset, the rest put in its pool with ``pool_add``), each in
its own workspace. Each round: train the same short recipe (``yolov11.train``, the previous
round's weights as the start unless --from-scratch), pre-label the pool with that run
(``prelabel``), queue it (``pool_queue``, strategy mixed or random), take the top ``step`` share
and let the oracle accept it with the true boxes (``pool_accept``). Box actions per picked image:
the true boxes against the suggestions, matched greedily by IoU (>= MATCH_IOU): unmatched true =
added, unmatched suggestion = deleted, a match below IoU 0.9 = moved, a class difference = class
changed; against drawing every true box. mAP50-95 on the fixed val split comes from each run.

    .venv/bin/python bench/active_learning.py [--images 1000] [--rounds 5] [--start 0.05] [--step 0.05]
                                              [--epochs 6] [--imgsz 320] [--seeds 3] [--out-dir DIR]

Full size takes an hour or two on 2 CPU cores (``make bench``). BENCH_ACTIVE_LEARNING_ARGS (extra
arguments, shell-quoted) lets ``python -m bench`` run a reduced size; the notes say what ran.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
from PIL import Image, ImageDraw, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import report  # noqa: E402  (bench/ is the script's folder, so on sys.path)

from yolov11.data.demo import CLASSES, HELMET_COLOURS, _background, _distractors, _worker, visible_boxes  # noqa: E402  (imports no Ultralytics)

MATCH_IOU, MOVED_IOU = 0.3, 0.9
TARGET_SHARE, TARGET_ACTIONS, FROM_ROUND = 0.6, 3.0, 3
STRATEGIES = ("mixed", "random")


# --- the harder set ---------------------------------------------------------------------------


def hard_image(seed: int, index: int, size: int) -> tuple[Image.Image, list[tuple]]:
    """The demo generator made harder; returns the image and its (class, x1, y1, x2, y2) pixel boxes."""
    rng = np.random.default_rng([seed, index, 11])
    img = _background(rng, size)
    draw = ImageDraw.Draw(img)
    for _ in range(2):  # 0..6 crates, cones, pipes
        _distractors(draw, rng, size)
    for _ in range(int(rng.integers(0, 3))):  # loose helmets: a helmet colour without a head
        x, y, r = (float(v) for v in rng.uniform([0, size * 0.3, 4], [size, size, 10]))
        draw.pieslice([x - r, y - r, x + r, y + r], 180, 360, fill=HELMET_COLOURS[rng.integers(len(HELMET_COLOURS))])
    boxes = []
    for _ in range(int(rng.integers(2, 8))):  # anywhere, so they overlap; smaller than the demo's
        height = size * rng.uniform(0.18, 0.45)
        cx = rng.uniform(0.05, 0.95) * size
        top = rng.uniform(0.02 * size, size - height * 0.8)
        boxes += _worker(draw, rng, cx, top, height)
    if rng.random() < 0.5:  # clutter in front of the workers
        _distractors(draw, rng, size)
    if rng.random() < 0.4:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 1.4)))
    arr = np.asarray(img, np.float32) * rng.uniform(0.6, 1.25) + rng.normal(0, 7, (size, size, 3))
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    return img, [(int(c), *box) for c, *box in visible_boxes(boxes, size)]


def _label_text(boxes: list[tuple], size: int) -> str:
    return "".join(f"{c} {(x1 + x2) / 2 / size:.6f} {(y1 + y2) / 2 / size:.6f} {(x2 - x1) / size:.6f} {(y2 - y1) / size:.6f}\n"
                   for c, x1, y1, x2, y2 in boxes)


def write_set(dest: Path, n: int, n_val: int, size: int) -> tuple[list[Path], dict[str, list[tuple]], dict[Path, str]]:
    """Draw the set once: (train images, truth by file name, sha1 by train image)."""
    truth, sha, train = {}, {}, []
    for i in range(n):
        split = "val" if i < n_val else "train"
        img, boxes = hard_image(0, i, size)
        path = dest / split / f"hard_{i:05d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        img.save(path, quality=90)
        truth[path.name] = boxes
        if split == "train":
            train.append(path)
            sha[path] = hashlib.sha1(path.read_bytes()).hexdigest()
    return train, truth, sha


def start_folder(dest: Path, labeled: list[Path], val: list[Path], truth: dict, size: int) -> Path:
    for split, paths in (("train", labeled), ("val", val)):
        (dest / "images" / split).mkdir(parents=True, exist_ok=True)
        (dest / "labels" / split).mkdir(parents=True, exist_ok=True)
        for p in paths:
            os.link(p, dest / "images" / split / p.name)
            (dest / "labels" / split / f"{p.stem}.txt").write_text(_label_text(truth[p.name], size))
    data = {"names": dict(enumerate(CLASSES)), "nc": len(CLASSES), "train": "images/train", "val": "images/val"}
    (dest / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return dest


# --- box actions ------------------------------------------------------------------------------


def _iou(a, b) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def box_actions(true: list[tuple], suggested: list[dict]) -> dict:
    """The human's actions to turn the suggestions into the true boxes (greedy IoU matching)."""
    pairs = sorted(((_iou(t[1:], s["box"]), i, j) for i, t in enumerate(true) for j, s in enumerate(suggested)), reverse=True)
    used_t, used_s, moved, changed = set(), set(), 0, 0
    for iou, i, j in pairs:
        if iou < MATCH_IOU:
            break
        if i in used_t or j in used_s:
            continue
        used_t.add(i)
        used_s.add(j)
        moved += iou < MOVED_IOU
        changed += CLASSES[true[i][0]] != suggested[j]["class"]
    out = {"added": len(true) - len(used_t), "deleted": len(suggested) - len(used_s), "moved": moved, "changed": changed}
    return {**out, "total": sum(out.values()), "draw_all": len(true)}


# --- the study --------------------------------------------------------------------------------


def run_seed(yolov11, seed: int, args, root: Path, train: list[Path], val: list[Path], truth: dict, sha: dict) -> dict:
    """Both strategies for one seed: {strategy: [round dicts]}."""
    rng = np.random.default_rng(seed)
    n_start, n_step = max(1, round(args.start * len(train))), max(1, round(args.step * len(train)))
    order = rng.permutation(len(train))
    labeled = [train[i] for i in sorted(order[:n_start])]
    pool = [train[i] for i in sorted(order[n_start:])]
    by_id = {sha[p][:12]: truth[p.name] for p in train}
    recipe = dict(epochs=args.epochs, imgsz=args.imgsz, batch=args.batch, workers=0, plots=False, seed=seed, val=False)
    start = start_folder(root / f"start-s{seed}", labeled, val, truth, args.size)
    pool_dir = root / f"pool-s{seed}"
    pool_dir.mkdir()
    for p in pool:
        os.link(p, pool_dir / p.name)
    out, first = {}, None
    for strategy in STRATEGIES:
        ws = yolov11.Workspace.at(root / f"ws-{strategy}-s{seed}")
        data = yolov11.import_dataset(start, name="al", workspace=ws)["name"]
        added = yolov11.pool_add(data, [pool_dir], workspace=ws)
        rounds = []
        weights = None
        for r in range(args.rounds + 1):
            if r == 0 and first is not None:  # the same start, recipe and seed: trained once per seed
                res = first
            else:
                t0 = time.time()
                with contextlib.redirect_stdout(sys.stderr):
                    extra = {"weights": weights} if weights and not args.from_scratch else {}
                    res = yolov11.train(data, args.model, workspace=ws, **recipe, **extra)
                res = {**res, "train_s": time.time() - t0}
                first = first or res
            weights = res["weights"]
            n_labels = len(labeled) + sum(x["picked"] for x in rounds)
            row = {"round": r, "labels": n_labels, "map": float(res["metrics"].get("mAP50-95") or 0.0),
                   "map50": float(res["metrics"].get("mAP50") or 0.0), "train_s": res["train_s"], "pool_added": added["added"]}
            print(f"seed {seed} {strategy} round {r}: {n_labels} labels, mAP50-95 {row['map']:.3f}, mAP50 {row['map50']:.3f}, "
                  f"trained in {res['train_s']:.0f} s", file=sys.stderr, flush=True)
            if r == args.rounds:
                rounds.append({**row, "picked": 0})
                break
            t0 = time.time()
            yolov11.prelabel(data, weights=weights, workspace=ws)
            picked = yolov11.pool_queue(data, strategy=strategy, limit=n_step, seed=seed + 1000 * r, workspace=ws)["items"]
            acts = [box_actions(by_id[it["id"]], it["suggestions"]) for it in picked]
            boxes = {it["id"]: [{"class": c, "box": [x1, y1, x2, y2]} for c, x1, y1, x2, y2 in by_id[it["id"]]] for it in picked}
            data = yolov11.pool_accept(data, [it["id"] for it in picked], boxes=boxes, workspace=ws)["version"]
            summed = {k: sum(a[k] for a in acts) for k in ("added", "deleted", "moved", "changed", "total", "draw_all")}
            rounds.append({**row, "picked": len(picked), "actions": summed, "queue_s": time.time() - t0})
        out[strategy] = rounds
    return out


def labels_to_reach(curve: list[tuple[int, float]], goal: float) -> float | None:
    """Labels at which the (labels, mAP) curve first reaches ``goal``, linearly interpolated."""
    for (n0, m0), (n1, m1) in zip([(None, None), *curve], curve):
        if m1 >= goal:
            if n0 is None or m1 == m0:
                return float(n1)
            return n0 + (goal - m0) / (m1 - m0) * (n1 - n0)
    return None


def chart(seeds: dict, out_dir: Path) -> list[str]:
    """mAP50-95 against labels, one line per strategy and seed and the median: HTML (plotly.js
    inline: it opens offline) and PNG (kaleido's, else drawn again with matplotlib)."""
    try:
        import plotly.graph_objects as go
    except ImportError:
        return ["no chart: plotly is not installed"]
    fig = go.Figure()
    colours = {"mixed": "#d62728", "random": "#1f77b4"}
    for strategy in STRATEGIES:
        for seed, res in seeds.items():
            rows = res[strategy]
            fig.add_scatter(x=[r["labels"] for r in rows], y=[r["map"] for r in rows], mode="lines+markers", opacity=0.35,
                            line={"color": colours[strategy], "dash": "dot"}, name=f"{strategy} seed {seed}")
        med = _median_curve(seeds, strategy)
        fig.add_scatter(x=[n for n, _ in med], y=[m for _, m in med], mode="lines+markers", line={"color": colours[strategy], "width": 3},
                        name=f"{strategy} (median)")
    title = "Active learning: mAP50-95 on the fixed val split against labeled images"
    fig.update_layout(title=title, xaxis_title="labeled images", yaxis_title="mAP50-95", template="plotly_white")
    out_dir.mkdir(parents=True, exist_ok=True)
    html, png = out_dir / "active-learning.html", out_dir / "active-learning.png"
    fig.write_html(html, include_plotlyjs=True)
    notes = [f"chart: {html}"]
    try:
        fig.write_image(png, width=900, height=550)
    except Exception:  # kaleido missing, or no browser for it: the same lines with matplotlib
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        f, ax = plt.subplots(figsize=(9, 5.5), dpi=100)
        for strategy in STRATEGIES:
            for res in seeds.values():
                ax.plot([r["labels"] for r in res[strategy]], [r["map"] for r in res[strategy]], ":o", color=colours[strategy], alpha=0.35)
            med = _median_curve(seeds, strategy)
            ax.plot([n for n, _ in med], [m for _, m in med], "-o", color=colours[strategy], linewidth=3, label=f"{strategy} (median)")
        ax.set(title=title, xlabel="labeled images", ylabel="mAP50-95")
        ax.legend()
        f.savefig(png, bbox_inches="tight")
        plt.close(f)
    notes.append(f"chart: {png}")
    return notes


def _median_curve(seeds: dict, strategy: str) -> list[tuple[int, float]]:
    rounds = zip(*(res[strategy] for res in seeds.values()))
    return [(int(statistics.median(r["labels"] for r in rs)), statistics.median(r["map"] for r in rs)) for rs in rounds]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=1000, help="images drawn in all (val included)")
    p.add_argument("--val", type=float, default=0.2, help="share of the images in the fixed val split")
    p.add_argument("--size", type=int, default=320, help="pixels of the drawn images")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--start", type=float, default=0.05, help="labeled share of the train images at the start")
    p.add_argument("--step", type=float, default=0.05, help="share of the train images labeled each round")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--imgsz", type=int, default=320)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--model", default="yolov11n")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--from-scratch", action="store_true", help="every round from scratch (default: from the previous round's weights)")
    p.add_argument("--out-dir", type=Path, default=None, help="folder for the chart (default: the temp folder)")
    report.add_json_flag(p)
    extra = shlex.split(os.environ.get("BENCH_ACTIVE_LEARNING_ARGS", ""))
    args = p.parse_args(sys.argv[1:] + extra)
    report.start(args)
    t_all = time.time()
    root = Path(tempfile.mkdtemp(prefix="yolov11-bench-al-"))
    os.environ["YOLOV11_WORKSPACE"] = str(root / "ws-default")
    import yolov11

    n_val = round(args.images * args.val)
    train, truth, sha = write_set(root / "set", args.images, n_val, args.size)
    val = sorted((root / "set" / "val").glob("*.jpg"))
    n_boxes = sum(len(b) for b in truth.values())
    print(f"drew {args.images} images ({n_val} val), {n_boxes} boxes, in {time.time() - t_all:.0f} s", file=sys.stderr)
    seeds = {s: run_seed(yolov11, s, args, root, train, val, truth, sha) for s in range(args.seeds)}
    took = time.time() - t_all

    figures, notes = [], []
    finals = {st: [res[st][-1]["map"] for res in seeds.values()] for st in STRATEGIES}
    shares = []
    for res in seeds.values():
        goal, final_labels = res["random"][-1]["map"], res["random"][-1]["labels"]
        reach = labels_to_reach([(r["labels"], r["map"]) for r in res["mixed"]], goal) if goal > 0 else None
        shares.append(None if reach is None else reach / final_labels)
    med = {st: _median_curve(seeds, st) for st in STRATEGIES}
    reach = labels_to_reach(med["mixed"], med["random"][-1][1]) if med["random"][-1][1] > 0 else None
    share = None if reach is None else reach / med["random"][-1][0]
    setup = (f"{args.images} images ({n_val} val), start {args.start:.0%} + {args.rounds} rounds of {args.step:.0%}, "
             f"{args.epochs} epochs at imgsz {args.imgsz}, {args.seeds} seeds, " + ("from scratch" if args.from_scratch else "warm start"))
    figures.append(report.figure(
        "labels mixed needs to reach random's final mAP50-95, as a share of random's", share, "", target=f"<= {TARGET_SHARE}",
        met=share is not None and share <= TARGET_SHARE, samples=[s for s in shares if s is not None], ratio=share,
        ratio_of="labels mixed / labels random", note=setup + (": mixed never reached it (median curves)" if share is None else "")
        + (f"; {shares.count(None)} seed(s) never reached it (or random's final mAP was 0)" if None in shares else "")))
    for st in STRATEGIES:
        figures.append(report.figure(f"final mAP50-95, {st}", statistics.median(finals[st]), "", samples=finals[st],
                                     note=f"{med[st][-1][0]} labeled images"))
    for st in STRATEGIES:
        ratios, late = [], [r for res in seeds.values() for r in res[st] if "actions" in r and r["round"] + 1 >= FROM_ROUND]
        used_from = FROM_ROUND
        if not late:  # too few rounds: every round counts
            late, used_from = [r for res in seeds.values() for r in res[st] if "actions" in r], 1
        for res in seeds.values():
            rows = [r for r in res[st] if "actions" in r and r["round"] + 1 >= used_from]
            total = sum(r["actions"]["total"] for r in rows)
            ratios.append(sum(r["actions"]["draw_all"] for r in rows) / total if total else None)
        draw = sum(r["actions"]["draw_all"] for r in late)
        total = sum(r["actions"]["total"] for r in late)
        ratio = draw / total if total else None
        figures.append(report.figure(
            f"box actions, drawing all / with pre-labels, rounds >= {used_from}, {st} picks", total, "actions", baseline=draw,
            baseline_name="drawing every box", ratio=ratio, ratio_of="drawing / with pre-labels", target=f">= {TARGET_ACTIONS:g}",
            met=ratio is not None and ratio >= TARGET_ACTIONS, samples=ratios,
            note="" if used_from == FROM_ROUND else f"fewer than {FROM_ROUND} rounds: all rounds"))

    notes.append(f"settings: {setup}; model {args.model}, batch {args.batch}, drawn at {args.size} px; "
                 f"matching IoU >= {MATCH_IOU}, moved below IoU {MOVED_IOU}")
    if extra:
        notes.append(f"arguments added from BENCH_ACTIVE_LEARNING_ARGS: {shlex.join(extra)}")
    notes.append(f"running time: {took / 60:.1f} min")
    first = next(iter(seeds.values()))["mixed"][0]
    notes.append(f"the set: {args.images} images, {n_boxes} true boxes ({n_boxes / args.images:.1f} an image); pool_add took "
                 f"{first['pool_added']} of {len(train) - first['labels']} pool images (the rest near duplicates)")
    for seed, res in seeds.items():
        for st in STRATEGIES:
            cells = []
            for r in res[st]:
                a = r.get("actions")
                acts = (f", picked {r['picked']}: actions {a['total']} (+{a['added']} -{a['deleted']} moved {a['moved']} "
                        f"class {a['changed']}) vs {a['draw_all']} drawn") if a else ""
                cells.append(f"r{r['round']} {r['labels']} labels mAP50-95 {r['map']:.3f} ({r['train_s']:.0f} s){acts}")
            notes.append(f"seed {seed} {st}: " + "; ".join(cells))
    notes += chart(seeds, args.out_dir or root)
    report.say(figures, notes)
    report.finish(args, "active_learning", figures, notes)


if __name__ == "__main__":
    main()
