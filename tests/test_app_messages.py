"""The app's words for the core's messages, the Train form's field checks and what a reload puts
back in the form: the handlers called directly (pages.common.bind makes them plain functions),
on real workspaces, real settings and a real (tiny) training run."""

from __future__ import annotations

import contextvars
import html
import re

import gradio as gr
import pytest
from gradio.context import LocalContext
from markdown_it import MarkdownIt
from starlette.requests import Request as StarletteRequest

import pages.train_handlers as h
import yolov11
from pages.charts import interval_losses, training_figure
from pages.common import AppContext, app_error, from_the_app, in_app_words
from pages.train_settings import FORM, collect, field_input, form_values
from yolov11 import TrainingJobs, TrainSettings, UserError, run_status


def shown_text(markdown: str) -> str:
    """The text a browser shows of ``markdown``: rendered by a CommonMark renderer that passes raw
    HTML through (as Gradio's Markdown does; with GitHub's tables and strikethrough), tags taken out."""
    rendered = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(markdown)
    return html.unescape(re.sub(r"<[^>]+>", "", rendered)).strip()


def as_sent_by(who: str | None, fn, *args, **kwargs):
    """Run ``fn`` as Gradio runs an event: with the request in its context; ``who`` is the
    x-gradio-user header (the app's page sends "app", gradio_client "api"), None for no request."""
    def call():
        if who is not None:
            headers = [(b"x-gradio-user", who.encode())]
            LocalContext.request.set(gr.Request(request=StarletteRequest({"type": "http", "method": "POST", "path": "/",
                                                                          "headers": headers})))
        return fn(*args, **kwargs)

    return contextvars.copy_context().run(call)


def core_error(fn, *args) -> UserError:
    with pytest.raises(UserError) as err:
        fn(*args)
    return err.value


def test_the_cores_messages_in_the_apps_words(workspace):
    workspace.root.mkdir(parents=True, exist_ok=True)
    no_dataset = core_error(workspace.resolve_data, "")
    assert str(no_dataset).startswith("--data : not a dataset")  # what the CLI says
    assert (no_dataset.field, no_dataset.value) == ("--data", "")  # structured: the app reads the field, not the text
    assert in_app_words(no_dataset) == "Pick a dataset first"
    assert in_app_words(core_error(workspace.require_run, "")) == "Pick a run first"
    assert in_app_words(core_error(workspace.resolve_data, "site-photos")) == "Dataset site-photos: not in the workspace (it has: none yet)"
    assert in_app_words(core_error(workspace.require_run, "nope")) == "Run nope: no such run in this workspace"
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
    {"epochs": 5, "imgsz": 96, "batch": 4, "nbs": 32, "cache": "ram", "optimizer": "AdamW", "lr0": 0.002, "cos_lr": True, "mosaic": 0.5,
     "fliplr": 0.0},
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
    done = yolov11.train("hardhat-tiny", "yolov11n", epochs=2, imgsz=32, batch=4, close_mosaic=0, workspace=workspace, plots=False)
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
    weak = h.progress_text({**s, "warning": "This model finds almost nothing."})
    assert shown_text(weak).count("Warning: This model finds almost nothing.") == 1
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


# Issue 21 item 1: names from a user's data as text. A class name, a file name, a run id.
HOSTILE = [
    '<div id="pwn" style="position:fixed;inset:0">Session expired: sign in again</div>',
    '<img src="http://other-host.invalid/x.png">',
    "[Session expired](http://evil.example) **bold** _it_ ~~gone~~ `code` $$x^2$$ &amp; a|b",
    "- a list? # a heading? 1. an item? > a quote?",
    "sign in at www.evil.example, https://evil.example or help@evil.example",
    "# a heading",
    "12. an item",
    "3) an item",
    "= underline",
]


def rendered_html(markdown: str) -> str:
    return MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(markdown)


@pytest.mark.parametrize("name", HOSTILE)
def test_md_text_shows_any_name_as_written(name):
    from pages.text import md_text

    shown = md_text(name)
    body = rendered_html(shown)
    assert body.startswith("<p>") and body.count("<") == 2, body  # one paragraph of text: no element, link, code or list
    assert shown_text(shown) == name
    assert shown_text(f"**{shown}** of {md_text('site-a')}") == f"{name} of site-a"  # inside emphasis too
    # GitHub's autolinks (Gradio's renderer makes links of bare addresses; this renderer does not): broken up
    assert not re.search(r"(https?|ftp)://|www\.|\w@\w", shown), shown


def test_md_text_leaves_plain_sentences_as_written():
    """A sentence of ours read through a client carries no backslashes where nothing is markup."""
    from pages.text import md_text

    for plain in ("the file ends early: 30 of 50 frames", "the model finds almost nothing (val mAP50 0.00): train more", "site-a, 3.5 s"):
        assert md_text(plain) == plain


def test_names_in_the_pages_markdown_are_text():
    from pages.label_editor import saved_text
    from pages.label_issues_view import _summary, issue_hint
    from pages.public_demo import model_header, summary
    from pages.video_view import counts_sentence, warning_note

    a, b, c = HOSTILE[:3]
    card = {"name": "run-1", "source_run": "run-1", "classes": [a, b, c]}
    found = {"detections": [{"class": a}, {"class": b}, {"class": b}]}
    video = {"counts": {a: 2, c: 1}, "duration_s": 3.0, "conf": 0.25, "warning": f"{b} ends early: 3 of 9 frames"}
    issue = {"kind": "wrong_class", "class": a, "suggested_class": c}
    result = {"issues": [issue], "images": 4, "split": "val", "dataset": b, "counts": {"wrong_class": 1}}
    version = {"name": c, "diff": {"added": 1, "removed": 0, "changed": 0}}
    for markdown, names in [
        (model_header(card), [f"{a}, {b} and {c} detector", f"Finds {a}, {b}, {c}."]),
        (summary(found, 0.25), [f"2 {b}, 1 {a}"]),
        (counts_sentence(video), [f"2 {a}, 1 {c}"]),
        (warning_note(video), [f"Note: {b} ends early: 3 of 9 frames."]),
        (issue_hint(issue), [f"The model sees a {c} (orange) where the red box says {a}"]),
        (_summary(result, 24), [f"images of {b} (1 wrong_class)"]),
        (saved_text(version), [f"Saved {c}: 1 added"]),
    ]:
        tags = re.findall(r"<[^>]+>", rendered_html(markdown))
        assert not [t for t in tags if re.match(r"</?(p|h2|strong|em)>$", t) is None], (tags, markdown)  # only the page's own
        for text in names:
            assert text in shown_text(markdown), (text, shown_text(markdown))


def test_a_snippet_is_one_code_block_whatever_the_names_hold(workspace):
    from pages.common import same_call
    from pages.text import fenced, md_code

    ctx = AppContext(workspace=workspace, jobs=None, blocks=None)
    name = "a\n```\n<img src=x id=pwn>\n```` [link](http://evil.example).zip"  # a shell word keeps its line breaks: a line of ``` alone
    markdown = same_call(ctx, "import_dataset", "report", {"src": name}, "import", {}, (name,))
    tokens = MarkdownIt("commonmark").parse(markdown)
    blocks = [t for t in tokens if t.type == "fence"]
    assert [b.info for b in blocks] == ["python", "bash"]
    assert [t.type for t in tokens if t.type in ("fence", "html_block")] == ["fence", "fence"]
    assert repr(name) in blocks[0].content and "<img src=x id=pwn>" in blocks[1].content
    assert fenced("plain") == "```\nplain\n```"  # the usual fence when nothing needs more
    assert MarkdownIt("commonmark").parse(md_code("a ``b`` <i>c</i>"))[1].children[0].content == "a ``b`` <i>c</i>"


def test_a_toast_shows_the_message_as_text_and_api_callers_get_it_as_written():
    """A message with no field to stand by goes in a toast, which Gradio renders as HTML: escaped
    for the app's page only; a field's message is text already (tests/e2e/test_user_strings.py)."""
    message = "<img src=x id=pwn-file>.jpg: not a readable image"
    assert as_sent_by("app", app_error, UserError(message)).message == html.escape(message)
    assert as_sent_by("api", app_error, UserError(message)).message == message


def test_a_bugs_message_reaches_the_page_as_text():
    """Gradio shows an unexpected error's message (show_error) in a toast, as HTML; it may quote a
    name from the user's files."""
    from pages.common import shows_user_errors

    @shows_user_errors
    def broken(name):
        raise KeyError(name)

    with pytest.raises(gr.Error) as shown:
        as_sent_by("app", broken, "<a href=http://evil.example>x</a>")
    assert shown.value.message == html.escape(str(KeyError("<a href=http://evil.example>x</a>")))
    with pytest.raises(KeyError):  # API callers: as before
        as_sent_by("api", broken, "<b>x</b>")


def test_charts_draw_names_as_text():
    """Plotly reads HTML in titles, ticks, legends and hover text: class and run names escaped."""
    from pages.eval_charts import compare_pr_figure, confidence_figure, confusion_figure, pr_figure
    from pages.video_view import detections_over_time_figure

    a, b = HOSTILE[:2]
    curves = {"classes": [a, b], "ap50": [0.5, 0.25], "x": [0.0, 1.0], "precision_recall": [[1, 0], [1, 0]],
              "f1_confidence": [[0, 1], [0, 1]]}
    matrix = {"matrix": [[1, 0, 0], [0, 1, 0], [0, 0, 0]], "names": [a, b, "background"], "rule": "conf > 0.25 & IoU > 0.5"}
    video = {"per_frame": [{"t": 0.0, "detections": [{"class": a}]}], "duration_s": 1.0}
    labels = []
    figures = [pr_figure(curves), confidence_figure(curves), confusion_figure(matrix), compare_pr_figure({b: curves}),
               detections_over_time_figure(video)]
    for fig in figures:
        labels += [str(t.name) for t in fig.data] + [str(v) for t in fig.data for v in (getattr(t, "x", None) or [])]
        labels.append(str(fig.layout.title.text))
    assert html.escape(a, quote=False) in labels[0] and html.escape(b, quote=False) in " ".join(labels)
    assert not any(re.search(r"<(?!br>|/?sup>)", label) for label in labels), labels  # only the charts' own <br>, <sup>


def test_health_and_metric_charts_and_the_progress_line_show_names_as_text():
    """The Data tab's and the per-class charts (pages/charts.py) and the Train tab's progress line
    (a run id holds the model file's stem; an error quotes names) show names as text."""
    import pandas as pd

    from pages.charts import box_size_figure, class_counts_figure, per_class_figure

    a, b = HOSTILE[:2]
    figures = [
        class_counts_figure({"splits": {"train": {"per_class": {a: 3, b: 1}}, "val": {"per_class": {a: 1}}}}),
        per_class_figure({"per_class": [{"class": a, "mAP50": 0.5, "mAP50-95": 0.25}, {"class": b, "mAP50": 0.1, "mAP50-95": 0.05}]}),
        box_size_figure(pd.DataFrame({"class": [a, b], "w": [0.1, 0.2], "h": [0.3, 0.4]})),
    ]
    labels = [str(v) for fig in figures for t in fig.data for v in [t.name, *(t.x if t.x is not None else [])]]
    assert html.escape(a, quote=False) in labels and html.escape(b, quote=False) in labels
    assert not any("<" in label for label in labels), labels
    status = {"run": "20260101-000000-yolov11n-<b id=pwn>", "status": "failed", "epoch": 1, "epochs": 2, "progress": 0.5, "eta_s": None,
              "metrics": {}, "warning": None, "error": f"{b}.jpg: not a readable image"}
    line = h.progress_text(status)
    assert "<b" not in rendered_html(line) and "<img" not in rendered_html(line), line
    assert f"Error: {b}.jpg: not a readable image" in shown_text(line) and "yolov11n-<b id=pwn>" in shown_text(line)
