"""The /demo page: the published model, a big drop zone, results drawn large. For people who
don't write code, so nothing to pick or configure but how sure the model must be.
``build_public_demo`` lays the page out and wires its events; the handlers are the module's
functions (``pages.common.bind`` gives them the app context)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import gradio as gr
import pandas as pd

import yolov11
from pages.common import GPU_BOUND, AppContext, bind, shows_user_errors
from pages.predict import DETECTION_COLUMNS, VIDEO_TYPES, detections_table, video_progress
from pages.stoppable import run_stoppable, stop_when_closed
from pages.text import md_text
from pages.uploads import upload_path, used_upload
from pages.video_view import COUNT_COLUMNS, counts_sentence, counts_table, detections_over_time_figure, warning_note

NOTHING_PUBLISHED = "No model is published yet: ask your ML engineer to publish one from the workbench's Predict tab."
MIN_CONF = 0.05  # the slider's lowest confidence
DEMO_COLUMNS = DETECTION_COLUMNS[:2]  # class, confidence
DEMO_MAX_TILES = 64  # "Small objects" on /demo: a 4000x3000 phone photo at 640 px tiles is 42; a few seconds of CPU each
DEMO_MAX_VIDEO_TILES = 3600  # a video's tiles x frames: no more passes than the longest plain video (60 s at 60 fps);
# 1080p at 640 px tiles is 8 a frame: 15 s at 30 fps
# The page's browser tab carries the header's title (Gradio gives all pages the app's title; the
# header's Markdown escapes, backslashes, taken out: document.title is text), and Enter in the
# slider's number box commits the value as letting go of the slider does: Gradio's Slider sends
# "release" when that box loses focus, and nothing on Enter.
PAGE_JS = """(header) => {
    const title = (header || "").split("\\n")[0].replace(/^#+\\s*/, "").replace(/\\\\(.)/g, "$1");
    if (title) document.title = title;
    if (window.demoEnterCommits) return;
    window.demoEnterCommits = true;
    document.addEventListener("keydown", (e) => {
        if (e.key === "Enter" && e.target.matches && e.target.matches("#demo-conf input[type=number]")) e.target.blur();
    }, true);
}"""


def demo_title(card: dict | None) -> str:
    """The name it was published under; one left to default to the run id (which means nothing
    to a visitor) gives way to what the model finds."""
    if card is None:
        return "Object detector demo"
    if card["name"] != card.get("source_run"):
        return card["name"]
    classes = card["classes"]
    if not 1 <= len(classes) <= 3:
        return "Object detector"
    listed = classes[0] if len(classes) == 1 else f"{', '.join(classes[:-1])} and {classes[-1]}"
    return f"{listed[:1].upper()}{listed[1:]} detector"


def model_header(card: dict | None) -> str:
    """The page's header (Markdown): the title, then what the model finds; names from the
    model's dataset shown as text."""
    if card is None:
        return f"## {demo_title(card)}\n{NOTHING_PUBLISHED}"
    finds = md_text(", ".join(card["classes"]))
    return f"## {md_text(demo_title(card))}\nFinds **{finds}**. Drop a photo below, or take one with your webcam."


def summary(found: dict, conf: float) -> str:
    counts = Counter(d["class"] for d in found["detections"])
    if not counts and conf <= MIN_CONF:
        return f"Nothing found even at {conf:.0%} confidence: this model may not know these objects."
    if not counts:
        return f"Nothing found at {conf:.0%} confidence or more. Try a lower confidence."
    total = sum(counts.values())
    parts = ", ".join(f"{n} {md_text(name)}" for name, n in counts.most_common())
    return f"Found {total} object{'s' if total > 1 else ''}: {parts}."


@shows_user_errors
def detect(ctx: AppContext, image: dict | str | None, conf: float, small: bool = False):
    """Detect objects in one photo with the published model; ``small``: tile by tile, at most
    DEMO_MAX_TILES tiles (a visitor's photo must not start minutes of work)."""
    if not upload_path(image):  # the photo was cleared
        return None, "", pd.DataFrame(columns=DEMO_COLUMNS)
    # Gradio's raw value (the event skips its preprocessing, which would open a photo already
    # moved): strict, only this app's uploads. Kept beside its drawing (pruned with it) for the
    # slider's re-runs; refused, or used and not kept, the upload is deleted.
    with used_upload(ctx, image, strict=True) as photo:
        card = yolov11.published(ctx.workspace)
        if card is None:
            raise yolov11.UserError(NOTHING_PUBLISHED)
        sliced = yolov11.Slicing(max_tiles=DEMO_MAX_TILES) if small else None
        r = yolov11.predict(card["weights"], photo.path, conf=conf, workspace=ctx.workspace, sliced=sliced)
        photo.keep(Path(r["dir"]) / "upload" / photo.name)
    found = r["images"][0]
    return found["annotated"], summary(found, conf), detections_table(found)[DEMO_COLUMNS]


@shows_user_errors
def track_video(ctx: AppContext, video_path: str | None, conf: float, small: bool, progress, *, stop):
    """``detect_video``'s work, in a worker thread that stops when ``stop`` is set."""
    if not video_path:  # the video was cleared
        return None, "", pd.DataFrame(columns=COUNT_COLUMNS), None
    with used_upload(ctx, video_path) as clip:  # run once, when dropped: used or refused, the upload is deleted
        card = yolov11.published(ctx.workspace)
        if card is None:
            raise yolov11.UserError(NOTHING_PUBLISHED)
        sliced = yolov11.Slicing(max_tiles=DEMO_MAX_TILES, max_video_tiles=DEMO_MAX_VIDEO_TILES) if small else None
        r = yolov11.predict_video(card["weights"], clip.path, conf=conf, workspace=ctx.workspace,
                                  progress=video_progress(progress), stop=stop, sliced=sliced)
    return r["video"], warning_note(r) + counts_sentence(r), counts_table(r), detections_over_time_figure(r)


async def detect_video(ctx: AppContext, video_path: str | None, conf: float, small: bool = False, request: gr.Request = None,
                       progress=gr.Progress()):  # noqa: B008 - Gradio injects the tracker through this default
    """Track objects through one video with the published model: the annotated video, a
    sentence, distinct objects per class and detections per class over time; ``small``: tile by
    tile, at most DEMO_MAX_VIDEO_TILES tiles in all. Cancelling the call (or leaving the page)
    stops it within a frame."""
    return await run_stoppable(request, track_video, ctx, video_path, conf, small, progress)


def current_header(ctx: AppContext) -> str:
    return model_header(yolov11.published(ctx.workspace))


def build_public_demo(ctx: AppContext) -> None:
    """Build the page's components; call inside ``with blocks.route("Demo", "/demo")``."""
    gr.Navbar(main_page_name=False)  # no link to the workbench from here (Gradio ignores visible=False on a page's Navbar)
    header = gr.Markdown(model_header(yolov11.published(ctx.workspace)), elem_id="demo-model")
    with gr.Row(equal_height=True):
        image = gr.Image(label="Your photo", type="filepath", sources=["upload", "webcam", "clipboard"], height=560, elem_id="demo-image")
        annotated = gr.Image(label="What the model found", interactive=False, height=560, elem_id="demo-output")
    with gr.Row():
        conf = gr.Slider(MIN_CONF, 0.95, value=0.25, step=0.05, label="How sure must the model be? (confidence)", elem_id="demo-conf")
        small = gr.Checkbox(value=False, label="Small objects (slower: photos and videos are looked at piece by piece)",
                            elem_id="demo-small")
    found_text = gr.Markdown(elem_id="demo-summary")
    table = gr.Dataframe(headers=DEMO_COLUMNS, label="Objects found", interactive=False, elem_id="demo-table")
    gr.Markdown(f"### Or drop a short video\n{VIDEO_TYPES}, up to a minute: "
                "each object is followed from frame to frame, so it is counted once.")
    with gr.Row(equal_height=True):
        video = gr.Video(label="Your video", sources=["upload"], height=420, elem_id="demo-video")
        tracked = gr.Video(label="What the model found, object by object", interactive=False, height=420, elem_id="demo-video-output")
    video_text = gr.Markdown(elem_id="demo-video-summary")
    with gr.Row():
        video_counts = gr.Dataframe(headers=COUNT_COLUMNS, label="Different objects seen", interactive=False, elem_id="demo-video-counts")
        video_chart = gr.Plot(label="Objects in view over time", elem_id="demo-video-chart")

    shown_header = bind(ctx, current_header)
    # A drop (or snapshot) runs at once; so does letting go of the slider, or Enter in its number
    # box (PAGE_JS): no button to find. Published meanwhile? The header follows the model used.
    found = gr.on([image.change, conf.release, small.input], bind(ctx, detect), [image, conf, small], [annotated, found_text, table],
                  api_name="demo_predict", concurrency_id=GPU_BOUND, preprocess=False)
    found.success(shown_header, None, header, api_visibility="private").then(None, header, None, js=PAGE_JS)
    # A dropped video runs at once too, at the slider's confidence (letting go of the slider
    # re-runs the photo only: a video takes a while).
    followed = video.change(bind(ctx, detect_video), [video, conf, small], [tracked, video_text, video_counts, video_chart],
                            api_name="demo_predict_video", concurrency_id=GPU_BOUND)
    stop_when_closed(ctx.blocks)
    followed.success(shown_header, None, header, api_visibility="private").then(None, header, None, js=PAGE_JS)
    ctx.blocks.load(shown_header, None, header, api_visibility="private").then(None, header, None, js=PAGE_JS)
