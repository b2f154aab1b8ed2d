"""What to fix next, kept score of: three seeded scenarios, each a copy of the demo set with one known
problem. For each: train, ask ``yolov11.advise`` for the top action and its predicted gain
(mAP50-95), apply the action with the truth (the true labels, the left-out images, tiles), retrain
the same recipe on the new version (recorded as following that advice), and read what it bought
with ``yolov11.advice_outcome`` (same val: both runs' own evaluations; tiles: the frames, tile by
tile against one pass, one COCO evaluator).

  (a) labels   the demo set with 25 % of its TRAIN labels corrupted (removed, class-swapped,
               shifted: tests/label_corruption.py's corruptions); val clean. Its train labels are
               scored (label_issues --split train: 2 fold trainings) before the advice, as a user
               asks for. Right advice: fix_labels. Applied: the true labels of every train image
               with a flagged label (suspicion >= 0.5) restored (edit_labels).
  (b) starved  the demo set with "head" left with 10 train boxes (yolov11.data.demo.write_demo_starved).
               Right advice: more_data. Applied: the left-out images with their labels added from the
               pool (pool_add + pool_accept).
  (c) small    the small-objects yard set (bench/small_objects.py's generator). Right advice:
               small_objects. Applied: tile_dataset at the run's imgsz.

Targets: the right top advice in 3/3; predicted and measured gains of the same sign and within a
factor of 2 in at least 2/3. The figures are reported whatever they are.

    .venv/bin/python bench/advice.py [--only labels,starved,small] [--epochs-labels 12] [--measure-longer] [--quick]

A full run is about an hour on 2 CPU cores. BENCH_ADVICE_ARGS (extra arguments, shell-quoted) lets
``python -m bench`` run a reduced size; the notes say what ran.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import report  # noqa: E402  (bench/ is the script's folder, so on sys.path)

RIGHT = {"labels": "fix_labels", "starved": "more_data", "small": "small_objects"}
QUICK = ["--epochs-labels", "1", "--epochs-starved", "1", "--epochs-small", "1", "--demo-images", "60", "--yard-frames", "8"]


def _boxes(label: Path, width: int, height: int) -> list[dict]:
    from yolov11.boxes import cxcywh_to_xyxy

    out = []
    for line in label.read_text().split("\n"):
        if line.strip():
            c, cx, cy, w, h = line.split()
            x1, y1, x2, y2 = cxcywh_to_xyxy(float(cx), float(cy), float(w), float(h), width, height)
            out.append({"class": int(c), "box": [max(x1, 0.0), max(y1, 0.0), min(x2, width), min(y2, height)]})  # label files' rounding
    return out


def labels(base: Path, ws, args) -> dict:
    """(a): the demo set, 25 % of the train labels corrupted; the fix restores them."""
    from PIL import Image

    import yolov11
    from yolov11.data.demo import CLASSES, write_demo

    from label_corruption import corrupt

    folder, clean = base / "demo-noisy", base / "demo-clean"
    write_demo(clean, n_images=args.demo_images, size=320, seed=0)
    shutil.copytree(clean, folder)
    aside = base / "val-labels"
    shutil.move(folder / "labels" / "val", aside)  # only train is corrupted
    done = corrupt(folder, len(CLASSES), seed=0, share=0.25 / 3)
    shutil.move(aside, folder / "labels" / "val")
    name = yolov11.import_dataset(folder, workspace=ws)["name"]
    run = yolov11.train(name, "yolov11n", workspace=ws, epochs=args.epochs_labels, imgsz=320, batch=16, workers=0, seed=0)["run"]
    scored = yolov11.label_issues(run, "train", workspace=ws)  # what the advice reads for the train split
    flagged = sorted({i["image"] for i in scored["issues"] if i["score"] >= 0.5})

    def apply(advice: dict) -> str:
        edits = {}
        for image in flagged:
            with Image.open(clean / image) as im:
                edits[image] = _boxes((clean / image.replace("images/", "labels/", 1)).with_suffix(".txt"), *im.size)
        return yolov11.edit_labels(name, edits, workspace=ws, advice=f"{run}:{advice['kind']}")["name"]

    return {"run": run, "apply": apply, "recipe": {"epochs": args.epochs_labels, "imgsz": 320, "batch": 16},
            "problem": f"{len(done)} of the train boxes corrupted", "fixed": f"{len(flagged)} train images with a flagged label restored "
            f"({len(set(flagged) & {d['image'] for d in done})} of the {len({d['image'] for d in done})} corrupted ones)"}


def starved(base: Path, ws, args) -> dict:
    """(b): "head" left with 10 train boxes; the fix adds the left-out images with their labels."""
    import yolov11
    from yolov11.data.demo import write_demo_starved

    folder, out = base / "demo-starved", base / "left-out"
    heads = write_demo_starved(folder, "head", 10, n_train=120, n_val=40, size=160, seed=7, left_out=out)
    name = yolov11.import_dataset(folder, workspace=ws)["name"]
    recipe = {"epochs": args.epochs_starved, "imgsz": 160, "batch": 16}
    run = yolov11.train(name, "yolov11n", workspace=ws, workers=0, seed=0, **recipe)["run"]

    def apply(advice: dict) -> str:
        from PIL import Image

        images = sorted((out / "images" / "train").iterdir())[: args.add_back]
        items = yolov11.pool_add(name, images, workspace=ws)["items"]
        by_file = {Path(i["source"]).name: i["id"] for i in items}
        boxes = {}
        for image in images:
            with Image.open(image) as im:
                boxes[by_file[image.name]] = _boxes(out / "labels" / "train" / f"{image.stem}.txt", *im.size)
        return yolov11.pool_accept(name, list(boxes), boxes=boxes, workspace=ws, advice=f"{run}:{advice['kind']}")["version"]

    return {"run": run, "apply": apply, "recipe": recipe, "problem": f"{heads} train head boxes"}


def small(base: Path, ws, args) -> dict:
    """(c): the yard set's small objects; the fix tiles it at the run's imgsz."""
    from small_objects import write_yard

    import yolov11

    folder = base / "yard"
    write_yard(folder, args.yard_frames, max(2, args.yard_frames // 5), 960, 540, (144, 160), 0.12, 0)
    name = yolov11.import_dataset(folder, workspace=ws)["name"]
    recipe = {"epochs": args.epochs_small, "imgsz": 320, "batch": 8}
    run = yolov11.train(name, "yolov11n", workspace=ws, workers=0, seed=0, **recipe)["run"]

    def apply(advice: dict) -> str:
        return yolov11.tile_dataset(name, size=320, overlap=0.2, workspace=ws, advice=f"{run}:{advice['kind']}")["name"]

    return {"run": run, "apply": apply, "recipe": recipe, "problem": "helmets 11-29 px in 960x540 frames, trained at 320"}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", default="labels,starved,small")
    p.add_argument("--demo-images", type=int, default=300)
    p.add_argument("--epochs-labels", type=int, default=12)
    p.add_argument("--epochs-starved", type=int, default=40)
    p.add_argument("--add-back", type=int, default=60, help="left-out images (with their heads) added back in (b)")
    p.add_argument("--yard-frames", type=int, default=60)
    p.add_argument("--epochs-small", type=int, default=25)
    p.add_argument("--measure-longer", action="store_true",
                   help="where train_longer is advised, also train twice the epochs on the same data and report what it bought")
    p.add_argument("--quick", action="store_true", help="a minute's pipeline check, no meaningful numbers")
    p.add_argument("--keep", type=Path, help="work in this folder and keep it (the runs, for a look afterwards); default: a temporary one")
    report.add_json_flag(p)
    argv = sys.argv[1:] + shlex.split(os.environ.get("BENCH_ADVICE_ARGS", ""))
    args = p.parse_args(argv + (QUICK if "--quick" in argv else []))
    report.start(args)
    os.environ.setdefault("YOLO_OFFLINE", "1")
    import yolov11

    figures, notes, right, close = [], [f"args: {' '.join(argv) or '(defaults)'}"], 0, 0
    scenarios = [s.strip() for s in args.only.split(",") if s.strip()]
    with (contextlib.nullcontext(str(args.keep)) if args.keep else tempfile.TemporaryDirectory(prefix="bench-advice-")) as tmp:
        for scenario in scenarios:
            ws = yolov11.Workspace.at(Path(tmp) / scenario / "ws")
            made = {"labels": labels, "starved": starved, "small": small}[scenario](Path(tmp) / scenario, ws, args)
            advice = yolov11.advise(made["run"], workspace=ws)
            top = advice["actions"][0] if advice["actions"] else {"kind": "none", "expected_gain": 0.0}
            version = made["apply"](top if top["kind"] == RIGHT[scenario] else {"kind": RIGHT[scenario]})
            again = yolov11.train(version, "yolov11n", workspace=ws, workers=0, seed=0, **made["recipe"])["run"]
            outcome = yolov11.advice_outcome(again, workspace=ws)
            predicted = next((a["expected_gain"] for a in advice["actions"] if a["kind"] == RIGHT[scenario]), None)
            measured = outcome["measured"]
            right += top["kind"] == RIGHT[scenario]
            agree = predicted is not None and measured is not None and predicted * measured > 0 and \
                0.5 <= abs(measured) / max(abs(predicted), 1e-9) <= 2.0
            close += agree
            figures.append(report.figure(f"({scenario}) {made['problem']}: top advice {top['kind']} (right: {RIGHT[scenario]})",
                                         1.0 if top["kind"] == RIGHT[scenario] else 0.0, "", target="the right kind",
                                         met=top["kind"] == RIGHT[scenario]))
            figures.append(report.figure(f"({scenario}) {RIGHT[scenario]}: predicted gain (mAP50-95)", predicted, ""))
            figures.append(report.figure(f"({scenario}) {RIGHT[scenario]}: measured gain after retraining (mAP50-95)", measured, "",
                                         met=agree))
            longer = next((a for a in advice["actions"] if a["kind"] == "train_longer"), None)
            if args.measure_longer and longer:  # the advice's own train_longer, tried: twice the epochs on the same data
                twice = yolov11.train(ws.run(made["run"])["dataset"], "yolov11n", workspace=ws, workers=0, seed=0,
                                      **{**made["recipe"], "epochs": 2 * made["recipe"]["epochs"]})["run"]
                gained = round(yolov11.evaluate(run=twice, workspace=ws)["metrics"]["mAP50-95"] - advice["metrics"]["mAP50-95"], 4)
                figures.append(report.figure(f"({scenario}) train_longer: predicted {longer['expected_gain']:+.3f}, measured", gained, ""))
            notes.append(f"({scenario}) actions: " + ", ".join(f"{a['kind']} {a['expected_gain']:+.3f}" for a in advice["actions"])
                         + f"; measured: {outcome['how']}" + (f"; applied: {made['fixed']}" if made.get("fixed") else ""))
    figures.append(report.figure("scenarios with the right top advice", right, f"of {len(scenarios)}", target="3 of 3", met=right == 3))
    figures.append(report.figure("scenarios with predicted and measured of one sign, within 2x", close, f"of {len(scenarios)}",
                                 target="2 of 3", met=close >= 2))
    report.say(figures, notes)
    report.finish(args, "advice", figures, notes)


if __name__ == "__main__":
    main()
