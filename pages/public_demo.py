"""The /demo page: the published model, a big drop zone, results drawn large. For people who
don't write code, so nothing to pick or configure but how sure the model must be."""

from __future__ import annotations

from collections import Counter

import gradio as gr
import pandas as pd

import yolov11
from pages.common import GPU_BOUND, AppContext, shows_user_errors
from pages.predict import detections_table

NOTHING_PUBLISHED = "No model is published yet: ask your ML engineer to publish one from the workbench's Predict tab."


def model_header(card: dict | None) -> str:
    if card is None:
        return f"## Object detector demo\n{NOTHING_PUBLISHED}"
    return f"## {card['name']}\nFinds **{', '.join(card['classes'])}**. Drop a photo below, or take one with your webcam."


def summary(found: dict, conf: float) -> str:
    counts = Counter(d["class"] for d in found["detections"])
    if not counts:
        return f"Nothing found at {conf:.0%} confidence or more. Try a lower confidence."
    total = sum(counts.values())
    parts = ", ".join(f"{n} {name}" for name, n in counts.most_common())
    return f"Found {total} object{'s' if total > 1 else ''}: {parts}."


def build_public_demo(ctx: AppContext) -> None:
    """Build the page's components; call inside ``with blocks.route("Demo", "/demo")``."""
    gr.Navbar(main_page_name=False)  # no link to the workbench from here (Gradio ignores visible=False on a page's Navbar)
    header = gr.Markdown(model_header(yolov11.published(ctx.workspace)), elem_id="demo-model")
    with gr.Row(equal_height=True):
        image = gr.Image(label="Your photo", type="filepath", sources=["upload", "webcam", "clipboard"], height=560, elem_id="demo-image")
        annotated = gr.Image(label="What the model found", interactive=False, height=560, elem_id="demo-output")
    conf = gr.Slider(0.05, 0.95, value=0.25, step=0.05, label="How sure must the model be? (confidence)", elem_id="demo-conf")
    found_text = gr.Markdown(elem_id="demo-summary")
    table = gr.Dataframe(label="Objects found", interactive=False, elem_id="demo-table")

    @shows_user_errors
    def detect(image_path: str | None, conf: float):
        """Detect objects in one photo with the published model."""
        if not image_path:  # the photo was cleared
            return None, "", pd.DataFrame(columns=["class", "confidence"])
        card = yolov11.published(ctx.workspace)
        if card is None:
            raise yolov11.UserError(NOTHING_PUBLISHED)
        found = yolov11.predict(card["weights"], image_path, conf=conf, workspace=ctx.workspace)["images"][0]
        return found["annotated"], summary(found, conf), detections_table(found)[["class", "confidence"]]

    # A drop (or snapshot) runs at once; so does letting go of the slider: no button to find.
    gr.on([image.change, conf.release], detect, [image, conf], [annotated, found_text, table], api_name="demo_predict", concurrency_id=GPU_BOUND)
    # Published meanwhile? A page (re)load shows the current model.
    ctx.blocks.load(lambda: model_header(yolov11.published(ctx.workspace)), None, header, api_visibility="private")
