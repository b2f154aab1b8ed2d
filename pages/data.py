"""Data tab: drop a dataset zip, see what was found, list the workspace's datasets."""

from __future__ import annotations

import json
from pathlib import Path

import gradio as gr
import pandas as pd

import yolov11
from pages.charts import class_counts_figure
from pages.common import AppContext, dataset_choices, json_safe, py_args, refreshed, same_call, shows_user_errors
from yolov11.data.report import summarize


def datasets_table(ctx: AppContext) -> pd.DataFrame:
    rows = [
        {"name": d["name"], "format": d["format"], "images": d["images"], **{f"{k} images": v for k, v in (d["splits"] or {}).items()}, "classes": ", ".join(d["classes"] or [])}
        for d in reversed(ctx.workspace.datasets())
    ]
    return pd.DataFrame(rows, columns=["name", "format", "images", "train images", "val images", "classes"] if not rows else None)


def _report(ctx: AppContext, name: str | None) -> dict | None:
    record = ctx.workspace.dataset(name) if name else None
    path = Path(record["path"]) / "report.json" if record else None
    return json.loads(path.read_text()) if path and path.is_file() else None


def build_data(ctx: AppContext) -> gr.Tab:
    with gr.Tab("Data") as tab:
        gr.Markdown("Drop a dataset zip (YOLO layout or COCO JSON, e.g. a Roboflow export). It is checked, converted to the Ultralytics layout and added to the workspace.")
        with gr.Row():
            with gr.Column(scale=2):
                upload = gr.File(label="Dataset zip", file_types=[".zip"], file_count="single", elem_id="dataset-upload")
                with gr.Row():
                    name = gr.Textbox(label="Name (optional)", placeholder="from the file name", elem_id="dataset-name")
                    val_fraction = gr.Slider(0.05, 0.5, value=0.2, step=0.05, label="Validation fraction (when the zip has no split)")
                import_btn = gr.Button("Import", variant="primary", elem_id="import-button")
            with gr.Column(scale=3):
                summary = gr.Markdown(elem_id="import-summary")
                code = gr.Markdown()
        gr.Markdown("### Datasets in the workspace")
        table = gr.Dataframe(value=lambda: datasets_table(ctx), interactive=False, elem_id="datasets-table")
        with gr.Row():
            picked = gr.Dropdown(label="Dataset", choices=dataset_choices(ctx), elem_id="data-picker", allow_custom_value=True)
        with gr.Row():
            chart = gr.Plot(label="Class counts")
            report = gr.JSON(label="Health report (report.json)")

    @shows_user_errors
    def import_dataset(file: str | None, name: str, val_fraction: float, progress=gr.Progress()):
        """Import an uploaded zip into the workspace; returns summary, datasets table, report, snippet."""
        if not file:
            raise yolov11.UserError("choose a .zip file first")
        r = yolov11.import_dataset(
            file, name=name or Path(file).stem, val_fraction=val_fraction, workspace=ctx.workspace, progress=lambda f, msg: progress(f, desc=msg)
        )
        snippet = same_call(
            f"report = yolov11.import_dataset({py_args(src=Path(file).name, name=r['name'], val_fraction=val_fraction)})",
            f"python -m yolov11 import {Path(file).name} --name {r['name']} --val-fraction {val_fraction}",
        )
        return f"```\n{summarize(r)}\n```", datasets_table(ctx), json_safe(r), snippet, refreshed(dataset_choices(ctx), r["name"])

    def show(name: str | None):
        r = _report(ctx, name)
        return (class_counts_figure(r), json_safe(r)) if r else (None, None)

    import_btn.click(import_dataset, [upload, name, val_fraction], [summary, table, report, code, picked], api_name="import_dataset")
    picked.change(show, picked, [chart, report], api_visibility="private")
    gr.on([tab.select, ctx.blocks.load], lambda cur: (datasets_table(ctx), refreshed(dataset_choices(ctx), cur)), picked, [table, picked], api_visibility="private").then(
        show, picked, [chart, report], api_visibility="private"
    )
    return tab
