"""One function per CLI subcommand: ``(args, workspace) -> (JSON-able result, human summary)``.

Each is set as its subparser's ``func`` (cli/parser.py) and imports the API only when called:
the CLI applies ``--workspace`` before Ultralytics is imported (its config dir lives there).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path

from yolov11.training.settings import PRESETS, TrainSettings

_BARS: list = []  # open progress bars: closed before an error is printed, so it gets a line of its own


def table(rows: list[dict], cols: list[str]) -> str:
    if not rows:
        return "(none)"
    cells = [[str(r.get(c, "")) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


def progress_bar():
    """A progress callback (fraction, message) that draws a bar on stderr (none when stderr is not a terminal)."""
    from tqdm import tqdm

    bar = tqdm(total=100, file=sys.stderr, bar_format="{desc:40.40} {percentage:3.0f}%|{bar:30}|", leave=False, disable=None)
    _BARS.append(bar)

    def update(fraction: float, message: str) -> None:
        bar.n = round(fraction * 100)
        bar.set_description_str(message, refresh=True)
        if fraction >= 1:
            bar.close()

    return update


def close_bars() -> None:
    while _BARS:
        _BARS.pop().close()


def _run_summary(r: dict) -> str:
    from yolov11.training.status import weak_model_warning

    m = r["metrics"]
    warning = weak_model_warning(m) if r["status"] == "done" else None
    return (
        f"run {r['run']} {r['status']}: mAP50 {m.get('mAP50', 0):.3f}, mAP50-95 {m.get('mAP50-95', 0):.3f}\n  -> {r['dir']}"
        + (f"\n  warning: {warning}" if warning else "")
    )


def import_(args: argparse.Namespace, ws) -> tuple[object, str]:
    import yolov11
    from yolov11.data.report import summarize

    r = yolov11.import_dataset(args.src, name=args.name, val_fraction=args.val_fraction, seed=args.seed, workspace=ws,
                               include_difficult=args.include_difficult, unlabelled_as_background=args.unlabelled_as_background,
                               progress=None if args.json else progress_bar())
    return r, summarize(r)


def tile(args: argparse.Namespace, ws) -> tuple[object, str]:
    import yolov11

    r = yolov11.tile_dataset(args.data, size=args.size, overlap=args.overlap, min_visible=args.min_visible, empty_ratio=args.empty_ratio,
                             seed=args.seed, workspace=ws, progress=None if args.json else progress_bar(), advice=args.advice)
    return r, (f"{r['name']}: {r['parent']} as {r['lineage']}: {r['images']} image(s) -> {r['tiles']} tiles "
               f"({r['empty_kept']} without boxes), "
               f"{r['boxes']} boxes, {r['clipped']} cut at a tile edge and kept, {r['dropped']} dropped (under {args.min_visible:g} "
               f"of the box left)\n  -> {r['path']}")


def resplit(args: argparse.Namespace, ws) -> tuple[object, str]:
    import yolov11

    r = yolov11.resplit_dataset(args.data, val_fraction=args.val_fraction, seed=args.seed, workspace=ws)
    split_txt = ", ".join(f"{k} {n}" for k, n in r["images"].items())
    still = f"; {r['crossing_after']} still cross into the test split (kept as given)" if r["crossing_after"] else ""
    return r, (f"{r['name']}: {r['parent']} re-split by family ({split_txt}; val fraction {args.val_fraction}, seed {args.seed}): "
               f"{r['moved']} image(s) moved, {r['families']} families kept whole, {r['crossing_before']} crossed splits before{still}"
               f"\n  -> {r['path']}")


def pool_add(args: argparse.Namespace, ws) -> tuple[object, str]:
    import yolov11

    r = yolov11.pool_add(args.data, args.sources, every=args.every, workspace=ws)
    lines = [f"{r['dataset']}: {r['added']} item(s) added to the pool, {r['skipped']} skipped"]
    lines += [f"  {note}" for note in r["notes"]] + [f"  left out: {line}" for line in r["left_out"]]
    return r, "\n".join(lines)


def pool_list(args: argparse.Namespace, ws) -> tuple[object, str]:
    import yolov11

    items = yolov11.pool_items(args.data, state=args.state, workspace=ws)
    lines = [f"{i['id']}  {i['state']:<9}  {i['source']}" for i in items]
    return {"items": items}, "\n".join(lines) or f"{args.data}: the pool is empty" + (f" of {args.state} items" if args.state else "")


def prelabel(args: argparse.Namespace, ws) -> tuple[object, str]:
    import yolov11

    r = yolov11.prelabel(args.data, run=args.run, weights=args.weights, conf=args.conf, workspace=ws, sliced=args.slice,
                         slice_size=args.slice_size, slice_overlap=args.slice_overlap)
    return r, f"{r['dataset']}: {r['suggested']} pool item(s) pre-labelled by {Path(r['model']).name}: {r['boxes']} suggested box(es)"


def pool_queue(args: argparse.Namespace, ws) -> tuple[object, str]:
    import yolov11

    r = yolov11.pool_queue(args.data, strategy=args.strategy, limit=args.limit, seed=args.seed, workspace=ws)
    lines = [f"{i['id']}  {'' if i['score'] is None else format(i['score'], '.3f'):>6}  {i['source']}" for i in r["items"]]
    return r, "\n".join([f"{r['dataset']}: the next {len(r['items'])} to label ({r['strategy']}, seed {r['seed']})", *lines])


def pool_accept(args: argparse.Namespace, ws) -> tuple[object, str]:
    import yolov11

    if bool(args.items) == bool(args.reviewed):
        raise yolov11.UserError(field="--items or --reviewed", detail="give exactly one of them")
    if args.reviewed:
        if args.boxes:
            raise yolov11.UserError(field="--boxes", value=args.boxes, detail="the reviewed items keep their boxes as reviewed")
        r = yolov11.pool_add_reviewed(args.data, split=args.split, workspace=ws, advice=args.advice)
        return r, f"{r['version']}: {r['parent']} with {r['accepted']} reviewed item(s) added ({r['boxes']} box(es))\n  -> {r['path']}"
    boxes = None
    if args.boxes:
        try:
            boxes = json.loads(Path(args.boxes).read_text())
        except (OSError, ValueError) as exc:
            raise yolov11.UserError(field="--boxes", value=args.boxes, detail=f"not a readable JSON file ({exc})") from None
    r = yolov11.pool_accept(args.data, args.items, boxes=boxes, split=args.split, workspace=ws, advice=args.advice)
    return r, f"{r['version']}: {r['parent']} with {r['accepted']} pool item(s) added ({r['boxes']} box(es))\n  -> {r['path']}"


def pool_reject(args: argparse.Namespace, ws) -> tuple[object, str]:
    import yolov11

    r = yolov11.pool_reject(args.data, args.items, workspace=ws)
    return r, f"{r['dataset']}: {r['rejected']} pool item(s) rejected"


def demo(args: argparse.Namespace, ws) -> tuple[object, str]:
    import yolov11
    from yolov11.data.report import summarize

    r = yolov11.ensure_demo_dataset(ws)
    return r, summarize(r)


def datasets(args: argparse.Namespace, ws) -> tuple[object, str]:
    """Every dataset and version: a label edit's version names its parent and what it changed."""
    rows = ws.datasets()
    shown = [{**r, "changes": _changes(r.get("diff"))} for r in rows]
    return rows, table(shown, ["name", "version", "parent", "changes", "format", "images", "classes", "path"])


def _changes(diff: dict | None) -> str:
    if diff and "resplit" in diff:
        r = diff["resplit"]
        return f"re-split by family: {r.get('moved', '?')} images moved (val fraction {r.get('val_fraction')}, seed {r.get('seed')})"
    return "" if not diff else f"+{diff.get('added', 0)} -{diff.get('removed', 0)} ~{diff.get('changed', 0)} boxes"


def runs(args: argparse.Namespace, ws) -> tuple[object, str]:
    rows = [
        {
            "id": r["id"], "status": r["status"], "dir": r["dir"], "dataset": r["dataset"], "model": r["model"],
            "metrics": r["metrics"], "created": r["created"],
            # ranks that trained it together and whether DDP averaged their gradients (None: trained before they were recorded)
            "world_size": r.get("world_size"), "ddp": None if r.get("ddp") is None else bool(r["ddp"]),
        }
        for r in ws.runs()
    ]
    return rows, table(
        [{**r, "mAP50-95": (r["metrics"] or {}).get("mAP50-95", "")} for r in rows], ["id", "status", "dataset", "model", "mAP50-95"]
    )


def models(args: argparse.Namespace, ws) -> tuple[object, str]:
    import yolov11

    rows = yolov11.list_models(args.scales)
    return rows, table(rows, ["name", "scale", "params", "gflops", "strides"])


def _launch(args: argparse.Namespace):
    """A torchrun Launch from the train flags, or None when none asks for one."""
    from yolov11.training.distributed import Launch, free_port, gpu_ids

    names = ("nproc_per_node", "nnodes", "node_rank", "master_addr", "master_port")
    given = {n: getattr(args, n) for n in names if getattr(args, n) is not None}
    if not given and not args.torchrun and not args.dry_run:
        return None
    gpus = len(gpu_ids(getattr(args, "device", "cpu")))
    if given.get("nnodes", 1) == 1 and "master_port" not in given:
        given["master_port"] = free_port()  # one machine: its own port, beside other runs' launches
    return Launch(**{"nproc_per_node": max(gpus, 1), **given})


def train(args: argparse.Namespace, ws) -> tuple[object, str]:
    import yolov11

    if args.extra is not None and not isinstance(args.extra, dict):
        raise yolov11.UserError(f"--extra {json.dumps(args.extra)[:60]}: expected a JSON object of Ultralytics arguments")
    given = {f.name: getattr(args, f.name) for f in fields(TrainSettings) if hasattr(args, f.name) and f.name not in ("model", "extra")}
    settings = {**PRESETS[args.preset or "quick look"], **given, **(args.extra or {})}
    launch = _launch(args)
    if args.dry_run:
        r = yolov11.torchrun_plan(args.data, args.model, launch or yolov11.Launch(), workspace=ws, run_id=args.run_id, **settings)
        return r, f"run {r['run']}: {r['nnodes']} node(s) x {r['nproc_per_node']} process(es); on each node run:\n" + "\n".join(
            f"  node {k}: {c}" for k, c in enumerate(r["commands"])
        )
    if launch and launch.nnodes > 1 and launch.node_rank == 0:
        plan = yolov11.torchrun_plan(args.data, args.model, launch, workspace=ws, run_id=args.run_id, **settings)
        args.run_id = plan["run"]
        print("the other nodes run:\n" + "\n".join(plan["commands"][1:]), file=sys.stderr)
    r = yolov11.train(args.data, args.model, workspace=ws, run_id=args.run_id, launch=launch, **settings)
    r = {k: r[k] for k in ("run", "dir", "status", "metrics")} | {"weights": r["weights"]}
    return r, _run_summary(r)


def resume(args: argparse.Namespace, ws) -> tuple[object, str]:
    import yolov11

    r = yolov11.resume(args.run, args.epochs, workspace=ws)
    return r, _run_summary(r)


def eval_(args: argparse.Namespace, ws) -> tuple[object, str]:
    import yolov11

    if args.coco_gt or args.coco_dt:
        if not (args.coco_gt and args.coco_dt):
            raise yolov11.UserError("--coco-gt and --coco-dt go together")
        r = yolov11.coco_evaluate(args.coco_gt, args.coco_dt, evaluator=args.evaluator)
        return r, "\n".join(f"{k:>6} {v:.4f}" for k, v in r["coco"].items())
    r = yolov11.evaluate(
        run=args.run, weights=args.weights, data=args.data, split=args.split, imgsz=args.imgsz, batch=args.batch, device=args.device,
        workspace=ws, sliced=args.slice, slice_size=args.slice_size, slice_overlap=args.slice_overlap,
    )
    if args.slice:
        sliced, plain = r["metrics"], r["unsliced"]["metrics"]
        rows = [{"metric": k, "sliced": sliced[k], "one pass": plain[k]} for k in sliced]
        return r, (f"{r['split']}: {r['images']} full frames, {r['tiles']} tiles, scored by {r['evaluator']} (COCO) for both\n"
                   f"{table(rows, ['metric', 'sliced', 'one pass'])}\n  -> {r['dir']}")
    head = "  ".join(f"{k} {v:.4f}" for k, v in r["metrics"].items())
    coco = "  ".join(f"{k} {v:.4f}" for k, v in r["coco"].items())
    per_class = table(r["per_class"], ["class", "images", "instances", "precision", "recall", "mAP50", "mAP50-95"])
    from yolov11.eval.error_types import in_words

    return r, (
        f"{r['split']}: {head}\n{per_class}\nCOCO: {coco}\n"
        f"where the mAP50 goes (AP50 an oracle fix of each error type alone adds, TIDE): {in_words(r['error_breakdown'])}\n"
        f"  -> {r['dir']} (coco_gt.json, coco_dt.json: re-score with eval --coco-gt/--coco-dt)"
    )


def _export_summary(r: dict) -> str:
    lines = [f"{r['format']} {r['precision']} -> {r['path']} ({r['size_mb']} MB)", f"  bundle -> {r['bundle']}"]
    lines += [f"  {line}" for line in r.get("checks", [])]  # the verification and the INT8 guard, in words (export/explain.py)
    v = r.get("verify")
    if v:
        from yolov11.export.verify import latency_notes

        rows = [{"batch": b, **row} for b, row in v["latency_ms"]["by_batch"].items()]
        lines += ["  " + line for line in table(rows, ["batch", "eager", "exported", "speedup"]).splitlines()]
        lines.append(f"  (ms, median of {v['latency_ms']['repeats']}, {v['latency_ms']['device']})")
        lines += [f"  {note}" for note in latency_notes(v)]
    return "\n".join(lines)


def export(args: argparse.Namespace, ws) -> tuple[object, str]:
    import yolov11

    r = yolov11.export_model(
        args.weights, args.format, run=args.run, imgsz=args.imgsz, dynamic=args.dynamic, half=args.half, int8=args.int8,
        int8_tolerance=args.int8_tolerance, nms=args.nms, opset=args.opset,
        simplify=args.simplify, data=args.data, conf=args.conf, iou=args.iou, verify=args.verify, repeats=args.repeats, workspace=ws,
    )
    return r, _export_summary(r)


def predict(args: argparse.Namespace, ws) -> tuple[object, str]:
    import yolov11

    if Path(args.source).suffix.lower() in yolov11.VIDEO_SUFFIXES:  # a clip: tracked, annotated video written
        r = yolov11.predict_video(
            args.weights, args.source, conf=args.conf, imgsz=args.imgsz, device=args.device, workspace=ws,
            progress=None if args.json else progress_bar(), sliced=args.slice, slice_size=args.slice_size, slice_overlap=args.slice_overlap,
        )
        counts = ", ".join(f"{n} {c}" for c, n in r["counts"].items()) or "nothing"
        return r, (
            f"{Path(r['source']).name}: {r['frames']} frames" + (f" ({r['tiles']} tiles each)" if r.get("tiles") else "")
            + f", {r['duration_s']:.1f} s; distinct objects: {counts}\n  -> {r['video']}"
            + (f"\n  warning: {r['warning']}" if r.get("warning") else "")
        )
    r = yolov11.predict(args.weights, args.source, conf=args.conf, iou=args.iou, imgsz=args.imgsz, workspace=ws, device=args.device,
                        sliced=args.slice, slice_size=args.slice_size, slice_overlap=args.slice_overlap)
    return r, "\n".join(f"{Path(i['image']).name}: {len(i['detections'])} detections"
                         + (f" ({i['tiles']} tiles)" if i.get("tiles") else "") + f" -> {i['annotated']}" for i in r["images"])


def label_issues(args: argparse.Namespace, ws) -> tuple[object, str]:
    import yolov11
    from yolov11.eval.label_folds import estimate

    if args.split == "train" and not args.in_sample:  # k trainings: say how long before they start
        print(f"cross-validation of the train split: {estimate(args.run, args.folds, args.fold_epochs, ws)['text']}", file=sys.stderr)
    r = yolov11.label_issues(args.run, args.split, args.folds, fold_epochs=args.fold_epochs, in_sample=args.in_sample, workspace=ws,
                             progress=None if args.json else progress_bar())
    shown = r["issues"][: args.top]
    rows = [{**i, "box": _box(i["box"]), "suggested": f"{i['suggested_class'] or ''} {_box(i['suggested_box'])}".strip()} for i in shown]
    counts = ", ".join(f"{n} {k}" for k, n in r["counts"].items())
    more = f"\n  ({len(r['issues']) - len(shown)} more: --json lists all)" if len(r["issues"]) > len(shown) else ""
    return r, (
        f"{r['split']} split of {r['dataset']}{' (in-sample: the run learned some wrong labels)' if r.get('in_sample') else ''}: "
        f"{len(r['issues'])} suspicious labels in {r['images']} images ({counts})\n"
        + table(rows, ["score", "kind", "image", "class", "box", "suggested"])
        + more
    )


def advise(args: argparse.Namespace, ws) -> tuple[object, str]:
    import yolov11
    from yolov11.eval.error_types import in_words

    r = yolov11.advise(args.run, args.split, workspace=ws, progress=None if args.json else progress_bar())
    lines = [f"{r['run']} on {r['split']}: mAP50-95 {r['metrics']['mAP50-95']:.4f}; where the mAP50 goes (TIDE oracles): "
             f"{in_words(r['breakdown'])}"]
    for n, a in enumerate(r["actions"], 1):
        lines += [f"{n}. {a['title']}: expected +{a['expected_gain']:.4f} mAP50-95", f"   how: {a['how']}", f"   do: {a['command']}"]
    return r, "\n".join(lines if r["actions"] else [*lines, "nothing to suggest from what this run recorded"])


def _box(box: list | None) -> str:
    return "" if box is None else "[" + ", ".join(f"{v:.0f}" for v in box) + "]"


def publish(args: argparse.Namespace, ws) -> tuple[object, str]:
    import yolov11

    r = yolov11.publish(run=args.run, weights=args.weights, name=args.name, workspace=ws)
    warning = f"\n  warning: {r['warning']}" if r.get("warning") else ""
    return r, (
        f"published {r['name']} ({r['format']}, classes: {', '.join(r['classes'])}): the app's /demo page shows it\n"
        f"  -> {r['weights']}{warning}"
    )


def notebook(args: argparse.Namespace, ws) -> tuple[object, str]:
    from yolov11.codegen.notebook import write_notebook

    path = write_notebook(args.run, args.out, workspace=ws)
    return {"run": args.run, "path": str(path)}, (
        f"{path}: the steps of run {args.run} as a notebook (jupyter lab {path.name}, or run it with jupyter nbconvert --execute)"
    )
