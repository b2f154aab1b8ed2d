"""The model zoo view of the Train tab: compare models, read a model's layer card, bring your
own model YAML or starting weights."""

from __future__ import annotations

import gradio as gr
import pandas as pd

from pages.charts import zoo_figure
from pages.common import AppContext, bind, shows_user_errors
from pages.uploads import used_upload
from yolov11 import check_model_yaml, list_models, measure_latency, model_card, zoo_names
from yolov11 import describe_model as describe

PICKLE_WARNING = (
    "A .pt file is a pickle. It is opened with PyTorch's restricted loader, which refuses one that needs more than a detector's "
    "layers (such a file can run code when loaded); tick 'I trust this file' only for a checkpoint you trust."
)


ZOO_COLUMNS = ["name", "family", "scale", "params (M)", "gflops", "CPU ms @320", "strides", "description"]
CARD_COLUMNS = ["layer", "from", "module", "params"]  # yolov11.model_card's fields


def zoo_table(scales: str) -> pd.DataFrame:
    rows = [{**m, "params (M)": round(m["params"] / 1e6, 2), "CPU ms @320": measure_latency(m["name"])} for m in list_models(scales)]
    return pd.DataFrame(rows, columns=ZOO_COLUMNS)


@shows_user_errors
def compare_models(picked: list[str]):
    """The zoo table and chart of the ``picked`` scales (n when none)."""
    df = zoo_table("".join(picked) or "n")
    return df, zoo_figure(df)


@shows_user_errors
def show_card(name: str):
    """The layer card of model ``name`` (empty when none is picked)."""
    return pd.DataFrame(model_card(name) if name else [], columns=CARD_COLUMNS)


@shows_user_errors
def add_yaml(ctx: AppContext, file: str | None):
    """An uploaded model YAML, checked and kept under models/, offered and picked in the model picker."""
    if not file:
        return gr.update()
    with used_upload(ctx, file) as upload:  # the upload is deleted once kept or refused
        dest = upload.keep_by_content("models")  # models/<content hash>/<name>: Ultralytics reads the scale from the name
        try:
            check_model_yaml(dest)  # read safely and sized first: a wrong row or module is reported here, naming the row
            describe(str(dest))
        except Exception:
            upload.forget()  # not kept: it would be offered as a model
            raise
    choices = [*zoo_names(), *(str(p) for p in sorted((ctx.workspace.root / "models").glob("*/*.y*ml")))]
    return gr.update(choices=choices, value=str(dest))


def build_zoo(ctx: AppContext, model: gr.Dropdown) -> tuple[gr.File, gr.Checkbox, gr.Markdown]:
    """Zoo table, chart and model card around the Train tab's ``model`` picker; returns the
    weights upload, its "I trust this file" box and the markdown line that reports what it will transfer."""
    with gr.Accordion("Model zoo, model card, your own YAML or weights", open=False):
        with gr.Row():
            scales = gr.CheckboxGroup(["n", "s", "m", "l", "x"], value=["n", "s"],
                                      label="Scales to compare (larger ones take a while to measure)")
            compare = gr.Button("Compare models", elem_id="zoo-compare")
        table = gr.Dataframe(headers=ZOO_COLUMNS, interactive=False, elem_id="zoo-table")
        chart = gr.Plot()
        card = gr.Dataframe(headers=CARD_COLUMNS, label="Model card: layers of the chosen model", interactive=False, elem_id="model-card")
        with gr.Row():
            own_yaml = gr.File(label="Your model YAML (Ultralytics format; may use CBAM, SPPFWide, AttnDetect)",
                               file_types=[".yaml", ".yml"], elem_id="model-yaml")
            with gr.Column():
                weights = gr.File(label="Start from weights (.pt, optional)", file_types=[".pt"], elem_id="start-weights")
                trust = gr.Checkbox(label="I trust this file", value=False, info=PICKLE_WARNING, elem_id="start-weights-trust")
        transfer = gr.Markdown(elem_id="weights-transfer")

    compare.click(compare_models, scales, [table, chart], api_visibility="private")
    gr.on([model.change, ctx.blocks.load], show_card, model, card, api_visibility="private")
    own_yaml.upload(bind(ctx, add_yaml), own_yaml, model, api_visibility="private")
    return weights, trust, transfer
