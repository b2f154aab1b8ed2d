"""What every tab shares: the app context, choices for pickers, errors in the app's words, the
"same call" snippet."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import gradio as gr
from gradio.context import LocalContext

from pages.text import fenced, html_text
from yolov11 import TrainingJobs, TrainSettings, UserError, Workspace, describe_setting, python_call, shell_command

GPU_BOUND = "gpu"  # concurrency_id of events that run models: one at a time, cheap events not queued behind


@dataclass
class AppContext:
    """Handed to each build_<tab>(ctx): the workspace, the training jobs and the Blocks."""

    workspace: Workspace
    jobs: TrainingJobs
    blocks: gr.Blocks
    tabs: gr.Tabs | None = None  # the app's tabs (ids: data, train, evaluate, export, predict), for an event that opens one
    data_picker: gr.Dropdown | None = None  # the Data tab's dataset picker (build_data sets it), for an event that picks one
    sections: dict = field(default_factory=dict)  # Data tab accordions an event may open, by name ("pool", "tiles")
    show_data: Callable | None = None  # show_data(event): the Data tab redrawn after an event set data_picker (build_data sets it)

    @property
    def uploads(self) -> Path:
        """Where Gradio keeps this app's uploads: a folder of this process inside the workspace
        (see app.py), not the host-wide temp folder."""
        return Path(os.environ.get("GRADIO_TEMP_DIR") or upload_dir(self.workspace))


def upload_dir(ws: Workspace) -> Path:
    """The workspace's folder of upload folders, one per app process."""
    return ws.root / ".uploads"


def discard_upload(ctx: AppContext, path: str | os.PathLike | None) -> None:
    """Delete an upload once it has been imported or copied into the workspace (only files in
    the app's upload folder; a path elsewhere is never touched)."""
    if not path:
        return
    target = Path(path).resolve()
    if target.is_relative_to(ctx.uploads.resolve()):
        try:
            target.unlink(missing_ok=True)
            if target.parent != ctx.uploads.resolve() and not any(target.parent.iterdir()):
                target.parent.rmdir()  # Gradio keeps each upload in a folder of its own
        except OSError:  # a second upload of the same bytes shares the folder, or a concurrent discard
            pass

def bind(ctx: AppContext, handler, names: list[str] | None = None, defaults: dict | None = None):
    """``handler(ctx, **named values)`` as a Gradio event function of positional inputs.

    Handlers are module-level functions that take the app context and named values, so they can
    be called (and tested) without Gradio; Gradio calls events with one positional value per
    input component. ``names`` lists those inputs in order (default: the handler's parameters
    after ``ctx``); the returned function shows them, with ``defaults``, as its signature, which
    is what the API docs and gradio_client name the endpoint's parameters by."""
    signature = inspect.signature(handler)
    own = list(signature.parameters.values())[1:]
    if names is None:
        params = own
    else:
        given = {p.name: p.default for p in own if p.kind is not p.VAR_KEYWORD}
        merged = {**(defaults or {}), **{k: v for k, v in given.items() if v is not inspect.Parameter.empty}}
        params = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=merged.get(n, inspect.Parameter.empty))
                  for n in names]
        first_default = next((i for i, p in enumerate(params) if p.default is not inspect.Parameter.empty), len(params))
        params = [p if i < first_default or p.default is not inspect.Parameter.empty else p.replace(default=None)
                  for i, p in enumerate(params)]
    order = [p.name for p in params]

    if inspect.isgeneratorfunction(handler):  # a view drawn in steps: Gradio streams what each step yields
        @functools.wraps(handler)
        def event(*args, **kwargs):
            yield from handler(ctx, **dict(zip(order, args)), **kwargs)
    elif inspect.iscoroutinefunction(handler):  # awaited in Gradio's event loop, where an API cancel or a closed page reaches it
        @functools.wraps(handler)
        async def event(*args, **kwargs):
            return await handler(ctx, **dict(zip(order, args)), **kwargs)
    else:
        @functools.wraps(handler)
        def event(*args, **kwargs):
            return handler(ctx, **dict(zip(order, args)), **kwargs)

    event.__signature__ = inspect.Signature(params, return_annotation=signature.return_annotation)
    return event


# How a UserError reads in the app. The core's messages name the CLI flag ("--data : not a
# dataset ..."), which the CLI and API callers keep; the app's page shows the form's words instead
# ("Pick a dataset first"), next to the field of that label, and leaves every output as it was.
PICK = {  # flag -> (the app's label for it, what to say when it was given nothing)
    "--data": ("Dataset", "Pick a dataset first"),
    "--run": ("Run", "Pick a run first"),
    "--weights": ("Weights", "Upload weights first (a .pt file)"),
    "--run or --weights": ("Run", "Pick a run or upload weights"),
    "--model": ("Model", "Pick a model first"),
    "--split": ("Split", "Pick a split first"),
    "--name": ("Name", "Type a name first"),
}
def _short(label: str) -> str:
    return label.split(" (")[0]


def field_label(flag: str) -> str | None:
    """The app's label for a flag of the core's messages (a TrainSettings field's form label,
    without its parenthesis), None for a flag the app has no field for."""
    if flag in PICK:
        return PICK[flag][0]
    name = flag.removeprefix("--").replace("-", "_")
    return _short(describe_setting(name)["label"]) if name in TrainSettings.__dataclass_fields__ else None


def in_app_words(error: UserError | str) -> str:
    """A UserError (or its message) as the app says it: "--epochs 0: must be a positive integer" ->
    "Epochs 0: must be a positive integer", "--data : not a dataset ..." -> "Pick a dataset first";
    the error's ``field`` named by its form label (the settings' metadata), its ``brief`` detail
    where it has one (no server paths); a message that names no flag keeps its words (a sentence
    with a capital first letter)."""
    exc = error if isinstance(error, UserError) else UserError(error)
    flag, value, detail = exc.parts()
    label = field_label(flag) if flag else None
    if label is None:  # a sentence gets its capital; a message that starts with a file name keeps it as it is
        message = str(exc)
        return message[:1].upper() + message[1:] if re.match(r"[a-z]+(\s|$)", message) else message
    if value == "" and flag in PICK:
        return PICK[flag][1]
    detail = exc.brief or detail
    return f"{label} {value}: {detail}" if value else f"{label}: {detail}"


def from_the_app() -> bool:
    """Whether the running event came from the app's own page: Gradio's frontend sends its events
    with ``x-gradio-user: app`` (gradio_client sends "api"; a raw HTTP call, nothing)."""
    request = LocalContext.request.get(None)
    try:
        return request.headers.get("x-gradio-user") == "app"
    except AttributeError:  # no request (a direct call), or one without headers
        return False


def _event_inputs() -> list | None:
    """The input components of the event being run, when Gradio's queue says which it is."""
    try:
        event = LocalContext.blocks.get(None)._queue.event_ids_to_events[LocalContext.event_id.get(None)]
        return list(event.fn.inputs)
    except (AttributeError, KeyError, TypeError):
        return None


def _shown_by(inputs: list, flag: str | None) -> int | None:
    """Which input shows the message: the one labelled as the flag's field, else the first that
    can show one (a State, a Timer or a Button has no status of its own)."""
    label = field_label(flag) if flag else None
    for i, c in enumerate(inputs):
        if label and _short(str(getattr(c, "label", None) or "")) == label:
            return i
    shows = [i for i, c in enumerate(inputs)
             if not isinstance(c, (gr.State, gr.Button, gr.Timer)) and getattr(c, "visible", True) is not False]
    return shows[0] if shows else None


def app_error(exc: UserError) -> gr.Error:
    """The gr.Error a UserError becomes. For API clients, its message as the core wrote it (they
    get an error event). For the app's page, the app's words, next to the input it is about, in
    the form Gradio gives a validator's verdict: the outputs keep what they showed (no "Error"
    badge over them) and the message stays until the next event of that input; an event without
    a suitable input shows it in a toast that stays until closed. The message quotes names from
    users' files: a field shows it as text, a toast as HTML, so the toast's is escaped."""
    if not from_the_app():
        return gr.Error(str(exc), print_exception=False)
    text = in_app_words(exc)
    inputs = _event_inputs()
    at = _shown_by(inputs, exc.field) if inputs else None
    if at is None:
        return gr.Error(html_text(text), duration=None, print_exception=False)
    return gr.Error([gr.validate(i != at, text if i == at else "") for i in range(len(inputs))], duration=None, print_exception=False)


def toast_text(message: str) -> str:
    """A message for a toast (gr.Warning, gr.Info): the app's page renders it as HTML, so it is
    escaped there (it may quote names from the user's files); API clients get it as written."""
    return html_text(message) if from_the_app() else message


def shows_user_errors(fn):
    """Turn UserError into gr.Error (see app_error): a clear message in the browser and the API,
    the app keeps serving. Any other error (a bug) stays what it was, but on the app's page its
    message, which Gradio shows in a toast as HTML (show_error) and which may quote a name from
    the user's files, is escaped; the traceback is logged as before. A generator function (a
    view drawn in steps) is wrapped as a generator: its errors are raised while it is iterated."""

    @contextlib.contextmanager
    def shown():
        try:
            yield
        except UserError as exc:
            raise app_error(exc) from None
        except gr.Error:
            raise
        except Exception as exc:
            if from_the_app():
                raise gr.Error(html_text(exc)) from exc
            raise

    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def steps(*args, **kwargs):
            with shown():
                yield from fn(*args, **kwargs)

        return steps

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with shown():
            return fn(*args, **kwargs)

    return wrapper


# Pickers of datasets and runs are built with allow_custom_value=True: their choices change as the
# workspace does, and API callers name a dataset or run directly; the core validates the name.
def dataset_choices(ctx: AppContext) -> list[str]:
    return [d["name"] for d in reversed(ctx.workspace.datasets())]


def run_choices(ctx: AppContext, with_weights: bool = True) -> list[str]:
    runs = ctx.workspace.runs()
    return [r["id"] for r in runs if not with_weights or r["status"] in ("done", "stopped")]


def refreshed(choices: list[str], current: str | None = None) -> dict:
    """A dropdown update that keeps the current pick if still valid, else picks the newest."""
    return gr.update(choices=choices, value=current if current in choices else (choices[0] if choices else None))


def relisted(choices: list[str], current: str | None = None) -> dict:
    """A dropdown's list refreshed (a page load, a tab opened): while ``current``, the value the
    event was sent with, is still a choice, only the choices are sent, so a pick made meanwhile
    by another event (a dropped zip's import picks its dataset) is not set back; else the newest."""
    return gr.update(choices=choices) if current in choices else refreshed(choices, current)


def same_call(ctx: AppContext, function: str, result: str | None, kwargs: dict, command: str, flags: dict, positional: tuple = ()) -> str:
    """Markdown showing the notebook and shell equivalents of what the tab just did, on this
    app's workspace: ``yolov11.<function>(**kwargs)`` and ``python -m yolov11 <command>`` with
    ``flags`` (parser destinations; see yolov11.shell_command), both runnable as printed, each in a
    code block that the names they quote cannot end (``pages.text.fenced``)."""
    python = python_call(function, result, **kwargs, workspace=str(ctx.workspace.root))
    cli = shell_command(command, *positional, **flags, workspace=str(ctx.workspace.root))
    return "\n".join(["**Same in Python**", fenced(f"import yolov11\n{python}", "python"), "**Same in a shell**", fenced(cli, "bash")])


def said_empty(label: str, items: list | None, reason: str, **update) -> dict:
    """A gallery's update that says why it shows nothing: ``label``, followed by ``reason`` when
    ``items`` is empty (a blank gallery with no word looks broken). ``update``: more of it (value)."""
    return gr.update(label=label if items else f"{label}: {reason}", **update)


def json_safe(result: dict) -> dict:
    """A core result for a gr.JSON output: gradio_client takes any dict with a "path" key for a
    file to download, so that key is shown as "location"."""
    return {("location" if k == "path" else k): v for k, v in result.items()}


def in_the_event_loop(at_once, otherwise):
    """A coroutine function that answers with ``at_once`` in Gradio's event loop, instead of
    handing the call to a worker thread and back (with a training thread holding the GIL most of
    the time, each hand-over waited for it), and with ``otherwise`` in a worker thread when
    ``at_once`` says None: it would wait for another reader of the run, or read much of its file
    (a long run's first call), which would hold up every request meanwhile."""

    @functools.wraps(otherwise)
    async def answer(*args, **kwargs):
        quick = at_once(*args, **kwargs)
        return quick if quick is not None else await asyncio.to_thread(otherwise, *args, **kwargs)

    return answer
