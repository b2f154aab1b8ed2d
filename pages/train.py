"""Train tab: pick data, model and settings, start; live chart, progress and log; stop.

Training runs in the core's job thread, so this page only polls: a gr.Timer asks for the run's
status twice a second, outside Gradio's queue (a plain request: nothing to wait behind). A reload
(or a second browser) re-attaches to the running run. This module lays the tab out and wires its
events; what they do is in ``pages.train_handlers``.
"""

from __future__ import annotations

import gradio as gr

import pages.train_handlers as h
from pages.cluster import build_cluster
from pages.common import AppContext, bind, dataset_choices, in_the_event_loop
from pages.runs import build_runs
from pages.train_settings import FORM, build_settings, field_input
from pages.zoo import build_zoo
from yolov11 import TrainSettings, zoo_names
from yolov11 import describe_setting as describe_field

POLL_S = 0.5  # chart and log refresh: an epoch shows in the chart within this and the drawing (1 s let the worst take 1.2 s)
PASS_ON = "(values) => values"  # a hidden JSON's list, one value (or update) per output
# The log box follows its newest line (Gradio's autoscroll leaves a non-interactive box at the top).
FOLLOW_LOG = ("() => { setTimeout(() => { const box = document.querySelector('#train-log textarea'); "
              "if (box) box.scrollTop = box.scrollHeight; }, 50); }")


def build_train(ctx: AppContext) -> gr.Tab:
    d = TrainSettings()
    with gr.Tab("Train", id="train") as tab:
        with gr.Row():
            dataset = gr.Dropdown(label="Dataset", choices=dataset_choices(ctx), elem_id="train-dataset", allow_custom_value=True)
            model = gr.Dropdown(label="Model", choices=zoo_names(), value=d.model, elem_id="train-model", allow_custom_value=True)
            device = gr.Textbox(label="Device", value=d.device, info=describe_field("device")["help"], elem_id="train-device")
        with gr.Row():
            epochs = field_input("epochs", elem_id="train-epochs")  # no minimum: the form's check says what is wrong (field_input)
            imgsz = field_input("imgsz", step=32, elem_id="train-imgsz")
            batch = field_input("batch", elem_id="train-batch")
        form = build_settings({"epochs": epochs, "imgsz": imgsz, "batch": batch})
        weights, trust, transfer = build_zoo(ctx, model)
        build_cluster(ctx, dataset, model, device, [epochs, imgsz, batch])
        with gr.Row():
            start = gr.Button("Start training", variant="primary", elem_id="start-button")
            stop = gr.Button("Stop", variant="secondary", elem_id="stop-button")  # red while a run is running or queued (poll)
            resume = gr.Button("Resume (to the epochs above)", elem_id="resume-button")
        run_id = gr.Textbox(label="Run", interactive=False, elem_id="train-run")
        progress = gr.Markdown(elem_id="train-progress")
        chart = gr.Plot(label="Live training chart", elem_id="train-chart")
        log = gr.Textbox(label="Log", lines=12, max_lines=12, autoscroll=True, interactive=False, elem_id="train-log")
        code = gr.Markdown()
        build_runs(ctx)
        timer = gr.Timer(POLL_S)
        shown = gr.State(None)  # what this browser last drew, per session
        listing, form_values = gr.JSON(visible="hidden"), gr.JSON(visible="hidden")  # server values for the form (below)

    inputs = [dataset, model, epochs, imgsz, batch, device, weights, *(form[name] for name in FORM), trust]  # START_INPUTS, in order
    start.click(
        bind(ctx, h.start_training, h.START_INPUTS, h.FORM_DEFAULTS), inputs, [run_id, code, transfer],
        api_name="start_training", validator=bind(ctx, h.check_fields, h.START_INPUTS, h.FORM_DEFAULTS),
    )
    stop.click(bind(ctx, h.stop_training), run_id, progress, api_name="stop_training")
    resume.click(bind(ctx, h.resume_training), [run_id, epochs], [run_id, code], api_name="resume_training")
    timer.tick(bind(ctx, h.poll), [run_id, shown], [progress, chart, log, shown, stop], show_progress="hidden", api_visibility="private",
               queue=False)
    log.change(None, None, None, js=FOLLOW_LOG)
    with tab:  # gr.api adds a component; inside the tab, not directly under gr.Tabs
        gr.api(in_the_event_loop(bind(ctx, h.training_status_at_once), bind(ctx, h.training_status)),
               api_name="training_status", queue=False)  # a cheap read: answered at once
    # The form's fields are written by the browser only. Gradio's page keeps a field's check message
    # (the start's validator, app_error) in the field's status, and every later server event of the
    # page (this timer's poll, twice a second) puts back the status of each field that some server
    # event writes to, without the message: it would last under a second. So the server's values
    # for the fields travel through a hidden JSON and a browser step sets them.
    restored = {"dataset": dataset, "model": model, "epochs": epochs, "imgsz": imgsz, "batch": batch, "device": device, **form}
    tab.select(bind(ctx, h.relist_datasets), dataset, listing, api_visibility="private").then(None, listing, dataset, js=PASS_ON)
    ctx.blocks.load(bind(ctx, h.restore_form), None, [run_id, form_values], api_visibility="private").then(
        None, form_values, [restored[name] for name in h.RESTORED], js=PASS_ON)
    return tab
