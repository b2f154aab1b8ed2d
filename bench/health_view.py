"""How long does the Data tab's health view of a large dataset take to show? Target: <= 3 s from
picking the dataset to the gallery and the duplicate pairs (issue 21, item 22).

Generates (once, cached) a YOLO folder of ``--images`` 640x480 JPEGs (about 10 boxes each, 4
classes, one re-encoded copy of every 150th image: near-duplicate pairs for the pairs gallery),
imports it into a workspace of its own (also cached), then, in a fresh process per repeat with
no drawings on disk yet, calls what picking the dataset runs:

* first show: the view's chained handlers, one after the other as the page runs them (the charts
  turned into the JSON Gradio sends), until the gallery and the duplicate pairs are on screen
  (their first rows), and until every output is in; the label editor's image list, which the
  same pick refreshes, is timed beside;
* a filter change: the gallery redrawn for one class, then for one problem;
* a second pick of the same dataset in the same process;
* the process's peak memory (max RSS).

Ultralytics (which draws the boxes) is imported before the clock starts and timed apart: an app
imports it once, on its first drawing, usually the page load's.

With ``--baseline-ref REF`` the same is measured on the code of a git commit (exported with
``git archive`` into a temp folder; the work tree is left alone), so before and after come from
one run on one machine.

    .venv/bin/python bench/health_view.py [--images N] [--cache DIR] [--repeats R] [--baseline-ref REF] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
import report  # noqa: E402  (bench/ is the script's folder, so on sys.path)

TARGET_S = 3.0
W, H, SEED = 640, 480, 0
CLASSES = ["person", "car", "hardhat", "vest"]
COPY_EVERY = 150  # one near-duplicate copy per this many images
GEN_VERSION = 1  # bump when the generator changes, so old caches are redrawn
NAME = "health-bench"


def _draw(path: Path, i: int) -> list[str]:
    """Draw image ``i`` (seeded by its index) and return its YOLO label lines."""
    rng = np.random.default_rng([SEED, i])
    small = rng.integers(40, 220, (H // 16, W // 16, 3), dtype=np.uint8)  # smooth noise: photo-like JPEG sizes
    img = Image.fromarray(small).resize((W, H), Image.BILINEAR)
    draw = ImageDraw.Draw(img)
    lines = []
    for _ in range(int(rng.integers(8, 13))):
        w, h = float(rng.uniform(16, 200)), float(rng.uniform(16, 160))
        x, y = float(rng.uniform(0, W - w)), float(rng.uniform(0, H - h))
        draw.rectangle([x, y, x + w, y + h], fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
        lines.append(f"{int(rng.integers(0, len(CLASSES)))} {(x + w / 2) / W:.6f} {(y + h / 2) / H:.6f} {w / W:.6f} {h / H:.6f}")
    img.save(path, quality=85)
    if i % COPY_EVERY == 0:
        img.save(path.with_name(f"{path.stem}_copy.jpg"), quality=60)
    return lines


def generate(cache: Path, n: int, workers: int) -> Path:
    """A YOLO folder of ``n`` images (+ copies) under ``cache``/src, unless a complete one is there."""
    src, marker = cache / "src", cache / "src.complete.json"
    want = {"images": n, "seed": SEED, "version": GEN_VERSION}
    if marker.is_file() and json.loads(marker.read_text()) == want:
        return src
    t0 = time.time()
    marker.unlink(missing_ok=True)
    shutil.rmtree(src, ignore_errors=True)
    n_val = n // 5
    for split in ("train", "val"):
        (src / "images" / split).mkdir(parents=True)
        (src / "labels" / split).mkdir(parents=True)

    def one(i: int) -> None:
        split = "val" if i < n_val else "train"
        image = src / "images" / split / f"img_{i:06d}.jpg"
        lines = _draw(image, i)
        (src / "labels" / split / f"{image.stem}.txt").write_text("\n".join(lines) + "\n")
        if i % COPY_EVERY == 0:
            (src / "labels" / split / f"{image.stem}_copy.txt").write_text("\n".join(lines) + "\n")

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, range(n)))
    (src / "data.yaml").write_text(f"train: images/train\nval: images/val\nnames: {json.dumps(CLASSES)}\n")
    marker.write_text(json.dumps(want))
    print(f"generated {n} images in {src} in {time.time() - t0:.0f} s", file=sys.stderr)
    return src


def imported(cache: Path, src: Path) -> Path:
    """The workspace holding the generated folder as dataset NAME (imported once, then reused)."""
    ws, marker = cache / "ws", cache / "ws.complete.json"
    want = json.loads((cache / "src.complete.json").read_text())
    if marker.is_file() and json.loads(marker.read_text()) == want:
        return ws
    marker.unlink(missing_ok=True)
    shutil.rmtree(ws, ignore_errors=True)
    t0 = time.time()
    sys.path.insert(0, str(ROOT))
    import yolov11

    r = yolov11.import_dataset(src, name=NAME, workspace=ws)
    marker.write_text(json.dumps(want))
    print(f"imported {sum(r['images'].values())} images in {time.time() - t0:.0f} s", file=sys.stderr)
    return ws


# --- the measuring child: runs against the code at --root --------------------------------------

def _to_browser(outputs) -> None:
    """The charts as Gradio sends them (plotly's JSON): part of what the user waits for."""
    import plotly.io

    for value in outputs if isinstance(outputs, tuple) else (outputs,):
        if hasattr(value, "to_plotly_json"):
            plotly.io.to_json(value)


def _view(ctx):
    """(pick, filter) of the code imported. ``pick(name)`` runs what picking a dataset runs, in the
    page's order, and returns {"on_screen": seconds until the gallery and the duplicate pairs show,
    "complete": seconds until every output is in}; ``filter(name, class, problem)`` redraws the
    gallery and returns its seconds. Older code had no module-level handlers: its closures are
    taken from the Blocks build_health wires."""
    import pages.data_health as dh

    def clock(steps) -> dict:
        t0, marks = time.perf_counter(), {}
        for mark, step in steps:
            _to_browser(step())
            marks[mark] = time.perf_counter() - t0
        return marks

    if hasattr(dh, "draw_view"):  # show, then the galleries' first rows (a generator), the rest, the other charts
        def pick(name):
            frames = dh.draw_view(ctx, name, "all classes", "any image")
            return clock([("shown", lambda: dh.show_health(ctx, name)), ("on_screen", lambda: next(frames)),
                          ("drawn", lambda: list(frames)), ("complete", lambda: dh.box_charts(ctx, name))])

        return pick, lambda n, c, p: clock([("t", lambda: list(dh.draw_gallery(ctx, n, c, p)))])["t"]
    import gradio as gr

    with gr.Blocks() as blocks:
        dh.build_health(ctx, gr.Dropdown(choices=[NAME], value=NAME))
    fns = {f.fn.__name__: f.fn for f in blocks.fns.values() if getattr(f, "fn", None)}

    def old_pick(name):
        marks = clock([("shown", lambda: fns["show"](name)), ("pairs", lambda: fns["draw_duplicates"](name)),
                       ("on_screen", lambda: fns["draw"](name, "all classes", "any image"))])
        return {**marks, "complete": marks["on_screen"]}

    return old_pick, lambda n, c, p: clock([("t", lambda: fns["draw"](n, c, p))])["t"]


def measure(root: Path, ws_dir: Path) -> dict:
    sys.path.insert(0, str(root))
    import resource

    from pages.common import AppContext
    from pages.label_editor import image_choices
    from yolov11 import Workspace

    ws = Workspace.at(ws_dir)
    shutil.rmtree(ws.previews_dir / NAME, ignore_errors=True)  # no drawings yet: the first show draws them
    ctx = AppContext(workspace=ws, jobs=None, blocks=None)
    pick, redraw = _view(ctx)
    classes = ws.dataset(NAME)["classes"]
    # The app imports Ultralytics on its first drawing, usually the page load's (it shows the newest
    # dataset): timed apart, so the figures below are those of a pick in a running app.
    t0 = time.perf_counter()
    from yolov11.compat import offline

    offline.prepare()
    import yolov11.compat.plotting  # noqa: F401
    out = {"import_ultralytics": time.perf_counter() - t0}
    first = pick(NAME)
    out.update(first_show=first["on_screen"], first_complete=first["complete"])
    t0 = time.perf_counter()
    image_choices(ctx, NAME)  # the label editor's list, which the same pick refreshes (another queue)
    out["editor_images"] = time.perf_counter() - t0
    out["filter_class"] = redraw(NAME, classes[1], "any image")
    out["filter_problem"] = redraw(NAME, classes[1], "duplicates")
    out["second_show"] = pick(NAME)["complete"]
    out["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def run_child(root: Path, ws: Path) -> dict:
    cmd = [sys.executable, __file__, "--measure", "--root", str(root), "--workspace", str(ws)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=root, env={**os.environ, "YOLOV11_WORKSPACE": str(ws)})
    if done.returncode:
        raise RuntimeError(f"measuring {root} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def export_ref(ref: str, dest: Path) -> Path:
    """The code of commit ``ref`` (its pages/ and yolov11/) in ``dest``, by git archive."""
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", ref, "pages", "yolov11"], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=6000, help="images in the generated dataset (default 6000, at least 5000 for the target)")
    p.add_argument("--cache", type=Path, default=None,
                   help="where the dataset and its workspace are kept (default /tmp/yolov11-bench-health-N)")
    p.add_argument("--repeats", type=int, default=3, help="fresh processes per code version; medians are reported")
    p.add_argument("--baseline-ref", default="", help="also measure the code of this git commit (e.g. the one before a change)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="threads drawing the dataset (generation only)")
    p.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    p.add_argument("--workspace", type=Path, help=argparse.SUPPRESS)
    report.add_json_flag(p)
    args = p.parse_args()
    if args.measure:
        print(json.dumps(measure(args.root, args.workspace)))
        return
    report.start(args)
    cache = (args.cache or Path(f"/tmp/yolov11-bench-health-{args.images}")).expanduser().resolve()
    ws = imported(cache, generate(cache, args.images, args.workers))
    versions = {"now": ROOT}
    tmp = Path(tempfile.mkdtemp(prefix="yolov11-bench-health-"))
    try:
        if args.baseline_ref:
            versions = {f"before ({args.baseline_ref})": export_ref(args.baseline_ref, tmp / "before"), **versions}
        results: dict[str, list[dict]] = {k: [] for k in versions}
        for _ in range(args.repeats):  # alternate the versions: a busy moment hits both
            for key, root in versions.items():
                results[key].append(run_child(root, ws))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    med = {k: {m: statistics.median(r[m] for r in runs) for m in runs[0]} for k, runs in results.items()}
    keys = ["import_ultralytics", "first_show", "first_complete", "editor_images", "filter_class", "filter_problem", "second_show",
            "max_rss_mb"]
    print(f"{'':<28}" + "".join(f"{k:>22}" for k in versions))
    for m in keys:
        print(f"{m:<28}" + "".join(f"{med[k][m]:>22.2f}" for k in versions))
    now = results["now"]
    base_key = next((k for k in versions if k != "now"), None)
    base = med[base_key] if base_key else {}
    figures = [
        report.figure(f"health view of {args.images} images: picked to gallery and duplicate pairs on screen",
                      med["now"]["first_show"], "s",
                      baseline=base.get("first_show"), baseline_name=base_key or "", target=f"<= {TARGET_S:.0f} s",
                      met=med["now"]["first_show"] <= TARGET_S, samples=[r["first_show"] for r in now],
                      note=f"no drawings on disk yet, Ultralytics imported "
                           f"(once per app process: {med['now']['import_ultralytics']:.1f} s); "
                           f"the editor's image list, refreshed by the same pick: {med['now']['editor_images']:.2f} s"),
        report.figure("health view: picked to every output in (both galleries whole, the charts of the other tabs)",
                      med["now"]["first_complete"], "s",
                      baseline=base.get("first_complete"), baseline_name=base_key or "", samples=[r["first_complete"] for r in now]),
        report.figure("health view: gallery redrawn on a filter change", med["now"]["filter_class"], "s",
                      baseline=base.get("filter_class"), baseline_name=base_key or "", samples=[r["filter_class"] for r in now]),
        report.figure("health view: the same dataset picked again", med["now"]["second_show"], "s",
                      baseline=base.get("second_show"), baseline_name=base_key or "", samples=[r["second_show"] for r in now]),
        report.figure("health view: peak memory of the process", med["now"]["max_rss_mb"], "MB",
                      baseline=base.get("max_rss_mb"), baseline_name=base_key or "", samples=[r["max_rss_mb"] for r in now]),
    ]
    notes = [f"{k}: " + ", ".join(f"{m} {med[k][m]:.2f}" for m in keys) for k in versions]
    report.finish(args, "health_view", figures, notes)


if __name__ == "__main__":
    main()
