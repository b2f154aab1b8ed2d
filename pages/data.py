"""Data tab: drop a dataset zip, see what was found, list the workspace's datasets."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pandas as pd

import yolov11
from pages.common import AppContext, dataset_choices, discard_upload, json_safe, refreshed, same_call, shows_user_errors
from pages.data_health import build_health
from yolov11 import summarize_report as summarize


def datasets_table(ctx: AppContext) -> pd.DataFrame:
    rows = [
        {"name": d["name"], "format": d["format"], "images": d["images"], **{f"{k} images": v for k, v in (d["splits"] or {}).items()}, "classes": ", ".join(d["classes"] or [])}
        for d in reversed(ctx.workspace.datasets())
    ]
    return pd.DataFrame(rows, columns=["name", "format", "images", "train images", "val images", "classes"] if not rows else None)


def build_data(ctx: AppContext) -> gr.Tab:
    with gr.Tab("Data") as tab:
        gr.Markdown(
            "Drop a dataset zip: YOLO (Ultralytics or Roboflow), COCO JSON, Pascal VOC, CVAT XML or LabelMe. "
            "It is checked image by image and line by line, converted to the Ultralytics layout and added to the workspace."
        )
        with gr.Row():
            with gr.Column(scale=2):
                upload = gr.File(label="Dataset zip", file_types=[".zip"], file_count="single", elem_id="dataset-upload")
                with gr.Row():
                    name = gr.Textbox(label="Name (optional)", placeholder="from the file name", elem_id="dataset-name")
                    val_fraction = gr.Slider(0.05, 0.5, value=0.2, step=0.05, label="Validation fraction (when the zip has no split)")
                difficult = gr.Checkbox(label="Keep Pascal VOC objects marked difficult", value=False)
                import_btn = gr.Button("Import", variant="primary", elem_id="import-button")
            with gr.Column(scale=3):
                summary = gr.Markdown(elem_id="import-summary")
                with gr.Accordion("Import result (JSON)", open=False):
                    result = gr.JSON()
                code = gr.Markdown()
        gr.Markdown("### Datasets in the workspace")
        table = gr.Dataframe(value=lambda: datasets_table(ctx), interactive=False, elem_id="datasets-table")
        picked = gr.Dropdown(label="Dataset", choices=dataset_choices(ctx), elem_id="data-picker", allow_custom_value=True)
        refresh_health = build_health(ctx, picked)

    @shows_user_errors
    def import_dataset(file: str | None, name: str, val_fraction: float, include_difficult: bool = False, progress=gr.Progress()):  # noqa: B008 - Gradio injects the tracker through this default
        """Import an uploaded zip into the workspace; returns summary, datasets table, report, snippet, picker."""
        if not file:
            raise yolov11.UserError("choose a .zip file first")
        if not Path(file).is_file():
            raise yolov11.UserError(f"{Path(file).name}: this upload was already imported and removed; drop the zip again")
        try:
            r = yolov11.import_dataset(
                file,
                name=name or None,  # none typed: derived from the file name ("Site Übung.zip" -> Site-Ubung)
                val_fraction=val_fraction,
                include_difficult=include_difficult,
                workspace=ctx.workspace,
                progress=lambda f, msg: progress(f, desc=msg),
            )
        finally:
            discard_upload(ctx, file)  # imported (or refused): the upload is not kept twice
        options = {"name": r["name"], "val_fraction": val_fraction, "include_difficult": include_difficult}
        snippet = same_call(ctx, "import_dataset", "report", {"src": Path(file).name, **options}, "import", options, (Path(file).name,))
        return f"```\n{summarize(r)}\n```", datasets_table(ctx), json_safe(r), snippet, refreshed(dataset_choices(ctx), r["name"])

    refresh_health(import_btn.click(import_dataset, [upload, name, val_fraction, difficult], [summary, table, result, code, picked], api_name="import_dataset"))
    listing = gr.on([tab.select, ctx.blocks.load], lambda cur: (datasets_table(ctx), refreshed(dataset_choices(ctx), cur)), picked, [table, picked], api_visibility="private")
    refresh_health(listing)
    return tab
