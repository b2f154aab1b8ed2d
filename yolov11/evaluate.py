"""Evaluation: Ultralytics' validator on a run or weights, and COCO metrics from JSON files.

``evaluate`` returns overall precision / recall / mAP50 / mAP50-95 and a per-class table, and
writes ``metrics.json`` into its output folder. ``coco_evaluate`` scores saved detections in
COCO format against COCO ground truth with pycocotools, the reference implementation, so
numbers from other tools can be checked.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

from yolov11 import offline
from yolov11.errors import UserError
from yolov11.train.runner import short_metrics
from yolov11.workspace import Workspace

COCO_NAMES = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]


def _sources(ws: Workspace, run: str | None, weights: str | None, data: str | None) -> tuple[Path, Path, dict]:
    if run:
        record = ws.require_run(run)
        return ws.run_weights(run), ws.resolve_data(data or record["dataset"]), record["settings"] or {}
    if not weights:
        raise UserError("eval: give --run R, or --weights W with --data D")
    path = Path(weights).expanduser()
    if not path.is_file():
        raise UserError(f"--weights {weights}: file not found")
    if not data:
        raise UserError("--data: required with --weights (a workspace dataset name or a data.yaml path)")
    return path.resolve(), ws.resolve_data(data), {}


def evaluate(
    run: str | None = None,
    weights: str | Path | None = None,
    data: str | None = None,
    split: str = "val",
    imgsz: int | None = None,
    batch: int = 16,
    device: str = "cpu",
    workspace: Workspace | str | Path | None = None,
) -> dict:
    """Validate a run's best weights (or ``weights`` on ``data``) on ``split``."""
    offline.prepare()
    from ultralytics import YOLO

    ws = Workspace.at(workspace)
    weights_path, data_yaml, settings = _sources(ws, run, str(weights) if weights else None, data)
    if split not in ("train", "val", "test"):
        raise UserError(f"--split {split}: use train, val or test")
    out_dir = Path(ws.require_run(run)["dir"]) if run else ws.runs_dir / "evaluations"
    model = YOLO(str(weights_path))
    try:
        m = model.val(
            data=str(data_yaml),
            split=split,
            imgsz=imgsz or settings.get("imgsz") or model.ckpt.get("train_args", {}).get("imgsz", 640),
            batch=batch,
            device=device,
            project=str(out_dir),
            name=f"eval-{split}",
            exist_ok=True,
            verbose=False,
            plots=True,
        )
    except (FileNotFoundError, KeyError) as exc:
        raise UserError(f"--data {data_yaml}: {exc}") from None
    per_class = [
        {
            "class": row["Class"],
            "images": int(row["Images"]),
            "instances": int(row["Instances"]),
            "precision": row["Box-P"],
            "recall": row["Box-R"],
            "mAP50": row["mAP50"],
            "mAP50-95": row["mAP50-95"],
        }
        for row in m.summary()
    ]
    result = {
        "run": run,
        "weights": str(weights_path),
        "data": str(data_yaml),
        "split": split,
        "metrics": short_metrics(m.results_dict),
        "per_class": per_class,
        "speed_ms": {k: round(float(v), 3) for k, v in m.speed.items()},
        "dir": str(m.save_dir),
    }
    Path(m.save_dir).mkdir(parents=True, exist_ok=True)
    (Path(m.save_dir) / "metrics.json").write_text(json.dumps(result, indent=2))
    return result


def _load_json(path: str | Path, flag: str):
    p = Path(path).expanduser()
    if not p.is_file():
        raise UserError(f"{flag} {path}: file not found")
    try:
        return json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise UserError(f"{flag} {p.name}: not valid JSON (line {exc.lineno}: {exc.msg})") from None


def coco_evaluate(coco_gt: str | Path, coco_dt: str | Path) -> dict:
    """The 12 COCO bbox numbers of detections ``coco_dt`` against ground truth ``coco_gt``."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt_doc, dt_doc = _load_json(coco_gt, "--coco-gt"), _load_json(coco_dt, "--coco-dt")
    if not isinstance(gt_doc, dict) or not all(k in gt_doc for k in ("images", "annotations", "categories")):
        raise UserError(f"--coco-gt {Path(coco_gt).name}: needs 'images', 'annotations' and 'categories'")
    if isinstance(dt_doc, dict) and "annotations" in dt_doc:
        dt_doc = dt_doc["annotations"]
    if not isinstance(dt_doc, list):
        raise UserError(f"--coco-dt {Path(coco_dt).name}: expected a list of detections")
    for i, d in enumerate(dt_doc):
        missing = {"image_id", "category_id", "bbox", "score"} - set(d)
        if missing:
            raise UserError(f"--coco-dt {Path(coco_dt).name}: detection {i} lacks {', '.join(sorted(missing))}")
    if not dt_doc:
        return {"coco": dict.fromkeys(COCO_NAMES, 0.0), "detections": 0}
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        gt = COCO()
        gt.dataset = gt_doc
        gt.createIndex()
        dt = gt.loadRes(dt_doc)
        ev = COCOeval(gt, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {"coco": {name: round(float(v), 6) for name, v in zip(COCO_NAMES, ev.stats)}, "detections": len(dt_doc)}
