"""The Train tab's settings form: presets, optimizer, schedule, data loading and augmentation;
each field shows its own message when its value is wrong, before anything starts."""

from __future__ import annotations

import json
import math

import gradio as gr

from pages.common import from_the_app, in_app_words
from yolov11 import PRESETS, TrainSettings
from yolov11 import describe_setting as describe_field

# Fields of the "More settings" form, in display order (TrainSettings names).
FORM = ("optimizer", "lr0", "cos_lr", "warmup_epochs", "patience", "nbs", "seed", "workers", "cache", "fraction",
        "mosaic", "mixup", "fliplr", "scale", "hsv_h", "hsv_s", "hsv_v", "close_mosaic", "loggers")


def field_input(name: str, **overrides) -> gr.components.Component:
    """The form input of a TrainSettings field, labelled and explained by its metadata (the
    CLI's --help reads the same): a dropdown for choices, a checkbox for flags, a slider for a
    0..1 value, a number otherwise (whole for integer fields). A number has no ``minimum``:
    Gradio would refuse a value below it with its own generic message before the form's check
    (field_messages) could say, next to the field, what is wrong."""
    d = describe_field(name)
    f = TrainSettings.__dataclass_fields__[name]
    kw = {"label": d["label"], "info": d["help"], "value": d["default"], **overrides}
    if d["choices"] is not None:
        return gr.Dropdown(list(d["choices"]), **kw)
    if isinstance(d["default"], bool):
        return gr.Checkbox(**kw)
    if f.metadata.get("kind") is float and f.metadata["high"] == 1.0:
        return gr.Slider(0.0, 1.0, step=0.005 if name.startswith("hsv") else 0.05, **kw)
    if f.metadata.get("kind") is int:
        return gr.Number(precision=0, **kw)
    return gr.Number(**kw)


def build_settings(basics: dict[str, gr.components.Component]) -> dict[str, gr.components.Component]:
    """The preset picker and the form (returned by field name); ``basics`` (epochs, imgsz,
    batch) follow the preset too."""
    preset = gr.Radio(list(PRESETS), value="quick look", label="Preset", elem_id="train-preset")
    with gr.Accordion("More settings: optimizer, schedule, loading, augmentation", open=False):
        with gr.Row():
            form = {name: field_input(name) for name in ("optimizer", "lr0", "cos_lr", "warmup_epochs", "patience")}
        with gr.Row():
            form |= {
                "nbs": field_input("nbs", value=0),  # 0 in the form: the batch
                "seed": field_input("seed"),
                "workers": field_input("workers"),
                "cache": field_input("cache"),
                "fraction": gr.Slider(0.05, 1.0, step=0.05, **_labelled("fraction")),
            }
        with gr.Row():
            form |= {name: field_input(name) for name in ("mosaic", "mixup", "fliplr", "hsv_h", "hsv_s", "hsv_v")}
            form["scale"] = gr.Slider(0.0, 1.0, step=0.05, **_labelled("scale"))  # the form offers 0..1; the CLI takes more
            form["close_mosaic"] = field_input("close_mosaic")
        form["loggers"] = gr.CheckboxGroup(["wandb", "mlflow"], value=[], elem_id="train-loggers",
                                           **{k: v for k, v in _labelled("loggers").items() if k != "value"})

    targets = {**basics, **form}
    names = [n for n in PRESETS["quick look"] if n in targets]
    # In the browser, not the server: a field that any server event writes to loses the message the
    # start's check shows next to it at the next event of the page (the live view's poll, twice a
    # second; see pages.train). The presets are constants, so the page can fill them in itself.
    table = json.dumps({p: [PRESETS[p][n] for n in names] for p in PRESETS})
    preset.change(None, preset, [targets[n] for n in names], js=f"(p) => ({table})[p]", api_visibility="private")
    return form


def _labelled(name: str) -> dict:
    d = describe_field(name)
    return {"label": d["label"], "info": d["help"], "value": d["default"]}


def collect(values: dict) -> dict:
    """Form values -> TrainSettings keyword arguments (Gradio gives floats for integer fields)."""
    out = {}
    for name, value in values.items():
        default = getattr(TrainSettings, name, None)
        if name == "loggers":
            out[name] = ",".join(value) if isinstance(value, (list, tuple)) else value or ""
        elif name == "nbs":
            out[name] = int(value) if value and math.isfinite(value) and float(value).is_integer() else (None if not value else value)
        elif isinstance(default, bool):
            out[name] = bool(value)
        elif isinstance(default, int) and isinstance(value, (int, float)) and math.isfinite(value) and float(value).is_integer():
            out[name] = int(value)
        else:
            out[name] = value
    return out


def field_messages(settings: dict, order: list[str]) -> list[dict]:
    """One gr.validate per input in ``order``: the message of TrainSettings.problems for that
    field, in the form's words on the app's page ("Epochs 0: must be a positive integer"), as
    the core says it for API clients ("--epochs 0: ...")."""
    errors = TrainSettings(**{k: v for k, v in settings.items() if k in TrainSettings.__dataclass_fields__}).errors()
    say = in_app_words if from_the_app() else str
    return [gr.validate(name not in errors, say(errors[name]) if name in errors else "") for name in order]


def form_values(settings: dict) -> dict:
    """A run's recorded settings (``TrainSettings.record()``: Ultralytics' arguments) as values of
    the form's fields, by field name: ``TrainSettings.from_record`` (the one inverse of
    ``record()``), then each value as the form holds it (``collect`` read backwards); a field the
    record lacks, or whose value the form cannot hold, is left out."""
    cfg = TrainSettings.from_record(settings)
    out = {}
    for name in ("epochs", "imgsz", "batch", "device", *FORM):
        if name not in settings:
            continue
        value = getattr(cfg, name)
        if name == "nbs":  # None: the batch's own (the form's 0)
            value = value or 0
        elif name == "loggers":
            value = [v for v in str(value or "").split(",") if v in ("wandb", "mlflow")]
        elif name == "device":
            value = str(value)
        elif name in ("scale", "fraction") and not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
            continue  # the CLI takes more than the form's slider offers
        out[name] = value
    return out
