"""The pool's review queue (Data tab, Label new images): the next image large in the box editor
with its suggestions (those at the confidence slider and above) as editable boxes, and Accept (A),
Save my edits (S), Reject (R), Skip (N), Back (B); the keys act unless a text field or the editor's
class dialog has the focus. Accepted and edited images wait in the draft (``yolov11.pool_review``,
kept in the registry: a reload or a restart finds it), counted above the editor; "Add the reviewed
images" writes them as ONE new version (``yolov11.pool_add_reviewed``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr
from gradio_image_annotation import image_annotator

import yolov11
from pages.common import AppContext, bind, dataset_choices, same_call, shows_user_errors
from pages.label_editor import _colours, edited_boxes, editor_value, shown_scale
from pages.text import md_text

KEYS = {"a": "review-accept", "s": "review-save", "r": "review-reject", "n": "review-skip", "b": "review-back"}
KEYS_JS = """() => {
  if (window.yolov11ReviewKeys) return;
  window.yolov11ReviewKeys = true;
  const keys = %s;
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || e.repeat) return;
    const t = e.target;
    if (t && t.closest && t.closest("input, textarea, select, [contenteditable], dialog, [role=dialog], .modal")) return;
    const editor = document.getElementById("review-editor");
    if (!editor || editor.offsetParent === null) return;  // the review is not on screen
    const id = keys[e.key.toLowerCase()];
    const button = id && document.getElementById(id);
    if (!button) return;
    e.preventDefault();
    button.click();
  });
}""" % ({k: v for k, v in KEYS.items()},)


def counter_text(draft: dict) -> str:
    return (f"{draft['reviewed']} of {draft['total']} reviewed · {draft['accepted']} boxes accepted · {draft['corrected']} corrected · "
            f"{draft['drawn']} drawn · {len(draft['items'])} waiting to be added")


def _shown(ctx: AppContext, dataset: str, item: dict, conf: float) -> tuple[dict, dict]:
    """The editor's value for ``item`` (its draft's boxes, else its suggestions at ``conf``) and
    what the events need to read the editor back."""
    from PIL import Image

    with Image.open(item["file"]) as im:
        width, height = im.size
    boxes = item["draft"]["boxes"] if item.get("draft") else [s for s in item["suggestions"] if s["confidence"] >= conf]
    labels = {"image": item["file"], "name": f"pool-{item['id']}{Path(item['file']).suffix}", "width": width, "height": height,
              "boxes": [{"class": b["class"], "box": b["box"]} for b in boxes]}
    scale = shown_scale(width, height)
    value = editor_value(ctx, dataset, labels)
    return value, {"id": item["id"], "scale": scale, "size": [width, height], "shown": labels["boxes"]}


def _show(ctx: AppContext, dataset: str, item: dict | None, conf: float, history: list) -> tuple:
    draft = yolov11.pool_draft(dataset, workspace=ctx.workspace)
    if item is None:
        return gr.update(value=None), None, history, counter_text(draft) + "\n\nNothing left to review in this queue."
    value, current = _shown(ctx, dataset, item, conf)
    names = ctx.workspace.dataset(dataset)["classes"] or []
    where = f"**{md_text(item['source'])}** ({item['state']}{', reviewed' if item.get('draft') else ''})"
    editor = gr.update(value=value, label_list=names, label_colors=_colours(names))
    return editor, current, history, f"{counter_text(draft)}\n\n{where}"


def _next(ctx: AppContext, dataset: str, strategy: str, seed: float, conf: float, history: list) -> tuple:
    queue = yolov11.pool_queue(dataset, strategy=strategy or "mixed", seed=int(seed or 0), workspace=ctx.workspace)["items"]
    seen = set(history)
    item = next((i for i in queue if i["id"] not in seen), None)
    if item is not None:
        item = {**item, "draft": None}
        history = [*history, item["id"]]
    return _show(ctx, dataset, item, float(conf), history)


@shows_user_errors
def start_review(ctx: AppContext, dataset: str, strategy: str, seed: float, conf: float) -> tuple:
    """The first image of the queue."""
    return _next(ctx, dataset or "", strategy, seed, conf, [])


@shows_user_errors
def decide(ctx: AppContext, dataset: str, strategy: str, seed: float, conf: float, history: list, current: dict | None,
           value: dict | None, decision: str = "accept") -> tuple:
    """Record ``decision`` on the shown image (accept: the boxes as shown, save: as edited), then the next one."""
    if not current:
        raise yolov11.UserError("start the review first (Review button)")
    boxes = None
    if decision in ("accept", "edit"):
        boxes = edited_boxes(value, current["shown"], current["scale"], tuple(current["size"]))
        decision = "accept" if decision == "accept" else "edit"
    yolov11.pool_review(dataset, current["id"], decision, boxes=boxes, workspace=ctx.workspace)
    return _next(ctx, dataset, strategy, seed, conf, history or [])


def accept(ctx: AppContext, dataset, strategy, seed, conf, history, current, value) -> tuple:
    return decide(ctx, dataset, strategy, seed, conf, history, current, value, "accept")


def save_edits(ctx: AppContext, dataset, strategy, seed, conf, history, current, value) -> tuple:
    return decide(ctx, dataset, strategy, seed, conf, history, current, value, "edit")


def reject(ctx: AppContext, dataset, strategy, seed, conf, history, current, value) -> tuple:
    return decide(ctx, dataset, strategy, seed, conf, history, current, value, "reject")


def skip(ctx: AppContext, dataset, strategy, seed, conf, history, current, value) -> tuple:
    return decide(ctx, dataset, strategy, seed, conf, history, current, value, "skip")


@shows_user_errors
def back(ctx: AppContext, dataset: str, conf: float, history: list) -> tuple:
    """The image shown before this one, with what was decided on it."""
    history = list(history or [])
    if len(history) < 2:
        raise yolov11.UserError("nothing to go back to")
    history.pop()
    items = {i["id"]: i for i in yolov11.pool_items(dataset, workspace=ctx.workspace)}
    return _show(ctx, dataset, items[history[-1]], float(conf), history)


@shows_user_errors
def add_reviewed(ctx: AppContext, dataset: str) -> tuple[str, dict, str]:
    """Write the draft as one new version of the dataset; the same call as code."""
    r = yolov11.pool_add_reviewed(dataset or "", workspace=ctx.workspace)
    said = f"Saved **{md_text(r['version'])}**: {md_text(r['parent'])} with {r['accepted']} reviewed image(s) ({r['boxes']} box(es))."
    code = same_call(ctx, "pool_add_reviewed", "version", {"data": dataset}, "pool-accept", {"data": dataset, "reviewed": True})
    return said, gr.update(choices=dataset_choices(ctx), value=dataset), code


@dataclass
class Review:
    editor: image_annotator


def build_label_review(ctx: AppContext, picked: gr.Dropdown, strategy: gr.Radio, seed: gr.Number, conf: gr.Slider,
                       message: gr.Markdown, code: gr.Markdown) -> Review:
    """The review queue of the pool of the dataset in ``picked``, ordered by ``strategy`` and ``seed``."""
    gr.Markdown("#### Review\nKeys: **A** accept · **S** save my edits · **R** reject (not useful) · **N** skip · **B** back "
                "(not while typing). Draw, move and re-class boxes as in the box editor.")
    with gr.Row():
        start = gr.Button("Review the queue", elem_id="review-start")
        commit = gr.Button("Add the reviewed images as a new version", variant="primary", elem_id="review-commit")
    counter = gr.Markdown(elem_id="review-counter")
    editor = image_annotator(label="Next image", image_type="filepath", sources=[], show_clear_button=False, show_remove_button=True,
                             use_default_label=True, box_min_size=4, height=520, elem_id="review-editor")
    with gr.Row():
        buttons = {name: gr.Button(text, elem_id=KEYS[key]) for name, text, key in
                   (("accept", "Accept (A)", "a"), ("save", "Save my edits (S)", "s"), ("reject", "Reject (R)", "r"),
                    ("skip", "Skip (N)", "n"), ("back", "Back (B)", "b"))}
    history, current = gr.State([]), gr.State(None)
    shown = [editor, current, history, counter]
    start.click(bind(ctx, start_review), [picked, strategy, seed, conf], shown, api_visibility="private")
    inputs = [picked, strategy, seed, conf, history, current, editor]
    for name, handler in (("accept", accept), ("save", save_edits), ("reject", reject), ("skip", skip)):
        buttons[name].click(bind(ctx, handler), inputs, shown, api_visibility="private")
    buttons["back"].click(bind(ctx, back), [picked, conf, history], shown, api_visibility="private")
    commit.click(bind(ctx, add_reviewed), picked, [message, picked, code], api_visibility="private")
    start.click(None, js=KEYS_JS, api_visibility="private")  # the keys armed once a review starts (no work at the page's load)
    return Review(editor)
