"""Label issues: the labels a trained model most disagrees with, most suspicious first.

The predictions are out-of-sample: the val split as the run's model predicts it (the
evaluation's ``coco_dt.json``), or, for the train split, k models each trained on the other
folds (``eval/label_folds.py``). ``in_sample=True`` scores the train split with the run's own
model instead (its evaluation of the train split: seconds, not k trainings); that model learned
some of the wrong labels and agrees with them, so it flags fewer: a lower bound, which the advice
uses when the train labels have no k-fold score. cleanlab's object-detection module scores every label and
prediction (``cleanlab.object_detection.rank``: swapped, badly located and overlooked box
scores, lower = more likely wrong); the geometry of the model's confident boxes around a label
says which kind of mistake it is:

    missing        the model finds an object no label has          (cleanlab: overlooked score)
    wrong_class    a confident box of another class covers it      (cleanlab: swap score)
    badly_located  the model's box of that class overlaps it, but not well  (cleanlab: badloc score)
    spurious       the model sees nothing there, at any class      (1 - the highest confidence of
                   any box touching it; cleanlab has no such type)

Each issue: ``{"image" (path in the dataset folder, as edit_labels names it), "kind", "class",
"box" (pixels, the label's), "suggested_class", "suggested_box", "score"}`` (score = 1 - the
quality score, so higher is more suspicious; ``class``/``box`` are None for missing,
``suggested_*`` None where there is nothing to suggest).
"""

from __future__ import annotations

import json
import warnings
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from yolov11 import liveness
from yolov11.boxes import box_iou, xywh_to_xyxy
from yolov11.errors import UserError
from yolov11.workspace import Workspace
from yolov11.workspace.paths import write_whole

KINDS = ("missing", "spurious", "wrong_class", "badly_located")
SPLITS = ("val", "train")
# Measured on the seeded corruption test (tests/test_label_issues.py): a confidence of 0.25 is
# Ultralytics' predict default, what the Predict tab shows as "found".
SEEN_CONF = 0.25  # a box at this confidence or more is one the model "sees"
MIN_CONF = 0.01  # detections below this are left out (evaluate keeps >= 0.001: thousands of them)
WELL_PLACED_IOU = 0.8  # a label the model's same-class box overlaps this much is fine
COVERS_IOU = 0.5  # another class's box this much over a label: the label's class is suspect
TOUCHES_IOU = 0.1  # below this the model's box is about something else
DUPLICATE_IOU = 0.5  # two "missing" suggestions overlapping this much are one object


def _per_image(gt_doc: dict, detections: list[dict]) -> list[dict]:
    """Each image's label boxes and classes and its predictions (conf >= MIN_CONF), class ids from 0."""
    images = {im["id"]: {"image": im, "boxes": [], "classes": [], "pred": [], "pred_cls": [], "conf": []} for im in gt_doc["images"]}
    for a in gt_doc["annotations"]:
        images[a["image_id"]]["boxes"].append(xywh_to_xyxy(a["bbox"])[0].tolist())
        images[a["image_id"]]["classes"].append(a["category_id"] - 1)
    for d in detections:
        if d["score"] >= MIN_CONF and d["image_id"] in images:
            im = images[d["image_id"]]
            im["pred"].append(xywh_to_xyxy(d["bbox"])[0].tolist())
            im["pred_cls"].append(d["category_id"] - 1)
            im["conf"].append(d["score"])
    out = []
    for im in images.values():
        by_class = np.argsort(np.array(im["pred_cls"], int), kind="stable")  # cleanlab numbers predictions class by class
        out.append({
            "image": im["image"],
            "boxes": np.array(im["boxes"], float).reshape(-1, 4),
            "classes": np.array(im["classes"], int),
            "pred": np.array(im["pred"], float).reshape(-1, 4)[by_class],
            "pred_cls": np.array(im["pred_cls"], int)[by_class],
            "conf": np.array(im["conf"], float)[by_class],
        })
    return out


def _cleanlab_inputs(images: list[dict], n_classes: int) -> tuple[list[dict], list[list[np.ndarray]]]:
    """cleanlab's layout: labels {"bboxes", "labels"}; predictions one (M_k, 5) array per class.
    One empty class more than the dataset has: cleanlab takes a 3-element prediction whose
    shapes happen to line up for its (boxes, labels, probabilities) layout."""
    labels, predictions = [], []
    for im in images:
        labels.append({"bboxes": im["boxes"], "labels": im["classes"]})
        rows = np.hstack([im["pred"], im["conf"][:, None]])
        predictions.append([rows[im["pred_cls"] == k] for k in range(n_classes)] + [np.zeros((0, 5))])
    return labels, predictions


def _scores(images: list[dict], n_classes: int) -> tuple[list, list]:
    """cleanlab's swap and badloc scores of every label box (lower: more likely wrong)."""
    from cleanlab.object_detection import rank

    labels, predictions = _cleanlab_inputs(images, n_classes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cleanlab warns about its own thresholds; ours are set
        swap = rank.compute_swap_box_scores(labels=labels, predictions=predictions, high_probability_threshold=SEEN_CONF)
        badloc = rank.compute_badloc_box_scores(labels=labels, predictions=predictions, low_probability_threshold=SEEN_CONF)
    return swap, badloc


def _overlooked(im: dict, ious: np.ndarray, n_classes: int) -> list[tuple[int, float]]:
    """(prediction, cleanlab's overlooked score) of the confident predictions no label overlaps
    by TOUCHES_IOU, lowest score first. cleanlab leaves out any prediction touching a label at
    all, but a vest's box touches its wearer's head box: each candidate is scored against the
    labels it does not touch."""
    from cleanlab.object_detection import rank

    candidates = [
        j for j in range(len(im["pred"])) if im["conf"][j] >= SEEN_CONF and (ious.shape[0] == 0 or ious[:, j].max() < TOUCHES_IOU)
    ]
    scored = []
    for j in candidates:
        apart = ious[:, j] == 0 if ious.shape[0] else np.zeros(0, bool)
        one = {
            "pred": im["pred"], "pred_cls": im["pred_cls"], "conf": im["conf"], "boxes": im["boxes"][apart], "classes": im["classes"][apart]
        }
        labels, predictions = _cleanlab_inputs([one], n_classes)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            score = rank.compute_overlooked_box_scores(labels=labels, predictions=predictions, high_probability_threshold=SEEN_CONF)[0][j]
        scored.append((j, float(score)))
    return sorted(scored, key=lambda js: js[1])


def _issue(im: dict, kind: str, names: list[str], cls, box, suggested_cls, suggested_box, quality: float) -> dict:
    name = lambda c: None if c is None else names[int(c)]  # noqa: E731
    rounded = lambda b: None if b is None else [round(float(v), 1) for v in b]  # noqa: E731
    return {
        "image": im["image"].get("file_name"),
        "kind": kind,
        "class": name(cls),
        "box": rounded(box),
        "suggested_class": name(suggested_cls),
        "suggested_box": rounded(suggested_box),
        "score": round(float(np.clip(1.0 - np.nan_to_num(quality, nan=1.0), 0.0, 1.0)), 4),  # no score: not suspicious
    }


def _label_issue(im: dict, i: int, ious: np.ndarray, names: list[str], swap: float, badloc: float) -> dict | None:
    """The issue of label box i, if any, from the model's confident boxes around it."""
    k, box = im["classes"][i], im["boxes"][i]
    seen = im["conf"] >= SEEN_CONF
    same, other = seen & (im["pred_cls"] == k), seen & (im["pred_cls"] != k)
    best = lambda mask: (int(np.argmax(np.where(mask, ious, -1))), float(ious[mask].max())) if mask.any() else (None, 0.0)  # noqa: E731
    s_idx, s_iou = best(same)
    o_idx, o_iou = best(other)
    if s_iou >= WELL_PLACED_IOU:
        return None
    if o_iou >= COVERS_IOU and o_iou > s_iou:
        return _issue(im, "wrong_class", names, k, box, im["pred_cls"][o_idx], im["pred"][o_idx], swap)
    if s_iou >= TOUCHES_IOU:
        return _issue(im, "badly_located", names, k, box, None, im["pred"][s_idx], badloc)
    if o_iou >= TOUCHES_IOU:  # only another class's box, off the label: both are suspect
        return _issue(im, "badly_located", names, k, box, im["pred_cls"][o_idx], im["pred"][o_idx], badloc)
    touching = ious >= TOUCHES_IOU
    return _issue(im, "spurious", names, k, box, None, None, float(im["conf"][touching].max()) if touching.any() else 0.0)


def find_issues(gt_doc: dict, detections: list[dict], names: list[str]) -> list[dict]:
    """The issues of a COCO ground truth and its detections (as evaluate writes them), most suspicious first."""
    images = _per_image(gt_doc, detections)
    if not images:
        return []
    swap, badloc = _scores(images, len(names))
    issues = []
    for n, im in enumerate(images):
        ious = box_iou(im["boxes"], im["pred"]) if len(im["pred"]) else np.zeros((len(im["boxes"]), 0))
        for i in range(len(im["boxes"])):
            found = _label_issue(im, i, ious[i], names, swap[n][i], badloc[n][i])
            if found:
                issues.append(found)
        kept: list[int] = []
        # the best-scored suggestion of each object: a helmet and a head box at one place are one object
        for j, score in _overlooked(im, ious, len(names)):
            if kept and box_iou(im["pred"][[j]], im["pred"][kept]).max() >= DUPLICATE_IOU:
                continue
            kept.append(j)
            issues.append(_issue(im, "missing", names, None, None, im["pred_cls"][j], im["pred"][j], score))
    return sorted(issues, key=lambda x: -x["score"])


def issues_path(ws: Workspace, run: str, split: str, in_sample: bool = False) -> Path:
    return Path(ws.require_run(run)["dir"]) / f"label-issues-{split}{'-in-sample' if in_sample else ''}.json"


def label_issues(run: str, split: str = "val", folds: int = 2, *, fold_epochs: int | None = None, in_sample: bool = False,
                 workspace: Workspace | str | Path | None = None, progress=None) -> dict:
    """Rank the labels of ``split`` that run ``run``'s model disagrees with (see the module docstring).

    ``val``: the run's model on the val split (its saved evaluation, else one now). ``train``:
    ``folds`` models (``fold_epochs`` each, default the run's) trained on the other folds
    predict each fold; ``label_folds.estimate`` says how long before it starts; ``in_sample``: the
    run's own model on the train split instead (see the module docstring). Returns
    ``{"run", "split", "dataset", "dataset_dir", "images", "labels", "counts", "issues"}`` (+ "folds"
    or "in_sample": true), also written to ``runs/<run>/label-issues-<split>.json``
    (``label-issues-train-in-sample.json`` in-sample).
    """
    ws = Workspace.at(workspace)
    record = ws.require_run(run)
    if split not in SPLITS:
        raise UserError(field="--split", value=split, detail="use val or train")
    if in_sample and split != "train":
        raise UserError(field="--in-sample", value=split, detail="only the train split is scored in-sample (val always is out-of-sample)")
    if record["status"] not in ("done", "stopped", "interrupted"):
        raise UserError(field="--run", value=run, detail=f"it is {record['status']}; label issues need a finished run")
    folded = split == "train" and not in_sample
    job = f"label issues of its {split} split" + (f" ({folds} folds: fold models train in its folder)" if folded else "")
    with ExitStack() as held:
        try:  # the run's folder is marked as used: deleting the run is refused until this ends
            held.enter_context(liveness.using(Path(record["dir"]), ws.owners_dir, job))
        except FileNotFoundError:
            raise UserError(field="--run", value=run, detail="its folder is gone (the run was deleted)") from None
        if ws.run(run) is None:
            raise UserError(field="--run", value=run, detail="the run was deleted")
        return _find(ws, run, record, split, folds if folded else None, fold_epochs, progress or (lambda fraction, message: None))


def _find(ws: Workspace, run: str, record: dict, split: str, folds: int | None, fold_epochs: int | None, notify) -> dict:
    """``folds`` None: the run's own model predicts ``split`` (its saved evaluation, else one now)."""
    from yolov11.eval import label_folds
    from yolov11.eval.evaluate import evaluate, saved_evaluation

    if folds is None:
        saved = saved_evaluation(run, split, workspace=ws)
        if saved is None:
            notify(0.05, f"predicting the {split} split")
            saved = evaluate(run=run, split=split, workspace=ws)
        gt_doc = json.loads(Path(saved["files"]["coco_gt"]).read_text())
        detections = json.loads(Path(saved["files"]["coco_dt"]).read_text())
        extra = {"in_sample": True} if split == "train" else {}
    else:
        gt_doc, detections = label_folds.predictions(ws, run, folds, fold_epochs, notify)
        extra = {"folds": folds}
    names = [c["name"] for c in sorted(gt_doc["categories"], key=lambda c: c["id"])]
    notify(0.95, "scoring labels (cleanlab)")
    issues = find_issues(gt_doc, detections, names)
    result = {
        "run": run,
        "split": split,
        "dataset": record["dataset"],
        "dataset_dir": str(ws.resolve_data(record["dataset"]).parent),
        **extra,
        "images": len(gt_doc["images"]),
        "labels": len(gt_doc["annotations"]),
        "counts": {k: sum(1 for i in issues if i["kind"] == k) for k in KINDS},
        "issues": issues,
    }
    write_whole(issues_path(ws, run, split, bool(extra.get("in_sample"))), json.dumps(result))
    notify(1.0, f"{len(issues)} suspicious labels")
    return result


def saved_label_issues(run: str, split: str = "val", workspace: Workspace | str | Path | None = None,
                       in_sample: bool = False) -> dict | None:
    """What an earlier ``label_issues`` found for a run and split (``in_sample``: its in-sample train score), or None."""
    path = issues_path(Workspace.at(workspace), run, split, in_sample)
    return json.loads(path.read_text()) if path.is_file() else None
