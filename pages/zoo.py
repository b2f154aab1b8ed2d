"""The model zoo view of the Train tab: compare models, read a model's layer card, bring your
own model YAML or starting weights."""

from __future__ import annotations

import shutil
from pathlib import Path

import gradio as gr
import pandas as pd

from pages.charts import zoo_figure
from pages.common import AppContext, shows_user_errors
from yolov11.models import describe, list_models, measure_latency, model_card, zoo_names

PICKLE_WARNING = "Loading a .pt file runs the Python code pickled inside it: only use checkpoints you trust (e.g. official YOLO11 weights)."


def zoo_table(scales: str) -> pd.DataFrame:
    rows = [{**m, "params (M)": round(m["params"] / 1e6, 2), "CPU ms @320": measure_latency(m["name"])} for m in list_models(scales)]
    return pd.DataFrame(rows, columns=["name", "family", "scale", "params (M)", "gflops", "CPU ms @320", "strides", "description"])


def build_zoo(ctx: AppContext, model: gr.Dropdown) -> tuple[gr.File, gr.Markdown]:
    """Zoo table, chart and model card around the Train tab's ``model`` picker; returns the
    weights upload and the markdown line that reports what it will transfer."""
    with gr.Accordion("Model zoo, model card, your own YAML or weights", open=False):
        with gr.Row():
            scales = gr.CheckboxGroup(["n", "s", "m", "l", "x"], value=["n", "s"], label="Scales to compare (larger ones take a while to measure)")
            compare = gr.Button("Compare models", elem_id="zoo-compare")
        table = gr.Dataframe(interactive=False, elem_id="zoo-table")
        chart = gr.Plot()
        card = gr.Dataframe(label="Model card: layers of the chosen model", interactive=False, elem_id="model-card")
        with gr.Row():
            own_yaml = gr.File(label="Your model YAML (Ultralytics format; may use CBAM, SPPFWide, AttnDetect)", file_types=[".yaml", ".yml"], elem_id="model-yaml")
            weights = gr.File(label="Start from weights (.pt, optional)", file_types=[".pt"], elem_id="start-weights")
        gr.Markdown(f"⚠️ {PICKLE_WARNING}")
        transfer = gr.Markdown(elem_id="weights-transfer")

    @shows_user_errors
    def compare_models(picked: list[str]):
        df = zoo_table("".join(picked) or "n")
        return df, zoo_figure(df)

    @shows_user_errors
    def show_card(name: str):
        return pd.DataFrame(model_card(name)) if name else None

    @shows_user_errors
    def add_yaml(file: str | None):
        if not file:
            return gr.update()
        dest = ctx.workspace.root / "models" / Path(file).name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(file, dest)
        describe(str(dest))  # builds it: a wrong row or module is reported here, naming the row
        choices = [*zoo_names(), *(str(p) for p in sorted(dest.parent.glob("*.y*ml")))]
        return gr.update(choices=choices, value=str(dest))

    compare.click(compare_models, scales, [table, chart], api_visibility="private")
    gr.on([model.change, ctx.blocks.load], show_card, model, card, api_visibility="private")
    own_yaml.upload(add_yaml, own_yaml, model, api_visibility="private")
    return weights, transfer
