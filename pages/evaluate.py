"""Evaluate tab: a run's (or uploaded weights') metrics on a split, overall, per class and in
COCO terms; PR / F1 curves and the confusion matrix; a threshold explorer and a gallery of the
worst images, both from the evaluation's saved predictions; and two runs side by side."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pandas as pd

import yolov11
from pages.charts import per_class_figure
from pages.zoo import PICKLE_WARNING
from pages.common import GPU_BOUND, AppContext, dataset_choices, py_args, refreshed, run_choices, same_call, shows_user_errors
from pages.eval_charts import CURVE_TITLES, coco_table, confidence_figure, confusion_figure, pr_figure
from pages.eval_compare import build_compare
from yolov11.eval.error_gallery import CRITERIA, LEGEND

ALL_CLASSES = "all classes"


def metrics_table(result: dict) -> pd.DataFrame:
    overall = {"class": "all", "images": result.get("images"), "instances": sum(r["instances"] for r in result["per_class"]), **result["metrics"]}
    return pd.DataFrame([overall, *result["per_class"]], columns=["class", "images", "instances", "precision", "recall", "mAP50", "mAP50-95"]).round(4)


def _counts_tables(c: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    head = ["TP", "FP", "FN", "precision", "recall", "F1"]
    keys = ["tp", "fp", "fn", "precision", "recall", "f1"]
    overall = pd.DataFrame([[c["overall"][k] for k in keys]], columns=head)
    per_class = pd.DataFrame([[r["class"], *(r[k] for k in keys)] for r in c["per_class"]], columns=["class", *head])
    return overall, per_class


def build_evaluate(ctx: AppContext) -> gr.Tab:
    with gr.Tab("Evaluate") as tab:
        with gr.Row():
            run = gr.Dropdown(label="Run", choices=run_choices(ctx), elem_id="eval-run", allow_custom_value=True)
            split = gr.Radio(["val", "test", "train"], value="val", label="Split", elem_id="eval-split")
        with gr.Accordion("…or weights from elsewhere (a .pt file) on a workspace dataset", open=False):
            with gr.Row():
                with gr.Column():
                    weights = gr.File(label="Weights (.pt)", file_types=[".pt"], elem_id="eval-weights")
                    trust = gr.Checkbox(label="I trust this file", value=False, info=PICKLE_WARNING, elem_id="eval-weights-trust")
                dataset = gr.Dropdown(label="Dataset", choices=dataset_choices(ctx), allow_custom_value=True, elem_id="eval-dataset")
        go = gr.Button("Evaluate", variant="primary", elem_id="evaluate-button")
        with gr.Row():
            table = gr.Dataframe(label="Metrics (Ultralytics val; click a header to sort)", interactive=False, elem_id="eval-table", scale=3)
            coco = gr.Dataframe(label="COCO metrics (faster-coco-eval, same predictions)", interactive=False, elem_id="eval-coco", scale=1)
        chart = gr.Plot(label="Per-class mAP")
        folder = gr.Textbox(label="Evaluation folder (metrics.json, curves.json, coco_gt.json, coco_dt.json)", interactive=False, elem_id="eval-folder")
        code = gr.Markdown()
        with gr.Row():
            pr = gr.Plot(label="Precision-recall", elem_id="eval-pr")
            with gr.Column():
                curve_kind = gr.Radio([(v[1], k) for k, v in CURVE_TITLES.items()], value="f1_confidence", label="Curve by confidence")
                conf_curve = gr.Plot(label="By confidence", elem_id="eval-f1")
        normalised = gr.Radio([("counts", False), ("normalised", True)], value=False, label="Confusion matrix")
        confusion = gr.Plot(label="Confusion matrix", elem_id="eval-confusion")

        gr.Markdown("### Threshold explorer\nCounts at the chosen thresholds from the saved predictions (no new inference).")
        with gr.Row():
            conf = gr.Slider(0.0, 1.0, value=0.25, step=0.01, label="Confidence threshold", elem_id="explore-conf")
            iou = gr.Slider(0.05, 0.95, value=0.5, step=0.05, label="IoU threshold (a detection counts as found)", elem_id="explore-iou")
        explored = gr.Dataframe(label="At these thresholds", interactive=False, elem_id="explore-overall")
        explored_classes = gr.Dataframe(label="Per class", interactive=False, elem_id="explore-classes")

        gr.Markdown(f"### Worst images\n{LEGEND}; at the explorer's thresholds.")
        with gr.Row():
            criterion = gr.Dropdown(list(CRITERIA), value=CRITERIA[0], label="Sort by", elem_id="gallery-criterion")
            only = gr.Dropdown([ALL_CLASSES], value=ALL_CLASSES, label="Class", elem_id="gallery-class", allow_custom_value=True)  # its choices follow the evaluation; API callers name a class directly
        gallery = gr.Gallery(label="Worst images", columns=4, height="auto", elem_id="eval-gallery")
        build_compare(ctx)

    @shows_user_errors
    def evaluate(run_id: str, split: str, weights_file: str | None = None, data: str | None = None, trusted: bool = False):
        """Validate a run's best weights (or uploaded weights on a dataset) on a split; returns the
        metrics table, per-class chart, snippet, COCO table and the evaluation folder."""
        if weights_file:
            if trusted:
                yolov11.trust_weights(weights_file)
            if not data:
                raise yolov11.UserError("--data: pick the dataset to evaluate the uploaded weights on")
            r = yolov11.evaluate(weights=weights_file, data=data, split=split, workspace=ctx.workspace)
            name = Path(weights_file).name
            snippet = same_call(f"metrics = yolov11.evaluate({py_args(weights=name, data=data, split=split)})", f"python -m yolov11 eval --weights {name} --data {data} --split {split}")
        else:
            if not run_id:
                raise yolov11.UserError("pick a finished run first")
            r = yolov11.evaluate(run=run_id, split=split, workspace=ctx.workspace)
            snippet = same_call(f"metrics = yolov11.evaluate({py_args(run=run_id, split=split)})", f"python -m yolov11 eval --run {run_id} --split {split}")
        snippet += f"\n**Re-score the saved detections**\n```bash\npython -m yolov11 eval --coco-gt {r['files']['coco_gt']} --coco-dt {r['files']['coco_dt']} --json\n```"
        return metrics_table(r), per_class_figure(r), snippet, coco_table(r), r["dir"]

    @shows_user_errors
    def analysis(where: str, kind: str, norm: bool):
        if not where:
            return None, None, None
        curves = yolov11.evaluation_curves(where, ctx.workspace)
        result = yolov11.saved_evaluation(where=where, workspace=ctx.workspace)
        return pr_figure(curves), confidence_figure(curves, kind), confusion_figure(result["confusion"], norm)

    @shows_user_errors
    def class_choices(where: str):
        names = yolov11.saved_evaluation(where=where, workspace=ctx.workspace)["confusion"]["names"][:-1]
        return gr.update(choices=[ALL_CLASSES, *names], value=ALL_CLASSES)

    @shows_user_errors
    def threshold_explorer(where: str, conf_thr: float, iou_thr: float):
        """TP / FP / FN, precision, recall and F1 at (conf, IoU), overall and per class, from the
        evaluation folder's saved predictions."""
        return _counts_tables(yolov11.explore_thresholds(where, conf_thr, iou_thr, ctx.workspace))

    @shows_user_errors
    def error_gallery(where: str, by: str, cls: str, conf_thr: float, iou_thr: float):
        """The worst images of the evaluation by a criterion, drawn TP green / FP red / FN orange."""
        if not where:
            return []
        return yolov11.worst_images(where, by, None if cls in (None, "", ALL_CLASSES) else cls, conf_thr, iou_thr, workspace=ctx.workspace)

    # The explorer and gallery read saved files: cheap, never queued behind GPU work.
    explore = dict(fn=threshold_explorer, inputs=[folder, conf, iou], outputs=[explored, explored_classes])
    draw = dict(fn=error_gallery, inputs=[folder, criterion, only, conf, iou], outputs=gallery)
    (go.click(evaluate, [run, split, weights, dataset, trust], [table, chart, code, coco, folder], api_name="evaluate", concurrency_id=GPU_BOUND)
       .success(analysis, [folder, curve_kind, normalised], [pr, conf_curve, confusion], api_visibility="private")
       .success(class_choices, folder, only, api_visibility="private")
       .success(**explore, api_name="explore_after_evaluate", api_visibility="private")
       .success(**draw, api_name="gallery_after_evaluate", api_visibility="private"))
    gr.on([conf.release, iou.release], **explore, api_name="threshold_explorer").success(**draw, api_name="gallery_after_explore", api_visibility="private")
    gr.on([criterion.change, only.input], **draw, api_name="error_gallery")
    gr.on([curve_kind.change, normalised.change], analysis, [folder, curve_kind, normalised], [pr, conf_curve, confusion], api_visibility="private")
    gr.on([tab.select, ctx.blocks.load], lambda cur, ds: (refreshed(run_choices(ctx), cur), refreshed(dataset_choices(ctx), ds)), [run, dataset], [run, dataset], api_visibility="private")
    return tab
