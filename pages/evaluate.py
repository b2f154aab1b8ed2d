"""Evaluate tab: metrics of a run on a split, overall and per class."""

from __future__ import annotations

import gradio as gr
import pandas as pd

import yolov11
from pages.charts import per_class_figure
from pages.common import GPU_BOUND, AppContext, py_args, refreshed, run_choices, same_call, shows_user_errors


def metrics_table(result: dict) -> pd.DataFrame:
    overall = {"class": "all", "images": None, "instances": sum(r["instances"] for r in result["per_class"]), **result["metrics"]}
    return pd.DataFrame([overall, *result["per_class"]], columns=["class", "images", "instances", "precision", "recall", "mAP50", "mAP50-95"]).round(4)


def build_evaluate(ctx: AppContext) -> gr.Tab:
    with gr.Tab("Evaluate") as tab:
        with gr.Row():
            run = gr.Dropdown(label="Run", choices=run_choices(ctx), elem_id="eval-run", allow_custom_value=True)
            split = gr.Radio(["val", "test", "train"], value="val", label="Split", elem_id="eval-split")
        go = gr.Button("Evaluate", variant="primary", elem_id="evaluate-button")
        table = gr.Dataframe(label="Metrics", interactive=False, elem_id="eval-table")
        chart = gr.Plot(label="Per-class mAP")
        code = gr.Markdown()

    @shows_user_errors
    def evaluate(run_id: str, split: str):
        """Validate a run's best weights on a split; returns the metrics table, chart and snippet."""
        if not run_id:
            raise yolov11.UserError("pick a finished run first")
        r = yolov11.evaluate(run=run_id, split=split, workspace=ctx.workspace)
        snippet = same_call(f"metrics = yolov11.evaluate({py_args(run=run_id, split=split)})", f"python -m yolov11 eval --run {run_id} --split {split}")
        return metrics_table(r), per_class_figure(r), snippet

    go.click(evaluate, [run, split], [table, chart, code], api_name="evaluate", concurrency_id=GPU_BOUND)
    gr.on([tab.select, ctx.blocks.load], lambda cur: refreshed(run_choices(ctx), cur), run, run, api_visibility="private")
    return tab
