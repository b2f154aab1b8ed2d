"""The app's words for the core's messages, the Train form's field checks and what a reload puts
back in the form: the handlers called directly (pages.common.bind makes them plain functions),
on real workspaces, real settings and a real (tiny) training run."""

from __future__ import annotations

import contextvars

import gradio as gr
import pytest
from gradio.context import LocalContext
from starlette.requests import Request as StarletteRequest

import pages.train_handlers as h
import yolov11
from pages.charts import interval_losses, training_figure
from pages.common import AppContext, app_error, from_the_app, in_app_words
from pages.train_settings import FORM, collect, field_input, form_values
from yolov11 import TrainingJobs, TrainSettings, UserError, run_status


def as_sent_by(who: str | None, fn, *args, **kwargs):
    """Run ``fn`` as Gradio runs an event: with the request in its context; ``who`` is the
    x-gradio-user header (the app's page sends "app", gradio_client "api"), None for no request."""
    def call():
        if who is not None:
            headers = [(b"x-gradio-user", who.encode())]
            LocalContext.request.set(gr.Request(request=StarletteRequest({"type": "http", "method": "POST", "path": "/", "headers": headers})))
        return fn(*args, **kwargs)

    return contextvars.copy_context().run(call)


def core_message(fn, *args) -> str:
    with pytest.raises(UserError) as err:
        fn(*args)
    return str(err.value)


def test_the_cores_messages_in_the_apps_words(workspace):
    workspace.root.mkdir(parents=True, exist_ok=True)
    no_dataset = core_message(workspace.resolve_data, "")
    assert no_dataset.startswith("--data : not a dataset")  # what the CLI says
    assert in_app_words(no_dataset) == "Pick a dataset first"
    assert in_app_words(core_message(workspace.require_run, "")) == "Pick a run first"
    assert in_app_words(core_message(workspace.resolve_data, "site-photos")) == "Dataset site-photos: not in the workspace (it has: none yet)"
    assert in_app_words(core_message(workspace.require_run, "nope")) == "Run nope: no such run in this workspace"
    problems = TrainSettings(epochs=0, imgsz=100, batch=0, lr0=0.0).problems()
    assert in_app_words(problems["epochs"]) == "Epochs 0: must be a positive integer"
    assert in_app_words(problems["imgsz"]) == "Image size 100: must be a multiple of 32 (the largest stride)"
    assert in_app_words(problems["batch"]) == "Batch 0: must be a positive integer (or -1 for auto)"
    assert in_app_words(problems["lr0"]) == "Initial learning rate 0.0: the learning rate must be positive"
    assert in_app_words("--run or --weights: give exactly one of them") == "Run: give exactly one of them"
    assert in_app_words("pick a finished run first") == "Pick a finished run first"
    assert in_app_words("site.zip: not a readable zip archive") == "site.zip: not a readable zip archive"  # a file name keeps its case
    assert in_app_words("--no-such-flag 3: odd") == "--no-such-flag 3: odd"  # no field of that name: as it was


def test_api_callers_get_the_cores_words_and_the_apps_page_gets_its_own():
    exc = UserError("--epochs 0: must be a positive integer")
    for who in (None, "api"):
        assert not as_sent_by(who, from_the_app)
        error = as_sent_by(who, app_error, exc)
        assert error.message == "--epochs 0: must be a positive integer"
    assert as_sent_by("app", from_the_app)
    error = as_sent_by("app", app_error, exc)  # no queued event to show it by: a toast that stays
    assert error.message == "Epochs 0: must be a positive integer"
    assert error.duration is None


def start_args(**given) -> dict:
    values = {"dataset": "demo-hardhat", "model": "yolov11n", "epochs": 12, "imgsz": 320, "batch": 8, "device": "cpu", **h.FORM_DEFAULTS}
    return {**values, **given}


def verdicts(ctx, who, **given) -> dict[str, tuple[bool, str]]:
    out = as_sent_by(who, h.check_fields, ctx, **start_args(**given))
    assert len(out) == len(h.START_INPUTS)  # one per input of /start_training, in order
    return {name: (v["is_valid"], v["message"]) for name, v in zip(h.START_INPUTS, out, strict=True)}


def test_the_start_check_flags_each_bad_field_by_its_own_words(workspace):
    ctx = AppContext(workspace=workspace, jobs=None, blocks=None)
    app = verdicts(ctx, "app", dataset="", epochs=0, imgsz=100, batch=0)
    assert app["dataset"] == (False, "Pick a dataset first")
    assert app["epochs"] == (False, "Epochs 0: must be a positive integer")
    assert app["imgsz"] == (False, "Image size 100: must be a multiple of 32 (the largest stride)")
    assert app["batch"] == (False, "Batch 0: must be a positive integer (or -1 for auto)")
    assert all(ok for name, (ok, _) in app.items() if name not in ("dataset", "epochs", "imgsz", "batch"))
    api = verdicts(ctx, "api", epochs=0)
    assert api["epochs"] == (False, "--epochs 0: must be a positive integer")
    assert all(ok for name, (ok, _) in api.items() if name != "epochs")
    assert all(ok for ok, _ in verdicts(ctx, "app").values())
    # Gradio checks a Number's minimum itself, before the form's check, with its own message: none set
    assert field_input("epochs").minimum is None
    assert field_input("nbs").minimum is None


@pytest.mark.parametrize("given", [
    {"epochs": 3, "imgsz": 64, "batch": 16},
    {"epochs": 5, "imgsz": 96, "batch": 4, "nbs": 32, "cache": "ram", "optimizer": "AdamW", "lr0": 0.002, "cos_lr": True, "mosaic": 0.5, "fliplr": 0.0},
    {"batch": -1, "workers": 2, "seed": 7, "fraction": 0.5, "close_mosaic": 1, "patience": 3, "warmup_epochs": 0.5, "scale": 0.25},
])
def test_a_runs_record_comes_back_as_the_form_that_started_it(given):
    settings = TrainSettings.of("yolov11n", **given)
    back = collect(form_values(settings.record()))
    assert back["nbs"] in (None, 0) if settings.nbs is None else back["nbs"] == settings.nbs
    for name in ("epochs", "imgsz", "batch", "device", *FORM):
        if name not in ("nbs", "loggers"):
            assert back[name] == getattr(settings, name), name
    assert back["loggers"] == settings.loggers


def test_a_reload_puts_the_shown_runs_settings_back(workspace, tiny_zip):
    yolov11.import_dataset(tiny_zip, workspace=workspace)
    done = yolov11.train("hardhat-tiny", "yolov11n", epochs=2, imgsz=32, batch=4, close_mosaic=0, workspace=workspace)
    ctx = AppContext(workspace=workspace, jobs=TrainingJobs(workspace), blocks=None)
    out = h.attach(ctx)
    assert len(out) == 1 + len(h.RESTORED)
    assert out[0] == done["run"]
    shown = dict(zip(h.RESTORED, out[1:], strict=True))
    assert shown["dataset"]["value"] == "hardhat-tiny"
    assert "hardhat-tiny" in [c[0] if isinstance(c, tuple) else c for c in shown["dataset"]["choices"]]
    assert (shown["model"], shown["epochs"], shown["imgsz"], shown["batch"], shown["device"]) == ("yolov11n", 2, 32, 4, "cpu")
    assert (shown["nbs"], shown["close_mosaic"], shown["cache"], shown["loggers"]) == (0, 0, "", [])

    progress, _, log, seen, stop = h.poll(ctx, done["run"], None)
    assert stop["variant"] == "secondary"  # done: nothing to stop
    assert "done" in progress
    s = run_status(done["run"], workspace)
    assert h.progress_text({**s, "warning": "This model finds almost nothing."}).count("**Warning:** This model finds almost nothing.") == 1
    assert "Warning" not in h.progress_text({**s, "warning": None})
    assert h.poll(ctx, done["run"], seen)[0] is not progress  # unchanged: skipped
    assert h.stop_button("running")["variant"] == h.stop_button("queued")["variant"] == "stop"


def test_without_a_run_a_reload_leaves_the_form_alone(workspace):
    workspace.root.mkdir(parents=True, exist_ok=True)
    ctx = AppContext(workspace=workspace, jobs=TrainingJobs(workspace), blocks=None)
    out = h.attach(ctx)
    assert out[0] == ""
    assert all(v is not None and v.get("__type__") == "update" and len(v) == 1 for v in out[2:])  # gr.skip(): no change


def test_the_loss_line_is_one_kind_of_mean_across_epochs():
    """Batch events carry the running mean of their epoch; the chart shows the mean of the
    batches between two points, so a loss falling steadily draws a line without jumps."""
    per_batch = [2.0 - 0.02 * i for i in range(30)]  # 3 epochs of 10 batches
    events = []
    for epoch in range(3):
        losses = per_batch[epoch * 10:(epoch + 1) * 10]
        for b in (3, 6, 10):
            events.append({"step": round(epoch + b / 10, 4), "box_loss": sum(losses[:b]) / b})
    means = [e["box_loss"] for e in interval_losses(events)]
    spans = [(e * 10 + lo, e * 10 + hi) for e in range(3) for lo, hi in ((0, 3), (3, 6), (6, 10))]
    assert means == pytest.approx([sum(per_batch[a:b]) / (b - a) for a, b in spans])
    assert all(later < earlier for earlier, later in zip(means, means[1:]))  # no jump up at 1.3 or 2.3
    drops = [earlier - later for earlier, later in zip(means, means[1:])]
    assert max(drops) < 1.5 * min(drops)  # the same slope throughout
    raw = [e["box_loss"] for e in events]
    assert raw[2] - raw[3] > 3 * (raw[0] - raw[1])  # what the running mean drew: a leap at the epoch boundary


def test_an_empty_chart_spans_the_planned_epochs():
    fig = training_figure({"batches": [], "history": [], "epochs": 3})
    assert tuple(fig.layout.xaxis.range) == (0, 3)
    assert tuple(fig.layout.yaxis.range) == (0, 1)
    assert fig.layout.xaxis2.range[0] == 0
    assert fig.layout.xaxis2.range[1] >= 3
