"""Predict tab: try a run's (or an uploaded) model on photos, see boxes and a table of
detections, and publish the model to the /demo page for people who don't write code.
``build_predict`` lays the tab out and wires its events; the handlers are the module's functions
(``pages.common.bind`` gives them the app context)."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pandas as pd

import yolov11
from pages.common import GPU_BOUND, AppContext, bind, run_choices, same_call, shows_user_errors, toast_text
from pages.runs import relist_runs
from pages.stoppable import run_stoppable, stop_when_closed
from pages.text import md_text
from pages.uploads import Upload, refused_on_arrival, upload_path, used_upload, used_uploads
from pages.video_view import COUNT_COLUMNS, counts_table, detections_over_time_figure, warning_note
from pages.zoo import PICKLE_WARNING
from yolov11 import EXPORT_FORMATS

# a folder model is picked by run, or by path in the API
WEIGHT_TYPES = [".pt", *(f.suffix for f in EXPORT_FORMATS.values() if not f.folder)]
VIDEO_TYPES = ", ".join(sorted(yolov11.VIDEO_SUFFIXES))
DETECTION_COLUMNS = ["class", "confidence", "box"]


def video_progress(progress):
    """yolov11.predict_video's progress(fraction, message) as a gr.Progress bar."""
    return lambda fraction, message: progress(fraction, desc=message)


def detections_table(found: dict) -> pd.DataFrame:
    """One image's detections (an item of yolov11.predict()["images"]) as a table."""
    rows = [{**d, "box": ", ".join(f"{v:.0f}" for v in d["box"])} for d in found["detections"]]
    return pd.DataFrame(rows, columns=DETECTION_COLUMNS)


def _caption(found: dict) -> str:
    return f"{Path(found['image']).name}: {len(found['detections'])} found"


def nothing_found(ctx: AppContext, images: list[dict], conf: float, run_id: str | None) -> str:
    """A line above the snippet when no photo had anything at this confidence. With a run's
    weights its val mAP50 tells a model that finds nothing from a threshold set too high."""
    if any(i["detections"] for i in images):
        return ""
    note = f"**Nothing found at confidence {conf:g}**"
    status = yolov11.run_status(run_id, ctx.workspace) if run_id else None
    if status and status["val_mAP50"] is not None:
        advice = " — more epochs?" if status["warning"] else ": try a lower confidence."
        note += f"; the model's val mAP50 is {status['val_mAP50']:.2f}{advice}"
    return note + "\n\n"


def chosen_weights(ctx: AppContext, run_id: str | None, uploaded: Upload | None, trusted: bool = False) -> Path:
    """The uploaded weights (kept, trusted if asked), else the run's best."""
    if uploaded:
        kept = uploaded.keep_by_content("weights")  # weights/<content hash>/<name>: Detect, Publish and Track use it again
        if trusted and kept.suffix == ".pt":
            yolov11.trust_weights(kept)
        return kept
    if run_id:
        return ctx.workspace.run_weights(run_id)
    raise yolov11.UserError("pick a run or upload weights first")


def sliced_of(small_objects: str | None) -> object:
    """The "Small objects" choice as predict's ``sliced``: "off" None, "on" True, "auto"; anything else is refused by predict."""
    return {"off": None, "on": True, "auto": "auto"}.get(small_objects or "off", small_objects)


def sliced_shown(sliced: object) -> tuple[dict, dict]:
    """The same call's keyword (``sliced=``) and CLI flag (``--slice``) for a sliced prediction; empty when off."""
    return ({"sliced": sliced}, {"slice": "on" if sliced is True else sliced}) if sliced else ({}, {})


@shows_user_errors
def predict(ctx: AppContext, run_id: str, image: dict | None, conf: float, uploaded: dict | None = None, more: list[dict] | None = None,
            trusted: bool = False, small_objects: str = "off"):
    """Detect objects in the photo (and any more photos) with a run's best or uploaded weights;
    ``small_objects``: "off", "on" (tile by tile, ``sliced=True``) or "auto" (big photos only)."""
    values = [v for v in [image, *(more or [])] if upload_path(v)]
    if not values:
        raise yolov11.UserError("add a photo first (upload, webcam, paste, or More photos)")
    if not uploaded and not run_id:  # before any upload is used: they stay for the next press
        raise yolov11.UserError("pick a run or upload weights first")
    # Gradio's raw values (the event skips its preprocessing, which would open a photo already
    # moved): strict, only this app's uploads. The photos are kept beside their drawings
    # (pruned with them) for Detect pressed again; the uploads themselves are deleted.
    with used_uploads(ctx, values, strict=True) as photos, used_upload(ctx, uploaded, strict=True) as weights_upload:
        weights = chosen_weights(ctx, run_id, weights_upload, trusted)
        sliced = sliced_of(small_objects)
        r = yolov11.predict(weights, [p.path for p in photos], conf=conf, workspace=ctx.workspace, sliced=sliced)
        kept = [p.keep(Path(r["dir"]) / "upload" / str(i) / p.name) for i, p in enumerate(photos)]
    first = r["images"][0]
    source = str(kept[0]) if len(kept) == 1 else "photos/"
    keyword, flag = sliced_shown(sliced)
    shown = {"weights": str(weights), "source": source, "conf": conf, **keyword}
    flags = {**{k: v for k, v in shown.items() if k != "sliced"}, **flag}
    snippet = same_call(ctx, "predict", "result", shown, "predict", {**flags, "trust_weights": trusted and str(weights).endswith(".pt")})
    note = nothing_found(ctx, r["images"], conf, None if uploaded else run_id)
    return first["annotated"], detections_table(first), note + snippet, r["images"]


@shows_user_errors
def track_video(ctx: AppContext, run_id: str, video_path: str | None, conf: float, uploaded: str | None, trusted: bool,
                small_objects: str, progress, *, stop):
    """``predict_video``'s work, in a worker thread that stops when ``stop`` is set."""
    if not video_path:
        raise yolov11.UserError(f"add a video first ({VIDEO_TYPES})")
    with used_upload(ctx, uploaded) as weights_upload:  # before the video is used: "pick a run" leaves it for the next press
        weights = chosen_weights(ctx, run_id, weights_upload, trusted)
    with used_upload(ctx, video_path) as clip:  # kept beside its output for Track pressed again; refused, it is deleted
        sliced = sliced_of(small_objects)
        r = yolov11.predict_video(weights, clip.path, conf=conf, workspace=ctx.workspace, progress=video_progress(progress), stop=stop,
                                  sliced=sliced)
        source = clip.keep(Path(r["dir"]) / "upload" / clip.name)
    keyword, flag = sliced_shown(sliced)
    shown = {"weights": str(weights), "source": str(source), "conf": conf, **keyword}
    flags = {"weights": str(weights), "source": str(source), "conf": conf, **flag,
             "trust_weights": trusted and str(weights).endswith(".pt")}
    snippet = same_call(ctx, "predict_video", "result", shown, "predict", flags)
    return r["video"], counts_table(r), detections_over_time_figure(r), warning_note(r) + snippet


async def predict_video(ctx: AppContext, run_id: str, video_path: str | None, conf: float, uploaded: str | None = None,
                        trusted: bool = False, small_objects: str = "off", request: gr.Request = None,
                        progress=gr.Progress()):  # noqa: B008 - Gradio injects the tracker through this default
    """Track objects through a video with a run's best or uploaded weights: the annotated video,
    distinct objects per class, detections per class over time; ``small_objects`` as predict's.
    Cancelling the call (or closing the page) stops it within a frame."""
    return await run_stoppable(request, track_video, ctx, run_id, video_path, conf, uploaded, trusted, small_objects, progress)


def show_gallery(images: list[dict]):
    return gr.update(value=[(i["annotated"], _caption(i)) for i in images], visible=len(images) > 1, selected_index=0)


def pick(images: list[dict], evt: gr.SelectData):
    found = images[evt.index]
    return found["annotated"], detections_table(found)


def no_note() -> str:
    """A cleared video takes the note about it along."""
    return ""


@shows_user_errors
def publish_model(ctx: AppContext, run_id: str, uploaded: str | None = None, name: str = "", trusted: bool = False):
    """Make the chosen model the one the /demo page shows."""
    if not uploaded and not run_id:
        raise yolov11.UserError("pick a run or upload weights first")
    with used_upload(ctx, uploaded) as weights_upload:
        weights = chosen_weights(ctx, run_id, weights_upload, trusted)
    source = {"weights": str(weights)} if uploaded else {"run": run_id}
    card = yolov11.publish(**source, name=name.strip() or None, workspace=ctx.workspace)
    quality = "" if card["val_mAP50"] is None else f"; val mAP50 {card['val_mAP50']:.2f}"
    weak = f"**Warning: {md_text(card['warning'])}.** /demo visitors will see it find little or nothing.\n\n" if card["warning"] else ""
    if card["warning"]:
        gr.Warning(toast_text(f"Published {card['name']}, but {card['warning']}"))
    classes = md_text(", ".join(card["classes"]))
    return (
        weak
        + f"Published **{md_text(card['name'])}** ({classes}{quality}): open [/demo](demo) to try it, or share that link.\n\n"
        + same_call(ctx, "publish", "card", {**source, "name": card["name"]}, "publish", {**source, "name": card["name"]})
    )


def build_predict(ctx: AppContext) -> gr.Tab:
    with gr.Tab("Predict", id="predict") as tab:
        with gr.Row():
            run = gr.Dropdown(label="Run", choices=run_choices(ctx), elem_id="predict-run", allow_custom_value=True)
            with gr.Column():
                weights_file = gr.File(label=f"…or upload weights ({', '.join(WEIGHT_TYPES)})", file_types=WEIGHT_TYPES, type="filepath",
                                       height=120, elem_id="predict-weights")
                trust = gr.Checkbox(label="I trust this file (.pt)", value=False, info=PICKLE_WARNING, elem_id="predict-weights-trust")
            conf = gr.Slider(0.05, 0.95, value=0.25, step=0.05, label="Confidence threshold")
            small = gr.Radio(["off", "on", "auto"], value="off", label="Small objects: predict tile by tile",
                             info="auto: only photos with a side over twice the model's input", elem_id="predict-small")
        with gr.Row():
            with gr.Column():
                image = gr.Image(label="Photo", type="filepath", sources=["upload", "webcam", "clipboard"], elem_id="predict-image")
                photos = gr.File(label="More photos", file_count="multiple", file_types=["image"], type="filepath", height=120,
                                 elem_id="predict-photos")
            with gr.Column():
                annotated = gr.Image(label="Detections", interactive=False, elem_id="predict-output")
                # Whole photos at a tile's size: with few photos Gradio would widen the columns and crop each to a square.
                gallery = gr.Gallery(label="All photos: pick one to see its table", columns=4, height=320, object_fit="contain",
                                     fit_columns=False, visible=False, elem_id="predict-gallery")
        go = gr.Button("Detect", variant="primary", elem_id="predict-button")
        table = gr.Dataframe(headers=DETECTION_COLUMNS, label="Detections", interactive=False, elem_id="predict-table")
        code = gr.Markdown()
        with gr.Group():
            gr.Markdown(f"### Video\nTrack objects through a short clip ({VIDEO_TYPES}; up to a minute): "
                        "each object keeps its number from frame to frame, so the counts are of distinct objects, not of detections.")
            with gr.Row():
                video = gr.Video(label="Video", sources=["upload"], elem_id="predict-video")
                tracked = gr.Video(label="Tracked objects", interactive=False, elem_id="predict-video-output")
            video_note = gr.Markdown(elem_id="predict-video-note")  # why a dropped video was refused, as soon as it landed
            video_go = gr.Button("Track objects in the video", variant="primary", elem_id="predict-video-button")
            with gr.Row():
                video_counts = gr.Dataframe(headers=COUNT_COLUMNS, label="Distinct objects per class", interactive=False,
                                            elem_id="predict-video-counts")
                video_chart = gr.Plot(label="Detections per class over time", elem_id="predict-video-chart")
            video_code = gr.Markdown(elem_id="predict-video-code")
        with gr.Accordion("Share on the /demo page", open=False):
            gr.Markdown("Publishing copies the model above (the uploaded weights, else the run's best) to the app's **/demo** page: "
                        "a big drop zone and nothing to configure, for people who don't write code.")
            with gr.Row():
                name = gr.Textbox(label="Name on /demo", placeholder="default: the run id", elem_id="publish-name")
                publish = gr.Button("Publish to /demo", elem_id="publish-button")
            published_note = gr.Markdown(elem_id="publish-note")
        results = gr.State([])  # this browser's last predictions, for the gallery and its picks

    go.click(bind(ctx, predict), [run, image, conf, weights_file, photos, trust, small], [annotated, table, code, results],
             api_name="predict", concurrency_id=GPU_BOUND, preprocess=False).success(
        show_gallery, results, gallery, api_visibility="private"
    )
    gallery.select(pick, results, [annotated, table], api_visibility="private")
    # the caps, as soon as it lands
    video.upload(refused_on_arrival(ctx, yolov11.probe_video), video, [video, video_note], api_visibility="private")
    video.clear(no_note, None, video_note, api_visibility="private")
    video_go.click(bind(ctx, predict_video), [run, video, conf, weights_file, trust, small],
                   [tracked, video_counts, video_chart, video_code], api_name="predict_video", concurrency_id=GPU_BOUND)
    stop_when_closed(ctx.blocks)
    publish.click(bind(ctx, publish_model), [run, weights_file, name, trust], published_note, api_name="publish_model")
    gr.on([tab.select, ctx.blocks.load], bind(ctx, relist_runs), run, run, api_visibility="private")
    return tab
