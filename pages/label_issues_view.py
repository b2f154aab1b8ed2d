"""The Evaluate tab's "Suspicious labels": the labels a run's model disagrees with most, drawn
label (left) beside the model's suggestion (right), filterable by kind and class; a picked one
opens in the box editor, whose save writes a new dataset version."""

from __future__ import annotations

import gradio as gr
import pandas as pd

import yolov11
from pages.common import GPU_BOUND, AppContext, bind, said_empty, same_call, shows_user_errors
from pages.label_editor import build_label_editor, open_image
from pages.text import md_text

ALL_KINDS, ALL_CLASSES = "all kinds", "all classes"
SHOWN = 24  # drawings in the gallery; the table lists every issue
HEADERS = ["score", "kind", "image", "class", "box", "suggested class", "suggested box"]
GALLERY_LABEL = "Label (left) and the model's suggestion (right)"
KIND_WORDS = (
    "**missing**: the model finds an object no label has · **spurious**: a label where the model sees nothing · "
    "**wrong_class**: a confident box of another class covers it · "
    "**badly_located**: the model's box of that class overlaps it, but not well"
)


def _box(box: list | None) -> str:
    return "" if box is None else ", ".join(f"{v:.0f}" for v in box)


def issues_table(issues: list[dict]) -> pd.DataFrame:
    rows = [[i["score"], i["kind"], i["image"], i["class"] or "", _box(i["box"]), i["suggested_class"] or "", _box(i["suggested_box"])]
            for i in issues]
    return pd.DataFrame(rows, columns=HEADERS)


def _filtered(result: dict, kind: str | None, cls: str | None) -> list[dict]:
    return [
        i for i in result["issues"]
        if (not kind or kind == ALL_KINDS or i["kind"] == kind)
        and (not cls or cls == ALL_CLASSES or cls in (i["class"], i["suggested_class"]))
    ]


def _gallery(ctx: AppContext, result: dict, issues: list[dict]) -> list[tuple[str, str]]:
    out_dir = ctx.workspace.previews_dir / "label-issues" / f"{result['run']}-{result['split']}"
    return yolov11.draw_label_issues(issues, result["dataset_dir"], out_dir, limit=SHOWN)


def _summary(result: dict, shown: int) -> str:
    counts = ", ".join(f"{n} {k}" for k, n in result["counts"].items())
    head = (f"**{len(result['issues'])} suspicious labels** in {result['images']} {result['split']} images of {md_text(result['dataset'])}"
            f" ({counts})")
    return head + (f"; the gallery draws the first {shown}" if len(result["issues"]) > shown else "") + f"\n\n{KIND_WORDS}"


@shows_user_errors
def estimate(ctx: AppContext, run_id: str | None, split: str, folds: float) -> str:
    """What the train split's cross-validation would cost, before it starts."""
    if split != "train" or not run_id:
        return "The val split is scored from the run's evaluation (one is made if there is none): seconds."
    return f"Cross-validation: {yolov11.label_issues_estimate(run_id, int(folds), workspace=ctx.workspace)['text']}."


@shows_user_errors
def find(ctx: AppContext, run_id: str | None, split: str = "val", folds: float = 2, progress=gr.Progress()):  # noqa: B008 - Gradio injects the tracker through this default
    """Rank the split's suspicious labels; returns the summary, gallery, table, the result as
    JSON, the class filter's choices and the same call as code."""
    if not run_id:
        raise yolov11.UserError("--run : pick a finished run first")
    r = yolov11.label_issues(run_id, split, int(folds), workspace=ctx.workspace, progress=lambda f, m: progress(f, desc=m))
    return _shown(ctx, r, int(folds))


def _shown(ctx: AppContext, r: dict, folds: int) -> tuple:
    """find's outputs for a result of label_issues."""
    classes = sorted({c for i in r["issues"] for c in (i["class"], i["suggested_class"]) if c})
    kwargs = {"run": r["run"], "split": r["split"]} | ({"folds": folds} if r["split"] == "train" else {})
    code = same_call(ctx, "label_issues", "issues", kwargs, "label-issues", {**kwargs, "json": True})
    return (_summary(r, SHOWN), _gallery(ctx, r, r["issues"]), issues_table(r["issues"]), r,
            gr.update(choices=[ALL_CLASSES, *classes], value=ALL_CLASSES), code)


@shows_user_errors
def listed(ctx: AppContext, run_id: str | None, split: str, opens: bool):
    """The run's saved suspicious labels of ``split``, listed as find lists them, with the split
    picked (what "Do it" of the advice to fix labels opens); nothing changes unless ``opens``."""
    if not opens:
        return (gr.skip(),) * 7
    r = yolov11.saved_label_issues(run_id, split, workspace=ctx.workspace) if run_id else None
    if r is None:
        raise yolov11.UserError("--run : find the run's suspicious labels first (Find suspicious labels)")
    return (split, *_shown(ctx, r, r.get("folds", 2)))


def _issue_picked(result: dict, kind: str | None, cls: str | None, evt: gr.SelectData) -> dict:
    """The issue a click picked: a gallery's item (by its place among the filtered issues it
    draws) or a table's row (by its values: a sorted table keeps no original index)."""
    issues = _filtered(result, kind, cls)
    row = getattr(evt, "row_value", None)
    if row:
        key = [str(v) for v in row[1:5]]  # kind, image, class, box as the table writes them
        found = [i for i in issues if [i["kind"], i["image"], i["class"] or "", _box(i["box"])] == key]
        if found:
            return found[0]
    elif isinstance(evt.index, int) and 0 <= evt.index < min(len(issues), SHOWN):
        return issues[evt.index]
    raise yolov11.UserError("that suspicious label is no longer listed: press Find suspicious labels again")


def issue_hint(issue: dict) -> str:
    """What to do in the editor about ``issue``, in the editor's colours."""
    c, sc = (md_text(name) if name else name for name in (issue["class"], issue["suggested_class"]))  # names from the dataset, as text
    return {
        "missing": f"The model finds a **{sc}** (orange) that no label has: keep the orange box to add it, delete it if nothing is there.",
        "spurious": f"The model sees nothing at the red **{c}** box: delete it if nothing is there; "
                    "keep it (save nothing) if the model is wrong.",
        "wrong_class": f"The model sees a **{sc}** (orange) where the red box says **{c}**: keep the orange box and delete the red one, "
                       "or double-click the red box to change its class.",
        "badly_located": f"The model places this **{sc or c}** elsewhere (orange): keep the better of the red and orange boxes "
                         "and delete the other, or drag the red one into place.",
    }[issue["kind"]]


@shows_user_errors
def open_issue(ctx: AppContext, run_id: str | None, split: str, kind: str, cls: str, editing: str | None, evt: gr.SelectData) -> tuple:
    """Open the picked issue's image in the editor: the editor's outputs and the dataset edited.
    The newest version being edited here is kept when it is of the same dataset (edits build on
    each other); otherwise the run's dataset."""
    r = yolov11.saved_label_issues(run_id, split, workspace=ctx.workspace) if run_id else None
    if r is None:
        raise yolov11.UserError("--run : pick a run and find its suspicious labels first")
    issue = _issue_picked(r, kind, cls, evt)
    edited, of_run = (ctx.workspace.dataset(name) if name else None for name in (editing, r["dataset"]))
    dataset = editing if edited and of_run and edited["base"] == of_run["base"] else r["dataset"]
    suggested = [{"class": issue["suggested_class"] or issue["class"], "box": issue["suggested_box"]}] if issue["suggested_box"] else []
    questioned = [{"class": issue["class"], "box": issue["box"]}] if issue["box"] else []
    return (*open_image(ctx, dataset, issue["image"], suggested, questioned, issue_hint(issue)), dataset)


def gallery_label(issues: list | None, kind: str | None, cls: str | None) -> dict:
    """The gallery's label, saying why it is empty: nothing found, or nothing of this kind and class."""
    if (kind and kind != ALL_KINDS) or (cls and cls != ALL_CLASSES):
        why = f"no suspicious label of this kind and class ({kind or ALL_KINDS} · {cls or ALL_CLASSES})"
    else:
        why = "no suspicious labels found for this run and split"
    return said_empty(GALLERY_LABEL, issues, why)


@shows_user_errors
def narrow(ctx: AppContext, run_id: str | None, split: str, kind: str, cls: str):
    """The saved issues of a run and split, filtered by kind and class: gallery and table."""
    r = yolov11.saved_label_issues(run_id, split, workspace=ctx.workspace) if run_id else None
    if r is None:
        return [], issues_table([])
    issues = _filtered(r, kind, cls)
    return _gallery(ctx, r, issues), issues_table(issues)


def build_label_issues(ctx: AppContext, run: gr.Dropdown, follow=None):
    """Lay out the section under the Evaluate tab's run picker; ``follow``: (an event, its "opens",
    split and advice-followed States) after which the run's suspicious labels of that split are
    listed here; a label saved here records the advice followed in its version's lineage."""
    gr.Markdown("### Suspicious labels\nThe labels this run's model disagrees with most, out of sample "
                "(cleanlab's object-detection scores), most suspicious first. Left: the label as it is; right: what the model suggests. "
                "Pick one to fix it in the box editor below: saving writes a new dataset version.")
    with gr.Row():
        split = gr.Radio([("val (the run's model predicts it)", "val"), ("train (cross-validation: k models on folds)", "train")],
                         value="val", label="Split", elem_id="issues-split")
        folds = gr.Slider(2, 10, value=2, step=1, label="Folds (train split)", elem_id="issues-folds")
    cost = gr.Markdown(elem_id="issues-estimate")
    go = gr.Button("Find suspicious labels", elem_id="issues-button")
    summary = gr.Markdown(elem_id="issues-summary")
    with gr.Row():
        kind = gr.Dropdown([ALL_KINDS, *yolov11.LABEL_ISSUE_KINDS], value=ALL_KINDS, label="Kind", elem_id="issues-kind")
        cls = gr.Dropdown([ALL_CLASSES], value=ALL_CLASSES, label="Class", allow_custom_value=True, elem_id="issues-class")
    # Whole drawings at a tile's size: with few issues Gradio would widen the columns and crop
    # each drawing to a square (fit_columns, object_fit="cover").
    gallery = gr.Gallery(label=f"{GALLERY_LABEL}: press Find suspicious labels", columns=3, height=480, object_fit="contain",
                         fit_columns=False, elem_id="issues-gallery")
    table = gr.Dataframe(headers=HEADERS, label="All suspicious labels (click a header to sort)", interactive=False, elem_id="issues-table")
    with gr.Accordion("As JSON (what label-issues --json prints)", open=False):
        as_json = gr.JSON(elem_id="issues-json")
    code = gr.Markdown()
    relabel = dict(fn=gallery_label, inputs=[gallery, kind, cls], outputs=gallery, api_visibility="private")  # says why it is empty
    found = go.click(bind(ctx, find), [run, split, folds], [summary, gallery, table, as_json, cls, code], api_name="label_issues",
                     concurrency_id=GPU_BOUND)
    found.then(**relabel)
    followed = None
    if follow is not None:
        event, opens, which, followed = follow
        event.then(bind(ctx, listed), [run, which, opens], [split, summary, gallery, table, as_json, cls, code],
                   api_visibility="private").then(**relabel)
    narrowed = gr.on([kind.input, cls.input], bind(ctx, narrow), [run, split, kind, cls], [gallery, table], api_name="label_issues_gallery")
    narrowed.then(**relabel)
    gr.on([split.change, folds.release, run.change], bind(ctx, estimate), [run, split, folds], cost, api_visibility="private")
    gr.Markdown("#### Fix a label\nClick a suspicious label in the gallery or the table: its image opens here with the label in question "
                "in red and the model's suggestion in orange.")
    editing = gr.Textbox(label="Dataset (version) being edited", interactive=False, elem_id="issues-dataset")
    editor = build_label_editor(ctx, editing, prefix="issues", advice=followed)
    for source in (gallery, table):
        source.select(bind(ctx, open_issue), [run, split, kind, cls, editing], [*editor.outputs, editing], api_visibility="private")
