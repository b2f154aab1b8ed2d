"""The Train tab's settings form: presets, optimizer, schedule, data loading and augmentation;
each field shows its own message when its value is wrong, before anything starts."""

from __future__ import annotations

import math

import gradio as gr

from yolov11.training.settings import OPTIMIZERS, PRESETS, TrainSettings

# Fields of the "More settings" form, in display order (TrainSettings names).
FORM = ("optimizer", "lr0", "cos_lr", "warmup_epochs", "patience", "nbs", "seed", "workers", "cache", "fraction",
        "mosaic", "mixup", "fliplr", "scale", "hsv_h", "hsv_s", "hsv_v", "close_mosaic", "loggers")


def build_settings(basics: dict[str, gr.components.Component]) -> dict[str, gr.components.Component]:
    """The preset picker and the form (returned by field name); ``basics`` (epochs, imgsz,
    batch) follow the preset too."""
    d = TrainSettings()
    preset = gr.Radio(list(PRESETS), value="quick look", label="Preset", elem_id="train-preset")
    with gr.Accordion("More settings: optimizer, schedule, loading, augmentation", open=False):
        with gr.Row():
            form = {
                "optimizer": gr.Dropdown(list(OPTIMIZERS), value=d.optimizer, label="Optimizer"),
                "lr0": gr.Number(value=d.lr0, label="Initial learning rate (auto picks its own)"),
                "cos_lr": gr.Checkbox(value=d.cos_lr, label="Cosine LR schedule"),
                "warmup_epochs": gr.Number(value=d.warmup_epochs, label="Warm-up epochs"),
                "patience": gr.Number(value=d.patience, precision=0, label="Early-stop patience (epochs)"),
            }
        with gr.Row():
            form |= {
                "nbs": gr.Number(value=0, precision=0, minimum=0, label="Nominal batch for gradient accumulation (0 = the batch)"),
                "seed": gr.Number(value=d.seed, precision=0, label="Seed"),
                "workers": gr.Number(value=d.workers, precision=0, label="Data-loading workers"),
                "cache": gr.Dropdown(["", "ram", "disk"], value=d.cache, label="Cache images"),
                "fraction": gr.Slider(0.05, 1.0, value=d.fraction, step=0.05, label="Fraction of training images"),
            }
        with gr.Row():
            form |= {name: gr.Slider(0.0, 1.0, value=getattr(d, name), step=0.005 if name.startswith("hsv") else 0.05, label=label) for name, label in (
                ("mosaic", "Mosaic"), ("mixup", "MixUp"), ("fliplr", "Horizontal flip"), ("scale", "Scale jitter"),
                ("hsv_h", "Hue"), ("hsv_s", "Saturation"), ("hsv_v", "Brightness"))}
            form["close_mosaic"] = gr.Number(value=d.close_mosaic, precision=0, label="Epochs without mosaic at the end")
        form["loggers"] = gr.CheckboxGroup(["wandb", "mlflow"], value=[], label="Also log to (when installed; TensorBoard always logs)", elem_id="train-loggers")

    targets = {**basics, **form}
    names = [n for n in PRESETS["quick look"] if n in targets]
    preset.change(lambda p: [PRESETS[p][n] for n in names], preset, [targets[n] for n in names], api_visibility="private")
    return form


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
    """One gr.validate per input in ``order``: the message of TrainSettings.problems for that field."""
    problems = TrainSettings(**{k: v for k, v in settings.items() if k in TrainSettings.__dataclass_fields__}).problems()
    return [gr.validate(name not in problems, problems.get(name, "")) for name in order]
