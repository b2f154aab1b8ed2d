"""Data tab: drop a dataset zip, see what was found, list the workspace's datasets."""

from __future__ import annotations

import re
from pathlib import Path

import gradio as gr
import pandas as pd

import yolov11
from pages.common import AppContext, dataset_choices, discard_upload, json_safe, refreshed, same_call, shows_user_errors
from pages.data_health import build_health
from yolov11 import summarize_report as summarize

DATASET_COLUMNS = ["name", "format", "images", "train images", "val images", "classes"]
IMPORT_QUEUE = "dataset-import"  # concurrency_id: a dropped zip and the Import button import one at a time
_imported: dict[tuple[str, str], tuple[dict, dict]] = {}  # (workspace, upload) -> (report, options) of imports on drop
_refused: dict[tuple[str, str], str] = {}  # (workspace, upload) -> why an import on drop was refused


def _remember(table: dict, key, value) -> None:
    table[key] = value
    while len(table) > 64:  # a long-running app remembers the latest few
        table.pop(next(iter(table)))


def datasets_table(ctx: AppContext) -> pd.DataFrame:
    rows = [
        {"name": d["name"], "format": d["format"], "images": d["images"], **{f"{k} images": v for k, v in (d["splits"] or {}).items()}, "classes": ", ".join(d["classes"] or [])}
        for d in reversed(ctx.workspace.datasets())
    ]
    return pd.DataFrame(rows, columns=DATASET_COLUMNS if not rows else None)


def fenced(text: str) -> str:
    """``text`` in a Markdown code block, shown as written: the fence is longer than any run of
    backticks inside it, so nothing the importer quotes can end the block early."""
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
    return f"{fence}\n{text}\n{fence}"


def build_data(ctx: AppContext) -> gr.Tab:
    with gr.Tab("Data") as tab:
        gr.Markdown(
            "Drop a dataset zip: YOLO (Ultralytics or Roboflow), COCO JSON, Pascal VOC, CVAT XML, LabelMe or CreateML JSON. "
            "The import starts as soon as it is dropped, with the name and options set beside it (Import imports the chosen zip again). "
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
                summary = gr.Markdown(elem_id="import-summary", latex_delimiters=[])
                with gr.Accordion("Import result (JSON)", open=False):
                    result = gr.JSON()
                code = gr.Markdown()
        gr.Markdown("### Datasets in the workspace")
        table = gr.Dataframe(value=lambda: datasets_table(ctx), headers=DATASET_COLUMNS, interactive=False, elem_id="datasets-table")
        picked = gr.Dropdown(label="Dataset", choices=dataset_choices(ctx), elem_id="data-picker", allow_custom_value=True)
        refresh_health = build_health(ctx, picked)

    def run_import(file: str | None, name: str, val_fraction: float, include_difficult: bool, progress, dropped: bool):
        """Summary, datasets table, report, snippet and picker of importing ``file``. An upload is
        deleted once imported; one imported when dropped is shown again when Import is pressed."""
        key = (str(ctx.workspace.root), str(file))
        if not file:
            raise yolov11.UserError("choose a .zip file first")
        note = ""
        if not Path(file).is_file():
            if key in _refused:  # Import pressed after a refused drop: say why again, not "already imported"
                raise yolov11.UserError(_refused[key])
            if key not in _imported:
                raise yolov11.UserError(f"{Path(file).name}: this upload was already imported and removed; drop the zip again")
            r, options = _imported[key]
            note = f"{Path(file).name} was imported when it was dropped; drop it again to import it with other options.\n\n"
        else:
            try:
                r = yolov11.import_dataset(
                    file,
                    name=name or None,  # none typed: derived from the file name ("Site Übung.zip" -> Site-Ubung)
                    val_fraction=val_fraction,
                    include_difficult=include_difficult,
                    workspace=ctx.workspace,
                    progress=lambda f, msg: progress(f, desc=msg),
                )
            except yolov11.UserError as exc:
                if dropped:
                    _remember(_refused, key, str(exc))
                raise
            finally:
                discard_upload(ctx, file)  # imported (or refused): the upload is not kept twice
            options = {"name": r["name"], "val_fraction": val_fraction, "include_difficult": include_difficult}
            if dropped:
                _remember(_imported, key, (r, options))
        snippet = same_call(ctx, "import_dataset", "report", {"src": Path(file).name, **options}, "import", options, (Path(file).name,))
        return note + fenced(summarize(r)), datasets_table(ctx), json_safe(r), snippet, refreshed(dataset_choices(ctx), r["name"])

    @shows_user_errors
    def import_dataset(file: str | None, name: str, val_fraction: float, include_difficult: bool = False, progress=gr.Progress()):  # noqa: B008 - Gradio injects the tracker through this default
        """Import an uploaded zip into the workspace; returns summary, datasets table, report, snippet, picker."""
        return run_import(file, name, val_fraction, include_difficult, progress, dropped=False)

    @shows_user_errors
    def import_dropped(file: str | None, name: str, val_fraction: float, include_difficult: bool = False, progress=gr.Progress()):  # noqa: B008 - as above
        """The same import, started by dropping the zip (a private event)."""
        return run_import(file, name, val_fraction, include_difficult, progress, dropped=True)

    inputs, outs = [upload, name, val_fraction, difficult], [summary, table, result, code, picked]
    refresh_health(import_btn.click(import_dataset, inputs, outs, api_name="import_dataset", concurrency_id=IMPORT_QUEUE))
    refresh_health(upload.upload(import_dropped, inputs, outs, api_visibility="private", concurrency_id=IMPORT_QUEUE))
    listing = gr.on([tab.select, ctx.blocks.load], lambda cur: (datasets_table(ctx), refreshed(dataset_choices(ctx), cur)), picked, [table, picked], api_visibility="private")
    refresh_health(listing)
    return tab
