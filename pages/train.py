"""Train tab: pick data, model and settings, start; live chart, progress and log; stop.

Training runs in the core's job thread, so this page only polls: a gr.Timer asks for the run's
status every second. A reload (or a second browser) re-attaches to the running run.
"""

from __future__ import annotations

import shutil

import gradio as gr

from pages.charts import training_figure
from pages.cluster import build_cluster
from pages.runs import build_runs
from pages.train_settings import FORM, build_settings, collect, field_messages
from pages.zoo import build_zoo
from pages.common import AppContext, dataset_choices, keep_upload, py_args, refreshed, same_call, shows_user_errors
import yolov11
from yolov11 import run_status
from yolov11.models import transfer_report, zoo_names
from yolov11.training.settings import TrainSettings

POLL_S = 1.0  # chart and log refresh; an epoch event shows within this


def _progress_text(s: dict) -> str:
    line = f"**{s['run']}** · {s['status']} · epoch {s['epoch']}/{s['epochs'] or '?'} · {s['progress']:.0%}"
    if s.get("queue_position"):
        line += f" · position {s['queue_position']} in the queue"
    elif s.get("queue"):
        line += f" · {len(s['queue'])} run(s) waiting"
    if s["status"] == "running" and s["eta_s"] is not None:
        line += f" · ETA {s['eta_s']:.0f} s · {s['images_per_s'] or 0:.1f} img/s"
        if s.get("gpu_mem_gb"):
            line += f" · GPU memory {s['gpu_mem_gb']:.1f} GB"
    if s["metrics"]:
        line += " · " + ", ".join(f"{k} {v:.3f}" for k, v in s["metrics"].items() if isinstance(v, float))
    if s["error"]:
        line += f"\n\n**Error:** {s['error']}"
    return line


def build_train(ctx: AppContext) -> gr.Tab:
    d = TrainSettings()
    with gr.Tab("Train") as tab:
        with gr.Row():
            dataset = gr.Dropdown(label="Dataset", choices=dataset_choices(ctx), elem_id="train-dataset", allow_custom_value=True)
            model = gr.Dropdown(label="Model", choices=zoo_names(), value=d.model, elem_id="train-model", allow_custom_value=True)
            device = gr.Textbox(label="Device", value=d.device, info="cpu, a GPU index such as 0, or 0,1 for several GPUs (torchrun)", elem_id="train-device")
        with gr.Row():
            epochs = gr.Number(label="Epochs", value=d.epochs, precision=0, minimum=1, elem_id="train-epochs")
            imgsz = gr.Number(label="Image size", value=d.imgsz, precision=0, minimum=32, step=32, elem_id="train-imgsz")
            batch = gr.Number(label="Batch", value=d.batch, precision=0, minimum=1, elem_id="train-batch")
        form = build_settings({"epochs": epochs, "imgsz": imgsz, "batch": batch})
        weights, trust, transfer = build_zoo(ctx, model)
        build_cluster(ctx, dataset, model, device, [epochs, imgsz, batch])
        with gr.Row():
            start = gr.Button("Start training", variant="primary", elem_id="start-button")
            stop = gr.Button("Stop", variant="stop", elem_id="stop-button")
            resume = gr.Button("Resume (to the epochs above)", elem_id="resume-button")
        run_id = gr.Textbox(label="Run", interactive=False, elem_id="train-run")
        progress = gr.Markdown(elem_id="train-progress")
        chart = gr.Plot(label="Live training chart", elem_id="train-chart")
        log = gr.Textbox(label="Log", lines=12, max_lines=12, autoscroll=True, interactive=False, elem_id="train-log")
        code = gr.Markdown()
        build_runs(ctx)
        timer = gr.Timer(POLL_S)
        shown = gr.State(None)  # what this browser last drew, per session

    @shows_user_errors
    def start_training(dataset: str, model: str, epochs: float, imgsz: float, batch: float, device: str, weights: str | None = None, *more):
        """Queue a training run; returns its id at once (training goes on in the background), the
        equivalent call, and how many tensors of the optional starting weights transfer. After
        ``weights`` come the "More settings" fields, in the order of pages.train_settings.FORM,
        then "I trust this file" for the weights (default: not trusted)."""
        values, trusted = dict(zip(FORM, more)), bool(more[len(FORM)]) if len(more) > len(FORM) else False
        basics = collect({"epochs": epochs, "imgsz": imgsz, "batch": batch})
        changed = {k: v for k, v in collect(values).items() if v != getattr(TrainSettings, k)}
        settings = dict(**basics, device=device or "cpu", **changed)
        note = ""
        if weights:
            kept = keep_upload(ctx, weights, "weights")  # weights/<content hash>/<name>: two uploads named best.pt stay apart
            if trusted:
                yolov11.trust_weights(kept)
            record = ctx.workspace.dataset(dataset or "")
            try:
                t = transfer_report(model, kept, len(record["classes"]) if record else 80)
            except yolov11.UserError:
                shutil.rmtree(kept.parent, ignore_errors=True)  # refused: not kept
                raise
            settings["weights"] = str(kept)
            note = f"Starting from **{kept.name}**: {t['transferred']} of {t['total']} tensors transfer."
        run = ctx.jobs.submit(dataset or "", model, **settings)
        flags = "".join(f" --{k} {v}" for k, v in settings.items()) + " --trust-weights" * (trusted and bool(weights))
        snippet = same_call(f"result = yolov11.train({py_args(data=dataset, model=model, **settings)})", f"python -m yolov11 train --data {dataset} --model {model}{flags}")
        return run, snippet, note

    @shows_user_errors
    def training_status(run: str = "") -> dict:
        """Status of a run, or of the running (else newest) run when ``run`` is empty: status,
        epoch/epochs, progress 0..1, ETA, latest metrics, per-epoch history, batch losses, log tail."""
        run = run or ctx.jobs.latest()
        if not run:
            return {"run": None, "status": "none", "queue": ctx.jobs.queued()}
        queue = ctx.jobs.queued()
        return {**run_status(run, ctx.workspace), "queue": queue, "queue_position": queue.index(run) + 1 if run in queue else None}

    def poll(run: str, shown: tuple | None):
        """The timer's view of training_status: redraws only when something new arrived."""
        s = training_status(run)
        if s["status"] == "none":
            return "No training run yet: pick a dataset and press Start.", None, "", None
        seen = (s["run"], s["status"], len(s["batches"]), len(s["history"]), len(s["log"]))
        if shown is not None and tuple(shown) == seen:  # nothing new: leave the browser's chart alone
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        return _progress_text(s), training_figure(s), "\n".join(s["log"][-60:]), seen

    @shows_user_errors
    def stop_training(run: str):
        """Stop a running run within one batch, or cancel a queued one."""
        run = run or ctx.jobs.latest()
        return f"{run}: {ctx.jobs.stop(run)}" if run else "nothing to stop"

    @shows_user_errors
    def resume_training(run: str, epochs: float):
        """Continue a stopped or interrupted run (the shown one when empty) to ``epochs`` in all."""
        run = run or ctx.jobs.latest()
        if not run:
            raise yolov11.UserError("no run to resume yet: start one first")
        target = collect({"epochs": epochs})["epochs"] if epochs else None  # a whole number, or left for the check to name
        ctx.jobs.resume(run, target)
        return run, same_call(f"result = yolov11.resume({py_args(run_id=run, epochs=target)})", f"python -m yolov11 resume --run {run}" + (f" --epochs {target}" if target else ""))

    resume.click(resume_training, [run_id, epochs], [run_id, code], api_name="resume_training")
    def check_fields(dataset, model, epochs, imgsz, batch, device, weights=None, *more):
        basics = {"epochs": epochs, "imgsz": imgsz, "batch": batch, "device": device or "cpu"}
        settings = collect({**basics, **dict(zip(FORM, more))})
        fine = gr.validate(True, "")
        trust_field = [fine] if len(more) > len(FORM) else []
        return [fine, fine, *field_messages(settings, ["epochs", "imgsz", "batch", "device"]), fine, *field_messages(settings, list(FORM)), *trust_field]

    inputs = [dataset, model, epochs, imgsz, batch, device, weights, *(form[name] for name in FORM), trust]
    start.click(start_training, inputs, [run_id, code, transfer], api_name="start_training", validator=check_fields)
    stop.click(stop_training, run_id, progress, api_name="stop_training")
    timer.tick(poll, [run_id, shown], [progress, chart, log, shown], show_progress="hidden", api_visibility="private")
    with tab:  # gr.api adds a component; inside the tab, not directly under gr.Tabs
        gr.api(training_status, api_name="training_status", queue=False)  # a cheap read: answered at once, never queued behind work
    gr.on([tab.select, ctx.blocks.load], lambda cur: refreshed(dataset_choices(ctx), cur), dataset, dataset, api_visibility="private")
    ctx.blocks.load(lambda: ctx.jobs.latest() or "", None, run_id, api_visibility="private")
    return tab
