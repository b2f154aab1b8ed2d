"""Data tab: drop a dataset zip, see what was found, list the workspace's datasets, their
versions (each label edit saved is one, with its diff), edit labels, retrain on a version."""

from __future__ import annotations

import functools
import time
from pathlib import Path

import gradio as gr
import pandas as pd

import yolov11
from pages.common import (
    AppContext,
    bind,
    dataset_choices,
    discard_upload,
    json_safe,
    refreshed,
    relisted,
    run_choices,
    same_call,
    shows_user_errors,
)
from pages.data_health import build_health, gallery_images
from pages.label_editor import build_label_editor, open_image, save_version, saved_text
from pages.label_pool import build_label_pool
from pages.text import fenced, md_text
from pages.tiles_view import build_tiles
from yolov11 import summarize_report as summarize

AS_THE_RUN, FINE_TUNE, SCRATCH = "as the run", "its trained weights (fine-tune)", "scratch"
START_FROM = (AS_THE_RUN, FINE_TUNE, SCRATCH)  # what "Retrain on this version" starts from
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
        {"name": d["name"], "format": d["format"], "images": d["images"], **{f"{k} images": v for k, v in (d["splits"] or {}).items()},
         "classes": ", ".join(d["classes"] or [])}
        for d in reversed(ctx.workspace.datasets())
    ]
    return pd.DataFrame(rows, columns=DATASET_COLUMNS if not rows else None)


VERSION_COLUMNS = ["version", "name", "parent", "images", "boxes", "added", "removed", "changed", "created"]
DIFF_COLUMNS = ["image", "change", "class", "box"]


def versions_table(ctx: AppContext, dataset: str | None) -> pd.DataFrame:
    """The versions of the picked dataset's base, v1 first, with their diff counts."""
    if not dataset or not ctx.workspace.dataset(dataset):
        return pd.DataFrame(columns=VERSION_COLUMNS)
    rows = [
        {"version": v["version"], "name": v["name"], "parent": v["parent"] or "", "images": v["images"], "boxes": v["boxes"],
         **{k: (v["diff"] or {}).get(k, "") for k in ("added", "removed", "changed")},
         "created": time.strftime("%Y-%m-%d %H:%M", time.localtime(v["created"] or 0))}
        for v in yolov11.dataset_versions(dataset, workspace=ctx.workspace)
    ]
    return pd.DataFrame(rows, columns=VERSION_COLUMNS)


def diff_table(ctx: AppContext, version: str | None) -> pd.DataFrame:
    """The recorded diff of a version against its parent, one row per box, by image."""
    record = ctx.workspace.dataset(version) if version else None
    rows = []
    for image, change in ((record or {}).get("diff") or {}).get("images", {}).items():
        rows += [{"image": image, "change": kind, "class": b["class"], "box": str(b["box"])}
                 for kind in ("added", "removed") for b in change[kind]]
        rows += [{"image": image, "change": "changed", "class": f"{c['from']['class']} -> {c['to']['class']}",
                  "box": f"{c['from']['box']} -> {c['to']['box']}"} for c in change["changed"]]
    return pd.DataFrame(rows, columns=DIFF_COLUMNS)


def version_choices(ctx: AppContext, dataset: str | None) -> list[str]:
    """The versions of the picked dataset's base, newest first."""
    if not dataset or not ctx.workspace.dataset(dataset):
        return []
    return [v["name"] for v in reversed(yolov11.dataset_versions(dataset, workspace=ctx.workspace))]


def default_run(ctx: AppContext, version: str | None) -> str | None:
    """The run whose settings "Retrain on this version" reuses by default: the newest trained on
    the version's parent, else on any version of its base."""
    record = ctx.workspace.dataset(version) if version else None
    if record is None:
        return None
    family = {v["name"] for v in yolov11.dataset_versions(version, workspace=ctx.workspace)}
    runs = ctx.workspace.runs()  # newest first
    return (next((r["id"] for r in runs if r["dataset"] == record["parent"]), None)
            or next((r["id"] for r in runs if r["dataset"] in family), None))


@shows_user_errors
def retrain_on_version(ctx: AppContext, version: str, run: str = "", start_from: str = AS_THE_RUN) -> tuple[str, str]:
    """Start a run on dataset ``version`` with the settings of ``run`` (default: the newest run on
    its parent): every recorded setting, the extra Ultralytics arguments and the starting weights
    included (``yolov11.run_train_kwargs``: what the run's notebook replays); ``start_from``: as the
    run (its own starting weights, if any), its trained weights (fine-tune: its best.pt) or scratch.
    Returns a message and the new run's id."""
    if start_from not in START_FROM:
        raise yolov11.UserError(field="--start-from", value=start_from, detail=f"choose one of {', '.join(START_FROM)}")
    if not ctx.workspace.dataset(version or ""):
        ctx.workspace.resolve_data(version or "")  # says what the workspace has
    run = run or default_run(ctx, version)
    if not run:
        raise yolov11.UserError("--run : no run to take the settings from yet: train one on this dataset first (Train tab)")
    record = ctx.workspace.require_run(run)
    settings = record["settings"] or {}
    kwargs = yolov11.run_train_kwargs(settings)
    if start_from == FINE_TUNE:
        kwargs["weights"] = str(ctx.workspace.run_weights(run))  # its best.pt: refused clearly when the run has none
    elif start_from == SCRATCH:
        kwargs.pop("weights", None)
    started = ctx.jobs.submit(version, settings.get("model") or record["model"], **kwargs)
    start = {AS_THE_RUN: "", FINE_TUNE: ", from its trained weights", SCRATCH: ", from scratch"}[start_from]
    said = (f"Started run **{md_text(started)}** on {md_text(version)} with the settings of run {md_text(run)}{start} "
            "(follow it in the Train tab).")
    return said, started


def run_import(ctx: AppContext, file: str | None, name: str, val_fraction: float, include_difficult: bool, unlabelled_as_background: bool,
               progress, dropped: bool):
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
        note = f"{md_text(Path(file).name)} was imported when it was dropped; drop it again to import it with other options.\n\n"
    else:
        try:
            r = yolov11.import_dataset(
                file,
                name=name or None,  # none typed: derived from the file name ("Site Übung.zip" -> Site-Ubung)
                val_fraction=val_fraction,
                include_difficult=include_difficult,
                unlabelled_as_background=unlabelled_as_background,
                workspace=ctx.workspace,
                progress=lambda f, msg: progress(f, desc=msg),
            )
        except yolov11.UserError as exc:
            if dropped:
                _remember(_refused, key, str(exc))
            raise
        finally:
            discard_upload(ctx, file)  # imported (or refused): the upload is not kept twice
        options = {"name": r["name"], "val_fraction": val_fraction, "include_difficult": include_difficult,
                   "unlabelled_as_background": unlabelled_as_background}
        if dropped:
            _remember(_imported, key, (r, options))
    snippet = same_call(ctx, "import_dataset", "report", {"src": Path(file).name, **options}, "import", options, (Path(file).name,))
    return note + fenced(summarize(r)), datasets_table(ctx), json_safe(r), snippet, refreshed(dataset_choices(ctx), r["name"])


@shows_user_errors
def import_dataset(ctx: AppContext, file: str | None, name: str, val_fraction: float, include_difficult: bool = False,
                   unlabelled_as_background: bool = False,
                   progress=gr.Progress()):  # noqa: B008 - Gradio injects the tracker through this default
    """Import an uploaded zip into the workspace; returns summary, datasets table, report, snippet, picker.
    ``unlabelled_as_background`` keeps images no annotation names as backgrounds (left out by default)."""
    return run_import(ctx, file, name, val_fraction, include_difficult, unlabelled_as_background, progress, dropped=False)


@shows_user_errors
def import_dropped(ctx: AppContext, file: str | None, name: str, val_fraction: float, include_difficult: bool = False,
                   unlabelled_as_background: bool = False, progress=gr.Progress()):  # noqa: B008 - as above
    """The same import, started by dropping the zip (a private event)."""
    return run_import(ctx, file, name, val_fraction, include_difficult, unlabelled_as_background, progress, dropped=True)


def show_versions(ctx: AppContext, name: str | None, current: str | None = None):
    choices = version_choices(ctx, name)
    return versions_table(ctx, name), refreshed(choices, current)


def show_version(ctx: AppContext, version: str | None):
    return diff_table(ctx, version), gr.update(choices=run_choices(ctx, with_weights=False), value=default_run(ctx, version))


@shows_user_errors
def save(ctx: AppContext, image: str, dataset: str, value: dict | None, original: list[dict]):
    """The editor's boxes saved as a new version: message, datasets table, versions, version
    picked and the dataset picker on the new version (the next save builds on it)."""
    version = save_version(ctx, dataset=dataset, image=image, value=value, original=original)
    new = version["name"]
    return saved_text(version), datasets_table(ctx), *show_versions(ctx, dataset, new), refreshed(dataset_choices(ctx), new)


def edit_labels(ctx: AppContext, dataset: str, image: str, boxes: list) -> dict:
    """Save ``boxes`` (the full new list, each {"class": name or id, "box": [x1, y1, x2, y2]} in
    pixels) of ``image`` as a new version of ``dataset``: {"name", "base", "version", "parent", "location", "data_yaml", "diff"}."""
    return json_safe(shows_user_errors(yolov11.edit_labels)(dataset, image=image, boxes=boxes, workspace=ctx.workspace))


def dataset_versions(ctx: AppContext, dataset: str) -> list[dict]:
    """Every version of ``dataset``'s base, v1 first: name, version, parent, created, images, boxes, location, diff counts."""
    return [json_safe(v) for v in shows_user_errors(yolov11.dataset_versions)(dataset, workspace=ctx.workspace)]


@shows_user_errors
def edit_from_gallery(ctx: AppContext, name: str | None, class_name: str, problem: str, evt: gr.SelectData):
    """An image clicked in the health view's gallery, opened in the editor below."""
    _, chosen = gallery_images(ctx, name, class_name, problem)
    if not isinstance(evt.index, int) or not 0 <= evt.index < len(chosen):
        raise yolov11.UserError("that image is no longer in the gallery: pick it again")
    return open_image(ctx, name, chosen[evt.index])


def after_resplit(ctx: AppContext, cur: str | None):
    """A re-split picked its new version ``cur``: the datasets table, and the versions with it picked."""
    return datasets_table(ctx), *show_versions(ctx, cur, cur)


def show_picked(ctx: AppContext, health, picked: gr.Dropdown, version_pick: gr.Dropdown, versions: gr.Dataframe, dependency):
    """After ``dependency`` (another tab's event that set ``picked``: a value set by an event is no
    user's input, and the same value set again is no change): the versions and health view of the
    dataset it picked; returns the last event."""
    listed = dependency.then(bind(ctx, show_versions), [picked, version_pick], [versions, version_pick], api_visibility="private")
    return health.refresh(listed)


def show_datasets(ctx: AppContext, cur: str | None):
    """The tab opened (or the page loaded): the datasets table and the picker's list (``relisted``)."""
    return datasets_table(ctx), relisted(dataset_choices(ctx), cur)


def build_data(ctx: AppContext) -> gr.Tab:
    with gr.Tab("Data", id="data") as tab:
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
                unlabelled = gr.Checkbox(
                    label="Keep images without annotations as backgrounds", value=False, elem_id="unlabelled-as-background",
                    info="VOC, LabelMe, CreateML, CVAT: an image no annotation names is left out by default (it may show objects "
                         "nobody labelled); YOLO images without a .txt are backgrounds either way")
                import_btn = gr.Button("Import", variant="primary", elem_id="import-button")
            with gr.Column(scale=3):
                summary = gr.Markdown(elem_id="import-summary", latex_delimiters=[])
                with gr.Accordion("Import result (JSON)", open=False):
                    result = gr.JSON()
                code = gr.Markdown()
        gr.Markdown("### Datasets in the workspace")
        table = gr.Dataframe(value=bind(ctx, datasets_table), headers=DATASET_COLUMNS, interactive=False, elem_id="datasets-table")
        picked = gr.Dropdown(label="Dataset", choices=dataset_choices(ctx), elem_id="data-picker", allow_custom_value=True)
        ctx.data_picker = picked
        health = build_health(ctx, picked)
        gr.Markdown("### Versions\nEach label edit saved is a new version of the dataset (`name@v2`, ...); "
                    "every version stays intact and trainable.")
        versions = gr.Dataframe(headers=VERSION_COLUMNS, interactive=False, elem_id="versions-table")
        with gr.Row():
            version_pick = gr.Dropdown(label="Version", choices=[], allow_custom_value=True, elem_id="version-picker")
            retrain_run = gr.Dropdown(label="Run", choices=run_choices(ctx, with_weights=False), allow_custom_value=True,
                                      info="whose settings to train with", elem_id="retrain-run")
            start_from = gr.Radio(list(START_FROM), value=AS_THE_RUN, label="Start from", elem_id="retrain-start-from")
            retrain_btn = gr.Button("Retrain on this version", elem_id="retrain-button")
        retrain_msg = gr.Markdown(elem_id="retrain-message")
        started = gr.Textbox(label="Run started", interactive=False, elem_id="retrain-started")
        diff = gr.Dataframe(headers=DIFF_COLUMNS, interactive=False, label="Changes against its parent, by image", elem_id="version-diff")
        gr.Markdown("### Edit labels\nClick an image in the gallery above to open it here, or pick one below.")
        editor = build_label_editor(ctx, picked, wire_save=False)
        build_label_pool(ctx, picked)
        build_tiles(ctx, picked)

    # New inputs go last: callers of /import_dataset pass them by position.
    inputs, outs = [upload, name, val_fraction, difficult, unlabelled], [summary, table, result, code, picked]
    health.refresh(import_btn.click(bind(ctx, import_dataset), inputs, outs, api_name="import_dataset", concurrency_id=IMPORT_QUEUE))
    health.refresh(upload.upload(bind(ctx, import_dropped), inputs, outs, api_visibility="private", concurrency_id=IMPORT_QUEUE))
    picked.change(bind(ctx, show_versions), [picked, version_pick], [versions, version_pick], api_visibility="private")
    version_pick.change(bind(ctx, show_version), version_pick, [diff, retrain_run], api_visibility="private")
    health.refresh(editor.save.click(bind(ctx, save), [editor.image, picked, editor.annotator, editor.boxes],
                                     [editor.saved, table, versions, version_pick, picked], api_visibility="private"))
    health.gallery.select(bind(ctx, edit_from_gallery), [picked, health.class_filter, health.problem_filter], editor.outputs,
                          api_visibility="private")
    # New inputs go last: callers of /retrain_on_version pass them by position.
    retrain_btn.click(bind(ctx, retrain_on_version), [version_pick, retrain_run, start_from], [retrain_msg, started],
                      api_name="retrain_on_version")
    # A re-split picks its new version: the tables list it, the view redraws on it.
    health.refresh(health.resplit.event.then(bind(ctx, after_resplit), picked, [table, versions, version_pick], api_visibility="private"))
    with tab:  # API-only endpoints, inside the tab they belong to
        gr.api(bind(ctx, edit_labels), api_name="edit_labels")
        gr.api(bind(ctx, dataset_versions), api_name="dataset_versions", queue=False)
    listing = gr.on([tab.select, ctx.blocks.load], bind(ctx, show_datasets), picked, [table, picked], api_visibility="private")
    ctx.show_data = functools.partial(show_picked, ctx, health, picked, version_pick, versions)
    health.refresh(listing)
    return tab
