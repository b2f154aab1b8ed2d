"""Data tab, "Label new images": a dataset's unlabeled pool. Photos, videos (one frame every N
seconds) and zips go in; a run's model pre-labels them; the queue orders them by a strategy;
accepted items become one new version, rejected ones leave the queue. Handlers are module-level
(``bind``) and call only the public API (``yolov11.pool_add``, ``prelabel``, ``pool_queue``,
``pool_accept``, ``pool_reject``, ``pool_items``); each action shows the same call in Python and a
shell."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import pandas as pd

import yolov11
from pages.common import AppContext, bind, json_safe, refreshed, run_choices, same_call, shows_user_errors
from pages.label_review import build_label_review
from pages.text import md_text
from pages.uploads import used_uploads

POOL_COLUMNS = ["id", "state", "source", "suggestions", "uncertainty", "score"]
POOL_TYPES = [".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".mp4", ".webm", ".mov", ".zip"]
STRATEGIES = ["mixed", "uncertainty", "diversity", "random"]


def _table(items: list[dict]) -> pd.DataFrame:
    rows = [{"id": i["id"], "state": i["state"], "source": i["source"], "suggestions": len(i["suggestions"] or []),
             "uncertainty": i.get("uncertainty"), "score": i.get("score")} for i in items]
    return pd.DataFrame(rows, columns=POOL_COLUMNS)


def pool_list(ctx: AppContext, dataset: str, state: str = "") -> pd.DataFrame:
    """The pool's items (all, or those in ``state``) as a table."""
    return _table(yolov11.pool_items(dataset or "", state=state or None, workspace=ctx.workspace))


@shows_user_errors
def pool_items(ctx: AppContext, dataset: str, state: str = "") -> dict:
    """/pool_list: {"items": [{"id", "file", "source", "at_s", "state", "model", "suggestions", ...}]}, as pool-list --json."""
    return json_safe({"items": yolov11.pool_items(dataset or "", state=state or None, workspace=ctx.workspace)})


@shows_user_errors
def pool_add(ctx: AppContext, dataset: str, files: list | None, every: float = 1.0) -> tuple[str, pd.DataFrame, str]:
    """Add the uploaded photos, videos and zips to the dataset's pool; returns what happened, the
    pool and the same call as code."""
    with used_uploads(ctx, files, strict=True) as uploads:
        if not uploads:
            raise yolov11.UserError(field="SOURCE", value="", detail="add photos, videos or a zip of them first")
        r = yolov11.pool_add(dataset or "", [u.path for u in uploads], every=float(every), workspace=ctx.workspace)
        names = [u.name for u in uploads]
    lines = [f"**{r['added']}** added to the pool of **{md_text(r['dataset'])}**, {r['skipped']} skipped."]
    lines += [f"- {md_text(note)}" for note in r["notes"]] + [f"- left out: {md_text(line)}" for line in r["left_out"]]
    code = same_call(ctx, "pool_add", "added", {"data": dataset, "sources": names, "every": float(every)}, "pool-add",
                     {"data": dataset, "every": float(every)}, positional=tuple(names))
    return "\n".join(lines), pool_list(ctx, dataset), code


@shows_user_errors
def prelabel(ctx: AppContext, dataset: str, run: str, conf: float = 0.25) -> tuple[str, pd.DataFrame, str]:
    """Suggestions from ``run``'s model for every pool item not yet reviewed."""
    r = yolov11.prelabel(dataset or "", run=run or None, weights=None, conf=float(conf), workspace=ctx.workspace)
    said = f"**{r['suggested']}** item(s) pre-labelled by run {md_text(run)}: {r['boxes']} suggested box(es)."
    code = same_call(ctx, "prelabel", "suggested", {"data": dataset, "run": run, "conf": float(conf)}, "prelabel",
                     {"data": dataset, "run": run, "conf": float(conf)})
    return said, pool_list(ctx, dataset), code


@shows_user_errors
def pool_queue(ctx: AppContext, dataset: str, strategy: str = "mixed", limit: float = 20, seed: float = 0) -> tuple[pd.DataFrame, str]:
    """The items to label first, best first."""
    r = yolov11.pool_queue(dataset or "", strategy=strategy, limit=int(limit) or None, seed=int(seed), workspace=ctx.workspace)
    code = same_call(ctx, "pool_queue", "queue", {"data": dataset, "strategy": strategy, "limit": int(limit), "seed": int(seed)},
                     "pool-queue", {"data": dataset, "strategy": strategy, "limit": int(limit), "seed": int(seed)})
    return _table(r["items"]), code


@shows_user_errors
def pool_accept(ctx: AppContext, dataset: str, items: str) -> tuple[str, pd.DataFrame, str, dict]:
    """Add the named items, with their suggestions, as one new version of the dataset."""
    r = yolov11.pool_accept(dataset or "", items or "", workspace=ctx.workspace)
    said = f"Saved **{md_text(r['version'])}**: {md_text(r['parent'])} with {r['accepted']} pool item(s) ({r['boxes']} box(es))."
    code = same_call(ctx, "pool_accept", "version", {"data": dataset, "items": items}, "pool-accept", {"data": dataset, "items": items})
    return said, pool_list(ctx, dataset), code, refreshed([d["name"] for d in reversed(ctx.workspace.datasets())], dataset)


@shows_user_errors
def pool_reject(ctx: AppContext, dataset: str, items: str) -> tuple[str, pd.DataFrame, str]:
    """Mark the named items as not useful: they leave the queue."""
    r = yolov11.pool_reject(dataset or "", items or "", workspace=ctx.workspace)
    code = same_call(ctx, "pool_reject", "rejected", {"data": dataset, "items": items}, "pool-reject", {"data": dataset, "items": items})
    return f"{r['rejected']} item(s) rejected.", pool_list(ctx, dataset), code


def relist(ctx: AppContext, dataset: str, run: str | None) -> tuple:
    """The pool of the picked dataset, and the runs that can pre-label."""
    table = pool_list(ctx, dataset) if dataset and ctx.workspace.dataset(dataset) else _table([])
    return table, refreshed(run_choices(ctx), run)


@dataclass
class PoolView:
    table: gr.Dataframe


def build_label_pool(ctx: AppContext, picked: gr.Dropdown) -> PoolView:
    """The "Label new images" section for the dataset picked in ``picked``."""
    with gr.Accordion("Label new images: the dataset's unlabeled pool", open=False, elem_id="pool-section") as section:
        ctx.sections["pool"] = section
        gr.Markdown("Add photos, videos (one frame every few seconds; static stretches kept once) or a zip of them; "
                    "pre-label with a run's model; label the most useful first; accepted items become one new version "
                    "(in train, so runs on the versions compare on the same val split).")
        with gr.Row():
            files = gr.File(label="Photos, videos or zips", file_types=POOL_TYPES, file_count="multiple", elem_id="pool-files")
            every = gr.Slider(0.2, 10, value=1.0, step=0.2, label="Seconds between video frames", elem_id="pool-every")
            add = gr.Button("Add to pool", elem_id="pool-add")
        with gr.Row():
            run = gr.Dropdown(label="Run that pre-labels", choices=run_choices(ctx), allow_custom_value=True, elem_id="pool-run")
            conf = gr.Slider(0.05, 0.95, value=0.25, step=0.05, label="Suggest at confidence", elem_id="pool-conf")
            suggest = gr.Button("Pre-label", elem_id="pool-prelabel")
        with gr.Row():
            strategy = gr.Radio(STRATEGIES, value="mixed", label="Label first", elem_id="pool-strategy")
            limit = gr.Number(value=20, precision=0, label="How many", elem_id="pool-limit")
            seed = gr.Number(value=0, precision=0, label="Seed", elem_id="pool-seed")
            queue = gr.Button("Queue", elem_id="pool-queue")
        table = gr.Dataframe(headers=POOL_COLUMNS, interactive=False, elem_id="pool-table")
        with gr.Row():
            items = gr.Textbox(label="Item ids (comma-separated)", elem_id="pool-items")
            accept = gr.Button("Accept as a new version", variant="primary", elem_id="pool-accept")
            reject = gr.Button("Reject", elem_id="pool-reject")
        message = gr.Markdown(elem_id="pool-message")
        code = gr.Markdown()
        build_label_review(ctx, picked, strategy, seed, conf, message, code)
    add.click(bind(ctx, pool_add), [picked, files, every], [message, table, code], api_name="pool_add")
    suggest.click(bind(ctx, prelabel), [picked, run, conf], [message, table, code], api_name="prelabel")
    queue.click(bind(ctx, pool_queue), [picked, strategy, limit, seed], [table, code], api_name="pool_queue")
    accept.click(bind(ctx, pool_accept), [picked, items], [message, table, code, picked], api_name="pool_accept")
    reject.click(bind(ctx, pool_reject), [picked, items], [message, table, code], api_name="pool_reject")
    gr.api(bind(ctx, pool_items), api_name="pool_list", queue=False)
    # Listed when the section opens, not on every pick: the page's load picks a dataset, and its
    # events should stay those of the views on screen.
    section.expand(bind(ctx, relist), [picked, run], [table, run], api_visibility="private")
    return PoolView(table)
