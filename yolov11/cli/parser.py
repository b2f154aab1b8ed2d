"""The CLI's arguments: one subparser per command, each naming its function in ``cli.commands``
(``set_defaults(func="<function name>")``, which ``cli.main`` looks up: the parser imports no
command, so the snippet builders can read its flags). Every TrainSettings field is a ``train``
flag, with its help, range and choices from the field's metadata."""

from __future__ import annotations

import argparse
import json
from dataclasses import fields

from yolov11.data.pool import STATES as POOL_STATES
from yolov11.data.pool_queue import STRATEGIES as POOL_STRATEGIES
from yolov11.eval.settings import EvalSettings
from yolov11.export.formats import FORMATS, model_names
from yolov11.export.settings import ExportSettings, help_of
from yolov11.training.settings import PRESETS, TrainSettings, describe_field

ADVICE_HELP = ("RUN:KIND, the advice (python -m yolov11 advise) this follows: kept in the new version's lineage, so a run trained "
               "on it is scored against the gain that advice expected")


def _flag(text: str) -> bool:
    if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return text.lower() in ("true", "1", "yes")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse prints the usage too)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _kind(f) -> type:
    """The argparse type of a TrainSettings field: true/false flags, its metadata's number kind, else text."""
    if isinstance(f.default, bool):
        return _flag
    return f.metadata.get("kind") or str


def _help(name: str) -> str:
    d = describe_field(name)
    span = f"; {d['range']}" if d["range"] else f"; one of {', '.join(c or 'nothing' for c in d['choices'])}" if d["choices"] else ""
    return f"{d['help']} (default: {d['default'] if d['default'] not in ('', None) else 'none'}{span})".replace("%", "%%")


TRUST_HELP = (
    "load the given .pt even if it needs Python classes beyond a detector's (checkpoints are pickles: "
    "such a file can run code when loaded; only for files you trust)"
)


MODEL_HELP = f"a .pt, or an exported model: {', '.join(model_names())}"


def add_slice_flags(c: argparse.ArgumentParser) -> None:
    """--slice [auto], --slice-size, --slice-overlap: small objects found tile by tile (serve/sliced.py)."""
    c.add_argument("--slice", nargs="?", const="on", choices=["on", "auto"],
                   help="small objects: predict tile by tile (auto: only images with a side over twice the model's input)")
    c.add_argument("--slice-size", type=int, help="the tile side in pixels (default: the model's input size)")
    c.add_argument("--slice-overlap", type=float, help="the share of a tile its neighbour repeats (default 0.2)")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m yolov11", description="yolov11 workbench: datasets, training, evaluation, export")
    p.add_argument("--workspace", help="workspace folder (default: $YOLOV11_WORKSPACE or ./workspace)")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def cmd(name: str, help: str, func: str, weights: bool = False) -> argparse.ArgumentParser:
        c = sub.add_parser(name, help=help)
        c.set_defaults(func=func)
        c.add_argument("--json", action="store_true", help="print one JSON document instead of a summary")
        c.add_argument("--workspace", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        if weights:
            c.add_argument("--trust-weights", action="store_true", help=TRUST_HELP)
        return c

    c = cmd("import", "import a dataset zip or folder (YOLO, COCO JSON, Pascal VOC, CVAT XML, LabelMe, CreateML JSON)", "import_")
    c.add_argument("src")
    c.add_argument("--name")
    c.add_argument("--val-fraction", type=float, default=0.2)
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--include-difficult", action="store_true", help="keep Pascal VOC objects flagged difficult")
    c.add_argument("--unlabelled-as-background", action="store_true",
                   help="keep images that no annotation names (no Pascal VOC XML or LabelMe JSON, not listed by the CreateML "
                        "JSON or CVAT XML) as backgrounds; by default they are left out and named in the report "
                        "(YOLO: an image without a .txt is a background either way)")
    c = cmd("resplit", "re-split a dataset's train and val by family (augmented copies of one photo kept on one side) as a new "
                       "version NAME@vN (a test split stays as it is)", "resplit")
    c.add_argument("--data", required=True, help="the workspace dataset (or version) to re-split")
    c.add_argument("--val-fraction", type=float, default=0.2, help="share of the images that go to val (default: 0.2)")
    c.add_argument("--seed", type=int, default=0, help="the split's seed: the same seed gives the same split (default: 0)")
    c = cmd("tile", "cut a dataset's train and val images into overlapping tiles for small objects, as a new version NAME@vN", "tile")
    c.add_argument("--data", required=True, help="the workspace dataset (or version) to tile")
    c.add_argument("--size", type=int, default=640, help="the tile side in pixels: the imgsz you will train at (default: 640)")
    c.add_argument("--overlap", type=float, default=0.2, help="the share of a tile its neighbour repeats (default: 0.2)")
    c.add_argument("--min-visible", type=float, default=0.5, help="a box cut by a tile edge is kept when this share is left (default 0.5)")
    c.add_argument("--empty-ratio", type=float, default=0.2, help="tiles without boxes kept per tile with boxes (default: 0.2)")
    c.add_argument("--seed", type=int, default=0, help="which empty tiles are kept (default: 0)")
    c.add_argument("--advice", help=ADVICE_HELP)
    c = cmd("pool-add", "add photos and video frames (one every --every seconds) to a dataset's unlabeled pool", "pool_add")
    c.add_argument("--data", required=True, help="the workspace dataset whose pool takes them (its versions share one pool)")
    c.add_argument("sources", nargs="+", metavar="SOURCE", help="photos, videos (up to 4 hours each), or zips or folders of them")
    c.add_argument("--every", type=float, default=1.0, help="seconds between the frames kept of a video (default: 1)")
    c = cmd("pool-list", "list a dataset's pool: each item's id, state and source", "pool_list")
    c.add_argument("--data", required=True, help="the workspace dataset")
    c.add_argument("--state", choices=list(POOL_STATES), help="only the items in this state")
    c = cmd("prelabel", "suggest boxes for a dataset's pool with a run's model or weights (any format predict loads)", "prelabel")
    c.add_argument("--data", required=True, help="the workspace dataset whose pool is pre-labelled")
    c.add_argument("--run", help="the run whose best weights suggest")
    c.add_argument("--weights", help=MODEL_HELP)
    c.add_argument("--conf", type=float, default=0.25, help="suggestions at this confidence and above (default: 0.25)")
    add_slice_flags(c)
    c = cmd("pool-queue", "the pool items to label first, by a strategy (deterministic for a seed)", "pool_queue")
    c.add_argument("--data", required=True, help="the workspace dataset")
    c.add_argument("--strategy", default="mixed", choices=list(POOL_STRATEGIES), help="how to order them (default: mixed)")
    c.add_argument("--limit", type=int, help="at most this many items (default: all not yet reviewed)")
    c.add_argument("--seed", type=int, default=0, help="the order's seed (default: 0)")
    c = cmd("pool-accept", "add pool items (their suggestions, or --boxes) to the dataset as one new version NAME@vN", "pool_accept")
    c.add_argument("--data", required=True, help="the workspace dataset (or version) the new version follows")
    c.add_argument("--items", help="item ids, comma-separated (as pool-list shows them)")
    c.add_argument("--reviewed", action="store_true",
                   help="instead of --items: the items reviewed in the app's review queue (its draft), with their boxes as reviewed")
    c.add_argument("--boxes", help='a JSON file mapping item ids to boxes: [{"class": name or id, "box": [x1, y1, x2, y2]}] in pixels')
    c.add_argument("--split", default="train", choices=["train", "val"],
                   help="where the items go (default: train, so val stays comparable)")
    c.add_argument("--advice", help=ADVICE_HELP)
    c = cmd("pool-reject", "mark pool items as not useful: they leave the queue", "pool_reject")
    c.add_argument("--data", required=True, help="the workspace dataset")
    c.add_argument("--items", required=True, help="item ids, comma-separated")
    cmd("datasets", "list the workspace's datasets", "datasets")
    cmd("runs", "list the workspace's training runs", "runs")
    c = cmd("models", "list the model zoo with params and GFLOPs", "models")
    c.add_argument("--scales", default="ns", help="which scales to build and list (default: ns; all: nsmlx)")
    cmd("demo", "generate the embedded demo dataset into the workspace if absent", "demo")

    c = cmd("train", "train a detector", "train", weights=True)
    c.add_argument("--data", required=True, help="workspace dataset name or data.yaml path")
    c.add_argument("--model", default=TrainSettings.model, help=_help("model"))
    c.add_argument("--preset", choices=list(PRESETS), help="start from a preset; flags given override it (default: quick look)")
    for f in fields(TrainSettings):
        if f.name not in ("model", "extra"):
            c.add_argument(f"--{f.name.replace('_', '-')}", type=_kind(f), default=argparse.SUPPRESS, help=_help(f.name))
    c.add_argument("--extra", type=json.loads, default=None, help=describe_field("extra")["help"])
    c.add_argument("--run-id", help=argparse.SUPPRESS)  # the run the ranks of a torchrun launch share
    g = c.add_argument_group("several GPUs or machines (torchrun; --device 0,1 alone launches one process per GPU)")
    g.add_argument("--nproc-per-node", type=int, help="processes on each machine (default: the GPUs in --device)")
    g.add_argument("--nnodes", type=int, help="machines taking part (default: 1)")
    g.add_argument("--node-rank", type=int, help="this machine's rank, 0 to nnodes-1 (default: 0; node 0 records the run)")
    g.add_argument("--master-addr", help="node 0's address, reachable from every node (default: 127.0.0.1)")
    g.add_argument("--master-port", type=int, help="a free TCP port on node 0 (default: 29500)")
    g.add_argument("--torchrun", action="store_true", help="launch through torchrun even for one process")
    g.add_argument("--dry-run", action="store_true", help="print each node's torchrun command and exit")

    c = cmd("resume", "continue a stopped or interrupted run, optionally to more epochs", "resume", weights=True)
    # --run-id: the same, in the form torchrun's own parser lets through (it reads "--run" as an ambiguous --run-path)
    c.add_argument("--run", "--run-id", dest="run", required=True)
    c.add_argument("--epochs", type=int, help="total epochs to reach (default: the run's plan)")

    c = cmd("eval", "evaluate a run or weights; or COCO JSON detections against ground truth", "eval_", weights=True)
    c.add_argument("--run")
    c.add_argument("--weights")
    c.add_argument("--data")
    c.add_argument("--split", default=EvalSettings.split, help=help_of(EvalSettings, "split"))
    c.add_argument("--imgsz", type=int, help=help_of(EvalSettings, "imgsz"))
    c.add_argument("--device", default=EvalSettings.device, help=help_of(EvalSettings, "device"))
    c.add_argument("--batch", type=int, default=EvalSettings.batch, help=help_of(EvalSettings, "batch"))
    c.add_argument("--coco-gt", help="COCO ground truth JSON (with --coco-dt: score saved detections, no model)")
    c.add_argument("--coco-dt", help="COCO detections JSON: a list of {image_id, category_id, bbox, score}")
    c.add_argument(
        "--evaluator", default="faster-coco-eval", choices=["faster-coco-eval", "pycocotools"], help="COCO evaluator of --coco-gt/--coco-dt"
    )
    add_slice_flags(c)

    c = cmd("export", f"export weights to {', '.join(f.label for f in FORMATS.values())} and verify", "export", weights=True)
    c.add_argument("--weights")
    c.add_argument("--run")
    x = ExportSettings
    c.add_argument("--format", default=x.format, choices=list(FORMATS), help=help_of(x, "format"))
    c.add_argument("--imgsz", type=int, help=help_of(x, "imgsz"))
    c.add_argument("--dynamic", nargs="?", const="full", default=x.dynamic, choices=["batch", "full"], help=help_of(x, "dynamic"))
    c.add_argument("--half", action="store_true", help=help_of(x, "half"))
    c.add_argument("--int8", action="store_true", help=help_of(x, "int8"))
    c.add_argument("--int8-tolerance", type=float, default=x.int8_tolerance, help=help_of(x, "int8_tolerance"))
    c.add_argument("--nms", action="store_true", help=help_of(x, "nms"))
    c.add_argument("--opset", type=int, help=help_of(x, "opset"))
    c.add_argument("--no-simplify", dest="simplify", action="store_false", help="skip onnxslim")
    c.add_argument("--data", help=help_of(x, "data"))
    c.add_argument("--conf", type=float, default=x.conf, help=help_of(x, "conf"))
    c.add_argument("--iou", type=float, default=x.iou, help=help_of(x, "iou"))
    c.add_argument("--repeats", type=int, default=x.repeats, help=help_of(x, "repeats"))
    c.add_argument("--verify", action="store_true", help="compare with eager PyTorch (outputs, detections, mAP) and time both")

    c = cmd("predict", "detect objects in images, or track them through a video (.mp4, .webm, .mov)", "predict", weights=True)
    c.add_argument("--weights", required=True, help=MODEL_HELP)
    c.add_argument(
        "--source", required=True,
        help="an image, a folder of images, or a video: per-frame detections, track ids and per-class counts, and an annotated video",
    )
    c.add_argument("--conf", type=float, default=0.25)
    c.add_argument("--iou", type=float, default=0.7, help="NMS IoU: boxes of one class overlapping more are one object (default: 0.7)")
    c.add_argument("--imgsz", type=int)
    c.add_argument("--device", help="cpu or a GPU index (default: the first GPU when there is one)")
    add_slice_flags(c)

    c = cmd("label-issues", "rank the labels a run's model disagrees with: missing, spurious, wrong_class, badly_located", "label_issues")
    c.add_argument("--run", required=True)
    c.add_argument(
        "--split", default="val", choices=["val", "train"],
        help="val: the run's model predicts it; train: cross-validation, --folds models trained on the other folds (default: val)",
    )
    c.add_argument("--folds", type=int, default=2, help="folds of the train split's cross-validation, 2 to 10 (default: 2)")
    c.add_argument("--fold-epochs", type=int, help="epochs of each fold model (default: the run's)")
    c.add_argument("--in-sample", action="store_true",
                   help="train split: the run's own model scores it instead of --folds models (seconds; it learned some wrong labels, so "
                        "it flags fewer)")
    c.add_argument("--top", type=int, default=20, help="issues the summary lists (--json: all) (default: 20)")

    c = cmd("advise", "what to fix next: actions ranked by the mAP50-95 each is expected to add, with the evidence and the command",
            "advise")
    c.add_argument("--run", required=True)
    c.add_argument("--split", default="val", choices=["val", "test", "train"], help="the split whose errors are read (default: val)")

    c = cmd("publish", "make a run's model (or a weights file) the one the app's /demo page shows", "publish", weights=True)
    c.add_argument("--run")
    c.add_argument("--weights", help=MODEL_HELP)
    c.add_argument("--name", help="the name /demo shows (default: the run id or the file's stem)")

    c = cmd(
        "notebook", "write a run's steps (import, training, evaluations, exports, a prediction) as a Jupyter notebook that reruns them",
        "notebook",
    )
    c.add_argument("--run", required=True)
    c.add_argument("--out", help="the .ipynb to write (default: runs/<run>/<run>.ipynb)")
    return p
