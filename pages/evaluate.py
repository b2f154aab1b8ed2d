"""Evaluate tab: a run's (or uploaded weights') metrics on a split, overall, per class and in
COCO terms; PR / F1 curves and the confusion matrix (at the threshold explorer's confidence and
IoU, or Ultralytics' own); a threshold explorer and a gallery of the worst images, all from the
evaluation's saved predictions; and two runs side by side. This module lays the tab out and
wires its events; what they do is in ``pages.evaluate_handlers``."""

from __future__ import annotations

import gradio as gr

import pages.evaluate_handlers as h
from pages.advice_view import build_advice
from pages.common import GPU_BOUND, AppContext, bind, dataset_choices, run_choices
from pages.eval_charts import COCO_HEADERS, CURVE_TITLES
from pages.eval_compare import build_compare
from pages.eval_errors import SIZE_HEADERS
from pages.label_issues_view import build_label_issues
from pages.zoo import PICKLE_WARNING
from yolov11 import GALLERY_CRITERIA as CRITERIA
from yolov11 import GALLERY_LEGEND as LEGEND


def build_evaluate(ctx: AppContext) -> gr.Tab:
    with gr.Tab("Evaluate", id="evaluate") as tab:
        with gr.Row():
            run = gr.Dropdown(label="Run", choices=run_choices(ctx), elem_id="eval-run", allow_custom_value=True)
            split = gr.Radio(["val", "test", "train"], value="val", label="Split", elem_id="eval-split")
        with gr.Accordion("…or weights from elsewhere (a .pt file) on a workspace dataset", open=False):
            with gr.Row():
                with gr.Column():
                    weights = gr.File(label="Weights (.pt)", file_types=[".pt"], elem_id="eval-weights")
                    trust = gr.Checkbox(label="I trust this file", value=False, info=PICKLE_WARNING, elem_id="eval-weights-trust")
                dataset = gr.Dropdown(label="Dataset", choices=dataset_choices(ctx), allow_custom_value=True, elem_id="eval-dataset")
        with gr.Row():
            go = gr.Button("Evaluate", variant="primary", elem_id="evaluate-button")
            small = gr.Checkbox(value=False, label="Small objects: also score the full frames tile by tile (sliced) and in one pass",
                                elem_id="eval-small")
        with gr.Row():
            table = gr.Dataframe(headers=h.METRICS_HEADERS, label="Metrics (Ultralytics val; click a header to sort)", interactive=False,
                                 elem_id="eval-table", scale=3)
            coco = gr.Dataframe(headers=COCO_HEADERS,
                                label="COCO metrics (faster-coco-eval, same predictions; n/a: no objects of that size)",
                                interactive=False, elem_id="eval-coco", scale=1)
        sliced = gr.Dataframe(headers=h.SLICED_HEADERS, interactive=False, elem_id="eval-sliced",
                              label="Small objects (same COCO evaluator for both; ticked above)")
        chart = gr.Plot(label="Per-class mAP", elem_id="eval-per-class")
        with gr.Row():
            errors = gr.Plot(label="Where the mAP goes (TIDE error types: each fixed alone, so the gains do not add up to the gap)",
                             elem_id="eval-errors", scale=3)
            sizes = gr.Dataframe(headers=SIZE_HEADERS, label="Errors by box size (small < 32x32 px, medium < 96x96)", interactive=False,
                                 elem_id="eval-error-sizes", scale=2)
        folder = gr.Textbox(label="Evaluation folder (metrics.json, curves.json, coco_gt.json, coco_dt.json)", interactive=False,
                            elem_id="eval-folder")
        code = gr.Markdown()
        with gr.Row():
            pr = gr.Plot(label="Precision-recall", elem_id="eval-pr")
            with gr.Column():
                curve_kind = gr.Radio([(v[1], k) for k, v in CURVE_TITLES.items()], value="f1_confidence", label="Curve by confidence")
                conf_curve = gr.Plot(label="By confidence", elem_id="eval-f1")
        with gr.Row():
            normalised = gr.Radio([("counts", False), ("normalised", True)], value=False, label="Confusion matrix")
            source = gr.Radio(
                [("at the threshold explorer's confidence and IoU (below)", h.EXPLORER),
                 ("Ultralytics' validator's (confidence > 0.001, IoU > 0.45)", h.ULTRALYTICS)],
                value=h.EXPLORER, label="Counted", elem_id="eval-confusion-source",
            )
        confusion = gr.Plot(label="Confusion matrix (its thresholds in the title)", elem_id="eval-confusion")

        gr.Markdown("### Threshold explorer\nCounts at the chosen thresholds from the saved predictions (no new inference).")
        with gr.Row():
            conf = gr.Slider(0.0, 1.0, value=0.25, step=0.01, label="Confidence threshold", elem_id="explore-conf")
            iou = gr.Slider(0.05, 0.95, value=0.5, step=0.05, label="IoU threshold (a detection counts as found)", elem_id="explore-iou")
        explored = gr.Dataframe(headers=h.COUNTS_HEADERS, label="At these thresholds", interactive=False, elem_id="explore-overall")
        explored_classes = gr.Dataframe(headers=h.CLASS_COUNTS_HEADERS, label="Per class", interactive=False, elem_id="explore-classes")

        gr.Markdown(f"### Worst images\n{LEGEND}; at the explorer's thresholds.")
        with gr.Row():
            criterion = gr.Dropdown(list(CRITERIA), value=CRITERIA[0], label="Sort by", elem_id="gallery-criterion")
            # its choices follow the evaluation; API callers name a class directly
            only = gr.Dropdown([h.ALL_CLASSES], value=h.ALL_CLASSES, label="Class", elem_id="eval-gallery-class", allow_custom_value=True)
        # Whole images at a tile's size (object_fit="contain", fit_columns=False): with few items Gradio
        # would widen the columns and crop each tile to a square, a blown-up fragment.
        gallery = gr.Gallery(label=f"{h.GALLERY_LABEL}: evaluate a run to see them", columns=4, height=460, object_fit="contain",
                             fit_columns=False, elem_id="eval-gallery")
        followed = build_advice(ctx, run, split)
        build_label_issues(ctx, run, followed)
        build_compare(ctx)

    # The explorer and gallery read saved files: cheap, never queued behind GPU work.
    explore = dict(fn=bind(ctx, h.threshold_explorer), inputs=[folder, conf, iou], outputs=[explored, explored_classes])
    draw = dict(fn=bind(ctx, h.error_gallery), inputs=[folder, criterion, only, conf, iou], outputs=gallery)
    relabel = dict(fn=h.gallery_label, inputs=[gallery, criterion, only], outputs=gallery, api_visibility="private")  # says why it is empty
    # The confusion matrix follows the explorer's sliders (redrawn when they are released).
    matrix = dict(fn=bind(ctx, h.confusion_chart), inputs=[folder, normalised, source, conf, iou], outputs=confusion,
                  api_visibility="private")
    analysis = bind(ctx, h.analysis)
    (go.click(bind(ctx, h.evaluate), [run, split, weights, dataset, trust, small],
              [table, chart, code, coco, folder, sliced, errors, sizes],
              api_name="evaluate",
              concurrency_id=GPU_BOUND)
       .success(analysis, [folder, curve_kind], [pr, conf_curve], api_visibility="private")
       .success(bind(ctx, h.class_choices), folder, only, api_visibility="private")
       .success(**explore, api_name="explore_after_evaluate", api_visibility="private")
       .success(**matrix, api_name="confusion_after_evaluate")
       .success(**draw, api_name="gallery_after_evaluate", api_visibility="private")
       .then(**relabel))
    (gr.on([conf.release, iou.release], **explore, api_name="threshold_explorer")
       .success(**matrix, api_name="confusion_after_explore")
       .success(**draw, api_name="gallery_after_explore", api_visibility="private")
       .then(**relabel))
    gr.on([criterion.change, only.input], **draw, api_name="error_gallery").then(**relabel)
    gr.on(curve_kind.change, analysis, [folder, curve_kind], [pr, conf_curve], api_visibility="private")
    gr.on([normalised.change, source.change], **matrix, api_name="confusion_chart")
    gr.on([tab.select, ctx.blocks.load], bind(ctx, h.relist_pickers), [run, dataset], [run, dataset], api_visibility="private")
    return tab
