"""What the Evaluate tab does when asked: module-level handlers taking the app context and
named values (``pages.common.bind`` turns them into Gradio events)."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pandas as pd

import yolov11
from pages.charts import per_class_figure
from pages.common import AppContext, dataset_choices, relisted, run_choices, said_empty, same_call, shows_user_errors
from pages.eval_charts import coco_table, confidence_figure, confusion_figure, pr_figure
from pages.eval_errors import error_figure, size_table
from pages.text import fenced
from pages.uploads import used_upload

ALL_CLASSES = "all classes"
EXPLORER = "explorer"  # the confusion matrix at the explorer's thresholds, from the saved predictions
ULTRALYTICS = "ultralytics"  # the one Ultralytics' validator counted, at its own thresholds
METRICS_HEADERS = ["class", "images", "instances", "precision", "recall", "mAP50", "mAP50-95"]
SLICED_HEADERS = ["metric (COCO, full frames)", "one pass", "tile by tile"]
COUNTS_HEADERS = ["TP", "FP", "FN", "precision", "recall", "F1"]
CLASS_COUNTS_HEADERS = ["class", *COUNTS_HEADERS]
GALLERY_LABEL = "Worst images"
MISSING = {"most FP": "a false positive", "most FN": "a missed object", "lowest-confidence TP": "a true positive"}  # what each ranks by


def metrics_table(result: dict) -> pd.DataFrame:
    overall = {"class": "all", "images": result.get("images"), "instances": sum(r["instances"] for r in result["per_class"]),
               **result["metrics"]}
    return pd.DataFrame([overall, *result["per_class"]], columns=METRICS_HEADERS).round(4)


def _counts_tables(c: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    keys = ["tp", "fp", "fn", "precision", "recall", "f1"]
    overall = pd.DataFrame([[c["overall"][k] for k in keys]], columns=COUNTS_HEADERS)
    per_class = pd.DataFrame([[r["class"], *(r[k] for k in keys)] for r in c["per_class"]], columns=CLASS_COUNTS_HEADERS)
    return overall, per_class


@shows_user_errors
def evaluate(ctx: AppContext, run_id: str, split: str, weights_file: str | None = None, data: str | None = None, trusted: bool = False,
             small_objects: bool = False):
    """Validate a run's best weights (or uploaded weights on a dataset) on a split; returns the
    metrics table, per-class chart, snippet, COCO table, the evaluation folder, with
    ``small_objects`` the split's full frames scored tile by tile and in one pass (else an empty
    table), and where the mAP goes: the error types' chart and the errors by box size."""
    if weights_file:
        if not data:  # before the upload is used: it stays for the next press
            raise yolov11.UserError("--data: pick the dataset to evaluate the uploaded weights on")
        with used_upload(ctx, weights_file) as upload:  # kept in weights/<content hash>/ for the next press, and the upload deleted
            weights = upload.keep_by_content("weights")
            try:
                if trusted:
                    yolov11.trust_weights(weights)
                r = yolov11.evaluate(weights=weights, data=data, split=split, workspace=ctx.workspace)
            except yolov11.UserError:
                upload.forget()  # refused: not kept
                raise
        name = Path(weights).name
        shown = {"weights": name, "data": data, "split": split}
        snippet = same_call(ctx, "evaluate", "metrics", shown, "eval", {**shown, "trust_weights": trusted})
        source = {"weights": weights, "data": data}
    else:
        if not run_id:
            raise yolov11.UserError("pick a finished run first")
        r = yolov11.evaluate(run=run_id, split=split, workspace=ctx.workspace)
        shown = {"run": run_id, "split": split}
        snippet = same_call(ctx, "evaluate", "metrics", shown, "eval", shown)
        source = {"run": run_id}
    rescore = yolov11.shell_command("eval", coco_gt=r["files"]["coco_gt"], coco_dt=r["files"]["coco_dt"], json=True)
    snippet += f"\n**Re-score the saved detections**\n{fenced(rescore, 'bash')}"
    sliced = pd.DataFrame(columns=SLICED_HEADERS)
    if small_objects:
        s = yolov11.evaluate(**source, split=split, sliced=True, workspace=ctx.workspace)
        sliced = pd.DataFrame([[k, s["unsliced"]["metrics"][k], v] for k, v in s["metrics"].items()], columns=SLICED_HEADERS).round(4)
        flags = {**shown, "slice": "on"} if "run" in shown else {**shown, "slice": "on", "trust_weights": trusted}
        snippet += "\n**Small objects: tile by tile and in one pass**\n" + same_call(ctx, "evaluate", "sliced", {**shown, "sliced": True},
                                                                                     "eval", flags)
    errors = r.get("error_breakdown")
    return metrics_table(r), per_class_figure(r), snippet, coco_table(r), r["dir"], sliced, error_figure(errors), size_table(errors)

@shows_user_errors
def analysis(ctx: AppContext, where: str, kind: str):
    """The precision-recall and by-confidence curves of the evaluation."""
    if not where:
        return None, None
    curves = yolov11.evaluation_curves(where, ctx.workspace)
    return pr_figure(curves), confidence_figure(curves, kind)

@shows_user_errors
def confusion_chart(ctx: AppContext, where: str, norm: bool, source: str, conf_thr: float, iou_thr: float):
    """The confusion matrix at the explorer's (conf, IoU) from the saved predictions, or the one
    Ultralytics' validator counted at its own thresholds; its title says which thresholds."""
    if not where:
        return None
    if source == ULTRALYTICS:
        return confusion_figure(yolov11.saved_evaluation(where=where, workspace=ctx.workspace)["confusion"], norm)
    return confusion_figure(yolov11.threshold_confusion(where, conf_thr, iou_thr, ctx.workspace), norm)

@shows_user_errors
def class_choices(ctx: AppContext, where: str):
    names = yolov11.saved_evaluation(where=where, workspace=ctx.workspace)["confusion"]["names"][:-1]
    return gr.update(choices=[ALL_CLASSES, *names], value=ALL_CLASSES)

@shows_user_errors
def threshold_explorer(ctx: AppContext, where: str, conf_thr: float, iou_thr: float):
    """TP / FP / FN, precision, recall and F1 at (conf, IoU), overall and per class, from the
    evaluation folder's saved predictions."""
    return _counts_tables(yolov11.explore_thresholds(where, conf_thr, iou_thr, ctx.workspace))

@shows_user_errors
def error_gallery(ctx: AppContext, where: str, by: str, cls: str, conf_thr: float, iou_thr: float):
    """The worst images of the evaluation by a criterion, drawn TP green / FP red / FN orange."""
    if not where:
        return []
    return yolov11.worst_images(where, by, None if cls in (None, "", ALL_CLASSES) else cls, conf_thr, iou_thr, workspace=ctx.workspace)


def gallery_label(items: list | None, by: str, cls: str | None) -> dict:
    """The worst-images gallery's label, saying why it is empty (no image with what ``by`` ranks
    by at these thresholds; for one class)."""
    of = "" if cls in (None, "", ALL_CLASSES) else f" of class {cls}"
    return said_empty(GALLERY_LABEL, items, f"no image has {MISSING.get(by, 'what this sorts by')}{of} at the explorer's thresholds")


def relist_pickers(ctx: AppContext, run: str | None, dataset: str | None) -> tuple:
    """The run and dataset pickers listed again (the tab opened, the page loaded), each keeping its choice."""
    return relisted(run_choices(ctx), run), relisted(dataset_choices(ctx), dataset)
