"""Predict tab: try a trained run on a photo, boxes drawn and a table of detections."""

from __future__ import annotations

import gradio as gr
import pandas as pd

import yolov11
from pages.common import GPU_BOUND, AppContext, py_args, refreshed, run_choices, same_call, shows_user_errors


def build_demo(ctx: AppContext) -> gr.Tab:
    with gr.Tab("Predict") as tab:
        with gr.Row():
            run = gr.Dropdown(label="Run", choices=run_choices(ctx), elem_id="predict-run", allow_custom_value=True)
            conf = gr.Slider(0.05, 0.95, value=0.25, step=0.05, label="Confidence threshold")
        with gr.Row():
            image = gr.Image(label="Photo", type="filepath", sources=["upload", "webcam", "clipboard"], elem_id="predict-image")
            annotated = gr.Image(label="Detections", interactive=False, elem_id="predict-output")
        go = gr.Button("Detect", variant="primary", elem_id="predict-button")
        table = gr.Dataframe(label="Detections", interactive=False)
        code = gr.Markdown()

    @shows_user_errors
    def predict(run_id: str, image_path: str, conf: float):
        """Detect objects in one image with a run's best weights."""
        if not run_id or not image_path:
            raise yolov11.UserError("pick a run and an image first")
        weights = ctx.workspace.run_weights(run_id)
        r = yolov11.predict(weights, image_path, conf=conf, workspace=ctx.workspace)
        found = r["images"][0]
        df = pd.DataFrame([{**d, "box": ", ".join(f"{v:.0f}" for v in d["box"])} for d in found["detections"]], columns=["class", "confidence", "box"])
        snippet = same_call(f"result = yolov11.predict({py_args(weights=str(weights), source='photo.jpg', conf=conf)})", f"python -m yolov11 predict --weights {weights} --source photo.jpg --conf {conf}")
        return found["annotated"], df, snippet

    go.click(predict, [run, image, conf], [annotated, table, code], api_name="predict", concurrency_id=GPU_BOUND)
    gr.on([tab.select, ctx.blocks.load], lambda cur: refreshed(run_choices(ctx), cur), run, run, api_visibility="private")
    return tab
