"""What the Train tab does when asked: module-level handlers taking the app context and named
values (``pages.common.bind`` turns them into Gradio events), so each runs without a browser."""

from __future__ import annotations

import threading
from collections import OrderedDict

import gradio as gr
from gradio.components.plot import PlotData

import yolov11
from pages.charts import spec_json, training_spec
from pages.common import (
    AppContext,
    dataset_choices,
    from_the_app,
    in_app_words,
    refreshed,
    relisted,
    same_call,
    shows_user_errors,
)
from pages.text import md_text
from pages.train_settings import FORM, collect, field_messages, form_values
from pages.uploads import used_upload
from yolov11 import TrainRequest, TrainSettings, run_status

BASICS = ["dataset", "model", "epochs", "imgsz", "batch", "device", "weights"]
START_INPUTS = [*BASICS, *FORM, "trusted"]  # /start_training's inputs, in order (clients call it positionally)
FORM_DEFAULTS = {name: getattr(TrainSettings, name, None) for name in FORM} | {"nbs": 0, "loggers": [], "weights": None, "trusted": False}
RESTORED = ["dataset", "model", "epochs", "imgsz", "batch", "device", *FORM]  # what a page (re)load puts back from the shown run
LIVE = ("running", "queued")  # a run the Stop button can act on
NO_DATASET = "--data : pick a dataset (a workspace dataset name or a data.yaml path)"


def progress_text(s: dict) -> str:
    line = f"**{md_text(s['run'])}** · {s['status']} · epoch {s['epoch']}/{s['epochs'] or '?'} · {s['progress']:.0%}"
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
    if s.get("warning"):
        line += f"\n\n**Warning:** {md_text(s['warning'])}"
    if s.get("advice") and s["status"] == "done":
        line += "\n\n**What to fix next** (Evaluate → What to fix next says more): " + "; ".join(
            f"{n}. {md_text(a['title'])} (expected +{a['expected_gain']:.3f} mAP50-95)" for n, a in enumerate(s["advice"], 1))
    if s["error"]:
        line += f"\n\n**Error:** {md_text(s['error'])}"
    return line


@shows_user_errors
def start_training(ctx: AppContext, dataset: str, model: str, epochs: float, imgsz: float, batch: float, device: str,
                   weights: str | None = None, trusted: bool = False, **more):
    """Queue a training run; returns its id at once (training goes on in the background), the
    equivalent call, and how many tensors of the optional starting weights transfer. ``more``:
    the "More settings" fields by name (pages.train_settings.FORM); ``trusted``: "I trust this
    file" for the weights."""
    basics = collect({"epochs": epochs, "imgsz": imgsz, "batch": batch})
    changed = {k: v for k, v in collect({k: more[k] for k in FORM if k in more}).items() if v != getattr(TrainSettings, k)}
    settings = dict(**basics, device=device or "cpu", **changed)
    note = ""
    if weights:
        with used_upload(ctx, weights) as upload:  # the upload deleted once kept or refused; Start pressed again finds the kept copy
            kept = upload.keep_by_content("weights")  # weights/<content hash>/<name>: two uploads named best.pt stay apart
            if trusted:
                yolov11.trust_weights(kept)
            settings["weights"] = str(kept)
            try:
                request = TrainRequest.check(dataset or "", model, settings, ctx.workspace, with_transfer=True)  # the file opened once
            except yolov11.UserError as exc:
                if exc.field == "--weights":
                    upload.forget()  # refused: not kept (a copy kept earlier, which a run may use, stays)
                raise
        t = request.transfer
        note = f"Starting from **{md_text(kept.name)}**: {t['transferred']} of {t['total']} tensors transfer."
    else:
        request = TrainRequest.check(dataset or "", model, settings, ctx.workspace)
    run = ctx.jobs.submit_request(request)
    call = {"data": dataset, "model": model, **settings}
    snippet = same_call(ctx, "train", "result", call, "train", {**call, "trust_weights": trusted and bool(weights)})
    return run, snippet, note


def check_fields(ctx: AppContext, dataset: str, model: str, epochs: float, imgsz: float, batch: float, device: str,
                 weights: str | None = None, trusted: bool = False, **more) -> list:
    """/start_training's validator: one gr.validate per input, each field's own message."""
    settings = collect({"epochs": epochs, "imgsz": imgsz, "batch": batch, "device": device or "cpu",
                        **{k: more[k] for k in FORM if k in more}})
    fine = gr.validate(True, "")
    picked = gr.validate(bool(dataset), "" if dataset else (in_app_words(NO_DATASET) if from_the_app() else NO_DATASET))
    return [picked, fine, *field_messages(settings, ["epochs", "imgsz", "batch", "device"]),
            fine, *field_messages(settings, list(FORM)), fine]


def status_of(ctx: AppContext, run: str = "", wait: bool = True) -> dict | None:
    """``training_status`` without its error display (UserError for an unknown run); with
    ``wait=False``, None where it would wait for another reader of the run or read much."""
    run = run or ctx.jobs.latest()
    if not run:
        return {"run": None, "status": "none", "queue": ctx.jobs.queued()}
    state = run_status(run, ctx.workspace, wait=wait)
    if state is None:
        return None
    queue = ctx.jobs.queued()
    return {**state, "queue": queue, "queue_position": queue.index(run) + 1 if run in queue else None}


@shows_user_errors
def training_status(ctx: AppContext, run: str = "") -> dict:
    """Status of a run, or of the running (else newest) run when ``run`` is empty: status,
    epoch/epochs, progress 0..1, ETA, latest metrics, per-epoch history, batch losses, log tail."""
    return status_of(ctx, run)


@shows_user_errors
def training_status_at_once(ctx: AppContext, run: str = "") -> dict | None:
    """``training_status`` when it needs no waiting (pages.train answers it in the event loop),
    else None."""
    return status_of(ctx, run, wait=False)


def stop_button(status: str) -> dict:
    """Stop is red only while there is something to stop."""
    return gr.update(variant="stop" if status in LIVE else "secondary")


def poll(ctx: AppContext, run: str, shown: tuple | None):
    """The timer's view of training_status: redraws only when something new arrived; returns
    progress, chart, log, what was drawn and the Stop button. A run deleted meanwhile is said in
    the progress line (not as an error each second)."""
    try:
        s = status_of(ctx, run)
    except yolov11.UserError as exc:
        return md_text(in_app_words(str(exc))), None, "", None, stop_button("none")
    if s["status"] == "none":
        return "No training run yet: pick a dataset and press Start.", None, "", None, stop_button("none")
    # What was drawn. The log carries its last LOG_TAIL lines, so its length stops growing: its
    # last line tells a new one. The chart's key adds the workspace (two apps may share a process).
    last_step = s["batches"][-1]["step"] if s["batches"] else None
    seen = [s["run"], s["status"], len(s["batches"]), last_step, len(s["history"]), len(s["log"]), s["log"][-1] if s["log"] else None]
    if shown is not None and list(shown) == seen:  # nothing new: leave the browser's chart alone
        return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
    return progress_text(s), chart_of(s, (str(ctx.workspace.root), *seen)), "\n".join(s["log"][-60:]), seen, stop_button(s["status"])


_charts: OrderedDict[tuple, PlotData] = OrderedDict()  # (what was drawn) -> the chart as gr.Plot sends it
_charts_lock = threading.Lock()
CHARTS_KEPT = 8


def chart_of(s: dict, seen: tuple) -> PlotData:
    """The live chart of status ``s`` as gr.Plot's data, drawn once for every browser that shows
    the same run at the same point (each polls; ten viewers drew it ten times)."""
    with _charts_lock:
        chart = _charts.get(seen)
    if chart is None:
        chart = PlotData(type="plotly", plot=spec_json(training_spec(s)))
        with _charts_lock:
            _charts[seen] = chart
            while len(_charts) > CHARTS_KEPT:
                _charts.popitem(last=False)
    return chart


def attach(ctx: AppContext) -> list:
    """A page (re)load: the shown run (the running one, else the newest) and its settings back in
    the form, so that the form says what that run trains to (Resume trains to the Epochs shown);
    returns the run id, then one value per field of RESTORED (the dataset as a refreshed
    picker). Without a run, the form keeps its defaults."""
    run = ctx.jobs.latest()
    record = ctx.workspace.run(run) if run else None
    if record is None:
        return ["", refreshed(dataset_choices(ctx)), *[gr.skip()] * (len(RESTORED) - 1)]
    settings = record["settings"] or {}
    values = {"dataset": record["dataset"], "model": settings.get("model") or record["model"], **form_values(settings)}
    picker = gr.update(choices=dataset_choices(ctx), value=values["dataset"])
    return [run, picker, *[values[name] if name in values else gr.skip() for name in RESTORED[1:]]]


def for_the_browser(values: list) -> list:
    """Values for outputs that the page sets itself (pages.train: the form's fields are filled in
    by the browser, not by a server event): an update's dropdown choices as Gradio's frontend holds
    them, [label, value] pairs (what Gradio makes of them when a server event returns them)."""
    return [{**v, "choices": [[str(c), c] for c in v["choices"]]} if isinstance(v, dict) and "choices" in v else v for v in values]


def restore_form(ctx: AppContext) -> tuple[str, list]:
    """``attach`` for the page load: the run id, and the form's values for the browser to fill in."""
    run, *values = attach(ctx)
    return run, for_the_browser(values)


def relist_datasets(ctx: AppContext, current: str | None) -> list:
    """The Train tab opened: the dataset picker's choices refreshed (``relisted``), for the browser."""
    return for_the_browser([relisted(dataset_choices(ctx), current)])


@shows_user_errors
def stop_training(ctx: AppContext, run: str):
    """Stop a running run within one batch, or cancel a queued one."""
    run = run or ctx.jobs.latest()
    return md_text(f"{run}: {ctx.jobs.stop(run)}") if run else "nothing to stop"


@shows_user_errors
def resume_training(ctx: AppContext, run: str, epochs: float):
    """Continue a stopped or interrupted run (the shown one when empty) to ``epochs`` in all."""
    run = run or ctx.jobs.latest()
    if not run:
        raise yolov11.UserError("no run to resume yet: start one first")
    target = collect({"epochs": epochs})["epochs"] if epochs else None  # a whole number, or left for the check to name
    ctx.jobs.resume(run, target)
    return run, same_call(ctx, "resume", "result", {"run_id": run, "epochs": target}, "resume", {"run": run, "epochs": target})
