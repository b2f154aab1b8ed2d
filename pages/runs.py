"""The runs section of the Train tab: history from the registry, curves of chosen runs
overlaid, delete (with files), and any run as a Jupyter notebook that reruns it; and the run
pickers' refresh, which the other tabs share. ``build_runs`` lays the section out and wires its
events; the handlers are the module's functions (``pages.common.bind`` gives them the app context)."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pandas as pd

import yolov11
from pages.charts import compare_figure
from pages.common import AppContext, bind, in_the_event_loop, relisted, run_choices, shows_user_errors
from yolov11 import run_status

RUN_COLUMNS = ["run", "status", "dataset", "model", "epochs", "imgsz", "batch", "best mAP50-95", "duration (s)", "advice followed"]
AT_ONCE_RUNS = 64  # /list_runs answers in the event loop up to this many runs; more go to a worker thread


def followed_text(outcome: dict | None) -> str:
    """"fix_labels from R: predicted +0.050, measured +0.031" for a run whose data followed advice; "" otherwise."""
    if not outcome:
        return ""
    predicted = "not estimated" if outcome["predicted"] is None else f"{outcome['predicted']:+.3f}"
    measured = f"{outcome['measured']:+.3f}" if outcome["comparable"] else "not comparable"
    return f"{outcome['kind']} from {outcome['advised_run']}: predicted {predicted}, measured {measured}"


def runs_table(ctx: AppContext, wait: bool = True) -> pd.DataFrame | None:
    """The runs table; with ``wait=False``, None where a run's status would wait or read much
    (``run_status``), or the workspace holds more runs than an answer in the event loop should
    read (AT_ONCE_RUNS)."""
    rows = []
    runs = ctx.workspace.runs()
    if not wait and len(runs) > AT_ONCE_RUNS:
        return None
    for r in runs:
        s = run_status(r["id"], ctx.workspace, wait=wait)
        if s is None:
            return None
        settings = r["settings"] or {}
        best = max((h.get("mAP50-95", 0) for h in s["history"]), default=None)
        rows.append({
            "run": r["id"], "status": r["status"], "dataset": r["dataset"], "model": r["model"],
            "epochs": f"{len(s['history'])}/{settings.get('epochs', '?')}", "imgsz": settings.get("imgsz"), "batch": settings.get("batch"),
            "best mAP50-95": round(best, 4) if best is not None else None, "duration (s)": s["duration_s"],
            "advice followed": followed_text(yolov11.saved_outcome(r["dir"])),
        })
    return pd.DataFrame(rows, columns=RUN_COLUMNS)


def served_notebook(ctx: AppContext, run: str) -> Path:
    """Where the app writes a run's notebook to hand it out: ``exports/<run>/<run>.ipynb``, a folder
    the app already serves (``runs/`` is never served: SECURITY.md) and that goes with the run.
    Gradio hands out only files of its allowed paths, the current folder and the temp folder, so a
    workspace outside the last two (a container's /workspace) needs it there."""
    ctx.workspace.require_run(run)  # an unknown run is refused before its name makes a path
    out = ctx.workspace.exports_dir / run / f"{run}.ipynb"
    if not out.resolve().is_relative_to(ctx.workspace.exports_dir.resolve()):
        raise yolov11.UserError(f"--run {run}: not a run name this app writes files for")
    return out


def listing(ctx: AppContext):
    """The runs table, and its runs as the choices of the picker of runs to compare or delete."""
    df = runs_table(ctx)
    return df, gr.update(choices=list(df["run"]))


@shows_user_errors
def compare(ctx: AppContext, runs: list[str], name: str):
    return compare_figure({r: run_status(r, ctx.workspace)["history"] for r in runs or []}, name)


@shows_user_errors
def remove(ctx: AppContext, runs: list[str]):
    for r in runs or []:
        ctx.workspace.delete_run(r)
    df = runs_table(ctx)
    return df, gr.update(choices=list(df["run"]), value=[])


def list_runs(ctx: AppContext) -> list[dict]:
    """Every run of the workspace, newest first: run, status, dataset, model, epochs done/planned,
    image size, batch, best mAP50-95, duration and, for a run on a version that followed advice,
    what the advice predicted and what was measured (what the runs table shows)."""
    return runs_table(ctx).to_dict(orient="records")


def list_runs_at_once(ctx: AppContext) -> list[dict] | None:
    """``list_runs`` when it needs no waiting (answered in the event loop), else None."""
    table = runs_table(ctx, wait=False)
    return None if table is None else table.to_dict(orient="records")


@shows_user_errors
def download_notebook(ctx: AppContext, run: str):
    """The run's notebook (.ipynb): import, training, evaluations, exports and a prediction, rerunnable."""
    if not run:
        raise yolov11.UserError("pick a run first")
    return str(yolov11.write_notebook(run, out=served_notebook(ctx, run), workspace=ctx.workspace))


def relist_runs(ctx: AppContext, current: str | None) -> dict:
    """A picker of runs to use (Export, Predict) refreshed (``relisted``): the runs that have weights."""
    return relisted(run_choices(ctx), current)


def relist_all_runs(ctx: AppContext, current: str | None) -> dict:
    """The notebook's run picker refreshed (``relisted``): every run."""
    return relisted(run_choices(ctx, with_weights=False), current)


def build_runs(ctx: AppContext) -> None:
    with gr.Accordion("Runs: history, compare, delete", open=False):
        table = gr.Dataframe(headers=RUN_COLUMNS, interactive=False, elem_id="runs-table")
        with gr.Row():
            chosen = gr.Dropdown(label="Runs to compare or delete", multiselect=True, allow_custom_value=True, elem_id="runs-chosen")
            metric = gr.Dropdown(["mAP50-95", "mAP50", "precision", "recall", "box_loss", "cls_loss"], value="mAP50-95", label="Curve")
        with gr.Row():
            refresh = gr.Button("Refresh")
            delete = gr.Button("Delete chosen runs and their files", variant="stop", elem_id="runs-delete")
        chart = gr.Plot(label="Chosen runs, epoch by epoch")
        gr.Markdown("**Download as notebook**: the run's steps (dataset import, training with its exact settings and seed, "
                    "evaluations, exports, a prediction) as a Jupyter notebook that reruns them in a workspace of its own.")
        with gr.Row():
            notebook_run = gr.Dropdown(label="Run", choices=run_choices(ctx, with_weights=False), allow_custom_value=True,
                                       elem_id="notebook-run")
            notebook_btn = gr.Button("Download as notebook", elem_id="notebook-button")
            notebook_file = gr.File(label="Notebook (.ipynb)", interactive=False, elem_id="notebook-file")

    # A cheap read, like training_status: answered in the event loop.
    gr.api(in_the_event_loop(bind(ctx, list_runs_at_once), bind(ctx, list_runs)), api_name="list_runs", queue=False)
    notebook_btn.click(bind(ctx, download_notebook), notebook_run, notebook_file, api_name="download_notebook")
    gr.on([refresh.click, ctx.blocks.load], bind(ctx, relist_all_runs), notebook_run, notebook_run, api_visibility="private")
    gr.on([refresh.click, ctx.blocks.load], bind(ctx, listing), None, [table, chosen], api_visibility="private")
    gr.on([chosen.change, metric.change], bind(ctx, compare), [chosen, metric], chart, api_visibility="private")
    delete.click(bind(ctx, remove), chosen, [table, chosen], api_name="delete_runs")
