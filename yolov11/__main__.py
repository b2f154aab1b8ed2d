"""The CLI: ``python -m yolov11 <command> ...``, a thin shell over the ``yolov11`` API.

Every command prints a short human summary, or one JSON document with ``--json`` (training
ends with one JSON line). Bad input exits 2 with one line naming the file or field at fault.
The workspace comes from ``--workspace`` or ``YOLOV11_WORKSPACE``; the flag is applied before
``yolov11`` (and so Ultralytics) is imported, because Ultralytics' config dir lives in it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from dataclasses import fields
from pathlib import Path

from yolov11.training.settings import PRESETS, TrainSettings


def _flag(text: str) -> bool:
    if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return text.lower() in ("true", "1", "yes")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse prints the usage too)
        self.exit(2, f"{self.prog}: error: {message}\n")


TRUST_HELP = (
    "load the given .pt even if it needs Python classes beyond a detector's (checkpoints are pickles: "
    "such a file can run code when loaded; only for files you trust)"
)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m yolov11", description="yolov11 workbench: datasets, training, evaluation, export")
    p.add_argument("--workspace", help="workspace folder (default: $YOLOV11_WORKSPACE or ./workspace)")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def cmd(name: str, help: str, weights: bool = False) -> argparse.ArgumentParser:
        c = sub.add_parser(name, help=help)
        c.add_argument("--json", action="store_true", help="print one JSON document instead of a summary")
        c.add_argument("--workspace", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        if weights:
            c.add_argument("--trust-weights", action="store_true", help=TRUST_HELP)
        return c

    c = cmd("import", "import a dataset zip or folder (YOLO, COCO JSON, Pascal VOC, CVAT XML, LabelMe)")
    c.add_argument("src")
    c.add_argument("--name")
    c.add_argument("--val-fraction", type=float, default=0.2)
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--include-difficult", action="store_true", help="keep Pascal VOC objects flagged difficult")
    cmd("datasets", "list the workspace's datasets")
    cmd("runs", "list the workspace's training runs")
    c = cmd("models", "list the model zoo with params and GFLOPs")
    c.add_argument("--scales", default="ns", help="which scales to build and list (default: ns; all: nsmlx)")
    cmd("demo", "generate the embedded demo dataset into the workspace if absent")

    c = cmd("train", "train a detector", weights=True)
    c.add_argument("--data", required=True, help="workspace dataset name or data.yaml path")
    c.add_argument("--model", default=TrainSettings.model, help="zoo name (yolov11n, yolov11s, ...), a .yaml or a .pt")
    c.add_argument("--preset", choices=list(PRESETS), help="start from a preset; flags given override it (default: quick look)")
    for f in fields(TrainSettings):
        if f.name not in ("model", "extra"):
            kind = _flag if isinstance(f.default, bool) else int if f.name == "nbs" else type(f.default) if f.default is not None else str
            c.add_argument(f"--{f.name.replace('_', '-')}", type=kind, default=argparse.SUPPRESS, help=f"default: {f.default}")
    c.add_argument("--extra", type=json.loads, default=None, help="other Ultralytics train arguments as a JSON object")
    c.add_argument("--run-id", help=argparse.SUPPRESS)  # the run the ranks of a torchrun launch share
    g = c.add_argument_group("several GPUs or machines (torchrun; --device 0,1 alone launches one process per GPU)")
    g.add_argument("--nproc-per-node", type=int, help="processes on each machine (default: the GPUs in --device)")
    g.add_argument("--nnodes", type=int, help="machines taking part (default: 1)")
    g.add_argument("--node-rank", type=int, help="this machine's rank, 0 to nnodes-1 (default: 0; node 0 records the run)")
    g.add_argument("--master-addr", help="node 0's address, reachable from every node (default: 127.0.0.1)")
    g.add_argument("--master-port", type=int, help="a free TCP port on node 0 (default: 29500)")
    g.add_argument("--torchrun", action="store_true", help="launch through torchrun even for one process")
    g.add_argument("--dry-run", action="store_true", help="print each node's torchrun command and exit")

    c = cmd("resume", "continue a stopped or interrupted run, optionally to more epochs", weights=True)
    c.add_argument("--run", required=True)
    c.add_argument("--epochs", type=int, help="total epochs to reach (default: the run's plan)")

    c = cmd("eval", "evaluate a run or weights; or COCO JSON detections against ground truth", weights=True)
    c.add_argument("--run")
    c.add_argument("--weights")
    c.add_argument("--data")
    c.add_argument("--split", default="val")
    c.add_argument("--imgsz", type=int)
    c.add_argument("--device", default="cpu")
    c.add_argument("--batch", type=int, default=16)
    c.add_argument("--coco-gt", help="COCO ground truth JSON (with --coco-dt: score saved detections, no model)")
    c.add_argument("--coco-dt", help="COCO detections JSON: a list of {image_id, category_id, bbox, score}")
    c.add_argument("--evaluator", default="faster-coco-eval", choices=["faster-coco-eval", "pycocotools"], help="COCO evaluator of --coco-gt/--coco-dt")

    c = cmd("export", "export weights to ONNX or TorchScript and verify", weights=True)
    c.add_argument("--weights")
    c.add_argument("--run")
    c.add_argument("--format", default="onnx", choices=["onnx", "torchscript"])
    c.add_argument("--imgsz", type=int)
    c.add_argument("--dynamic", nargs="?", const="full", default=False, choices=["batch", "full"], help="dynamic axes: batch, or full (batch, height, width; what --dynamic alone means)")
    c.add_argument("--half", action="store_true", help="FP16")
    c.add_argument("--int8", action="store_true", help="INT8 ONNX, calibrated on the dataset's train images")
    c.add_argument("--nms", action="store_true", help="NMS inside the graph (output: max_det x [x1, y1, x2, y2, score, class])")
    c.add_argument("--opset", type=int, help="ONNX opset (default: the newest this torch supports)")
    c.add_argument("--no-simplify", dest="simplify", action="store_false", help="skip onnxslim")
    c.add_argument("--data", help="dataset for INT8 calibration, verification images and mAP (default: the run's)")
    c.add_argument("--conf", type=float, default=0.25, help="score threshold of --nms graphs, the bundle and the detection check")
    c.add_argument("--iou", type=float, default=0.7)
    c.add_argument("--repeats", type=int, default=10, help="timed calls per latency number (the median is reported)")
    c.add_argument("--verify", action="store_true", help="compare with eager PyTorch (outputs, detections, mAP) and time both")

    c = cmd("predict", "detect objects in images", weights=True)
    c.add_argument("--weights", required=True)
    c.add_argument("--source", required=True)
    c.add_argument("--conf", type=float, default=0.25)
    c.add_argument("--imgsz", type=int)
    c.add_argument("--device", help="cpu or a GPU index (default: the first GPU when there is one)")

    c = cmd("publish", "make a run's model (or a weights file) the one the app's /demo page shows", weights=True)
    c.add_argument("--run")
    c.add_argument("--weights", help=".pt, .onnx or .torchscript file")
    c.add_argument("--name", help="the name /demo shows (default: the run id or the file's stem)")
    return p


def _table(rows: list[dict], cols: list[str]) -> str:
    if not rows:
        return "(none)"
    cells = [[str(r.get(c, "")) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


_BARS: list = []  # open progress bars: closed before an error is printed, so it gets a line of its own


def _progress_bar():
    """A progress callback (fraction, message) that draws a bar on stderr."""
    from tqdm import tqdm

    bar = tqdm(total=100, file=sys.stderr, bar_format="{desc:40.40} {percentage:3.0f}%|{bar:30}|", leave=False, disable=None)  # None: no bar when stderr is not a terminal
    _BARS.append(bar)

    def update(fraction: float, message: str) -> None:
        bar.n = round(fraction * 100)
        bar.set_description_str(message, refresh=True)
        if fraction >= 1:
            bar.close()

    return update


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


def _export_summary(r: dict) -> str:
    lines = [f"{r['format']} {r['precision']} -> {r['path']} ({r['size_mb']} MB)", f"  bundle -> {r['bundle']}"]
    v = r.get("verify")
    if v:
        d, m = v["detections"], v.get("map50_95") or {}
        lines.append(f"  max |diff| vs eager {v['max_abs_diff']:.2e}; detections {'match' if v['detections_match'] else 'DIFFER'} ({d['matched']} of {d['eager']} eager, {d['exported']} exported)")
        if m:
            lines.append(f"  mAP50-95 eager {m['eager']:.4f}, exported {m['exported']:.4f}")
        rows = [{"batch": b, **row} for b, row in v["latency_ms"]["by_batch"].items()]
        lines += ["  " + line for line in _table(rows, ["batch", "eager", "exported", "speedup"]).splitlines()]
        lines.append(f"  (ms, median of {v['latency_ms']['repeats']}, {v['latency_ms']['device']})")
    return "\n".join(lines)


def _trust(args: argparse.Namespace, ws) -> None:
    """--trust-weights: the .pt files this command names load unrestricted (checkpoints.trust)."""
    from yolov11 import checkpoints

    paths = [getattr(args, "weights", None), getattr(args, "model", None)]
    if getattr(args, "run", None):  # resume, eval, export, publish --run R: that run's checkpoints
        weights = Path(ws.require_run(args.run)["dir"]) / "weights"
        paths += [weights / "resume.pt", weights / "last.pt", weights / "best.pt"]
    for path in paths:
        if path and str(path).endswith(".pt") and Path(path).expanduser().is_file():
            checkpoints.trust(path)


def run_command(args: argparse.Namespace) -> tuple[object, str]:
    """Run one command; returns (JSON-able result, human summary)."""
    import yolov11
    from yolov11.data.report import summarize
    from yolov11.training import distributed
    from yolov11.workspace import Workspace

    ws = Workspace.at(None)
    if not distributed.in_torchrun():  # ranks leave it to the launcher (a node's ranks may share the workspace over NFS)
        ws.reconcile()  # runs of processes that died, scratch of dead imports: repaired before anything reads them
    if getattr(args, "trust_weights", False):
        _trust(args, ws)
    if args.command == "import":
        r = yolov11.import_dataset(args.src, name=args.name, val_fraction=args.val_fraction, seed=args.seed, workspace=ws, include_difficult=args.include_difficult, progress=_progress_bar() if not args.json else None)
        return r, summarize(r)
    if args.command == "demo":
        r = yolov11.ensure_demo_dataset(ws)
        return r, summarize(r)
    if args.command == "datasets":
        rows = ws.datasets()
        return rows, _table(rows, ["name", "format", "images", "classes", "path"])
    if args.command == "runs":
        rows = [
            {"id": r["id"], "status": r["status"], "dir": r["dir"], "dataset": r["dataset"], "model": r["model"], "metrics": r["metrics"], "created": r["created"]}
            for r in ws.runs()
        ]
        return rows, _table([{**r, "mAP50-95": (r["metrics"] or {}).get("mAP50-95", "")} for r in rows], ["id", "status", "dataset", "model", "mAP50-95"])
    if args.command == "models":
        rows = yolov11.list_models(args.scales)
        return rows, _table(rows, ["name", "scale", "params", "gflops", "strides"])
    if args.command == "train":
        if args.extra is not None and not isinstance(args.extra, dict):
            raise yolov11.UserError(f"--extra {json.dumps(args.extra)[:60]}: expected a JSON object of Ultralytics arguments")
        given = {f.name: getattr(args, f.name) for f in fields(TrainSettings) if hasattr(args, f.name) and f.name not in ("model", "extra")}
        settings = {**PRESETS[args.preset or "quick look"], **given, **(args.extra or {})}
        launch = _launch(args)
        if args.dry_run:
            r = yolov11.torchrun_plan(args.data, args.model, launch or yolov11.Launch(), workspace=ws, run_id=args.run_id, **settings)
            return r, f"run {r['run']}: {r['nnodes']} node(s) x {r['nproc_per_node']} process(es); on each node run:\n" + "\n".join(f"  node {k}: {c}" for k, c in enumerate(r["commands"]))
        if launch and launch.nnodes > 1 and launch.node_rank == 0:
            plan = yolov11.torchrun_plan(args.data, args.model, launch, workspace=ws, run_id=args.run_id, **settings)
            args.run_id = plan["run"]
            print("the other nodes run:\n" + "\n".join(plan["commands"][1:]), file=sys.stderr)
        r = yolov11.train(args.data, args.model, workspace=ws, run_id=args.run_id, launch=launch, **settings)
        r = {k: r[k] for k in ("run", "dir", "status", "metrics")} | {"weights": r["weights"]}
        m = r["metrics"]
        return r, f"run {r['run']} {r['status']}: mAP50 {m.get('mAP50', 0):.3f}, mAP50-95 {m.get('mAP50-95', 0):.3f}\n  -> {r['dir']}"
    if args.command == "resume":
        r = yolov11.resume(args.run, args.epochs, workspace=ws)
        m = r["metrics"]
        return r, f"run {r['run']} {r['status']}: mAP50 {m.get('mAP50', 0):.3f}, mAP50-95 {m.get('mAP50-95', 0):.3f}\n  -> {r['dir']}"
    if args.command == "eval":
        if args.coco_gt or args.coco_dt:
            if not (args.coco_gt and args.coco_dt):
                raise yolov11.UserError("--coco-gt and --coco-dt go together")
            r = yolov11.coco_evaluate(args.coco_gt, args.coco_dt, evaluator=args.evaluator)
            return r, "\n".join(f"{k:>6} {v:.4f}" for k, v in r["coco"].items())
        r = yolov11.evaluate(run=args.run, weights=args.weights, data=args.data, split=args.split, imgsz=args.imgsz, batch=args.batch, device=args.device, workspace=ws)
        head = "  ".join(f"{k} {v:.4f}" for k, v in r["metrics"].items())
        coco = "  ".join(f"{k} {v:.4f}" for k, v in r["coco"].items())
        table = _table(r["per_class"], ["class", "images", "instances", "precision", "recall", "mAP50", "mAP50-95"])
        return r, f"{r['split']}: {head}\n{table}\nCOCO: {coco}\n  -> {r['dir']} (coco_gt.json, coco_dt.json: re-score with eval --coco-gt/--coco-dt)"
    if args.command == "export":
        r = yolov11.export_model(
            args.weights, args.format, run=args.run, imgsz=args.imgsz, dynamic=args.dynamic, half=args.half, int8=args.int8, nms=args.nms, opset=args.opset,
            simplify=args.simplify, data=args.data, conf=args.conf, iou=args.iou, verify=args.verify, repeats=args.repeats, workspace=ws,
        )
        return r, _export_summary(r)
    if args.command == "predict":
        r = yolov11.predict(args.weights, args.source, conf=args.conf, imgsz=args.imgsz, workspace=ws, device=args.device)
        lines = [f"{Path(i['image']).name}: {len(i['detections'])} detections -> {i['annotated']}" for i in r["images"]]
        return r, "\n".join(lines)
    if args.command == "publish":
        r = yolov11.publish(run=args.run, weights=args.weights, name=args.name, workspace=ws)
        return r, f"published {r['name']} ({r['format']}, classes: {', '.join(r['classes'])}): the app's /demo page shows it\n  -> {r['weights']}"
    raise AssertionError(args.command)


@contextlib.contextmanager
def _stdout_to_stderr():
    """With --json, stdout carries only the JSON: library output goes to stderr meanwhile."""
    moved = [h for h in logging.getLogger("ultralytics").handlers if getattr(h, "stream", None) is sys.stdout]
    for h in moved:
        h.setStream(sys.stderr)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        for h in moved:
            h.setStream(sys.stdout)


def _close_bars() -> None:
    while _BARS:
        _BARS.pop().close()


def _log_crash() -> Path:
    """Append the current exception's traceback to <workspace>/logs/errors.log; returns the path."""
    import time
    import traceback

    from yolov11.workspace import default_root

    path = default_root() / "logs" / "errors.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} python -m yolov11 {' '.join(sys.argv[1:])}\n{traceback.format_exc()}\n")
    except OSError:
        pass
    return path


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.workspace:
        os.environ["YOLOV11_WORKSPACE"] = os.path.abspath(os.path.expanduser(args.workspace))
    import yolov11  # noqa: F401  (after the workspace is known: offline.py reads it)
    from yolov11.errors import UserError

    try:
        with _stdout_to_stderr() if args.json else contextlib.nullcontext():
            result, summary = run_command(args)
    except UserError as exc:
        _close_bars()
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)  # one line, whatever a library's message held
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug, not bad input: one line here, the traceback in the workspace's log
        _close_bars()
        print(f"error: unexpected {type(exc).__name__}: {str(exc)[:200]} (a bug; details in {_log_crash()})", file=sys.stderr)
        return 1
    print(json.dumps(result, default=str, ensure_ascii=False) if args.json else summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
