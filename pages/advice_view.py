"""The Evaluate tab's "What to fix next": ``yolov11.advise``'s actions for the picked run and split,
ranked by the mAP50-95 each is expected to add, each with how that was estimated, its evidence and
the command that does it; "Do it" follows the picked action (the top one unless a row is picked):
suspicious labels open in the section below, listed most suspicious first; the other actions open
the tab where they are done (TAB: the Data tab with the run's dataset picked, the Train or Predict
tab), and the note says where in it, with the command."""

from __future__ import annotations

import functools

import gradio as gr
import pandas as pd

import yolov11
from pages.common import GPU_BOUND, AppContext, bind, same_call, shows_user_errors
from pages.text import fenced, md_text

HEADERS = ["rank", "action", "expected gain (mAP50-95)", "kind"]
WHERE = {  # where in the app each kind of action is done, in the user's words
    "fix_labels": "Evaluate → Suspicious labels (below): pick one to fix it in the box editor",
    "more_data": "Data → Label new images: add photos of the class, pre-label them with this run, review and accept",
    "small_objects": "Data → Make tiles for small objects; then Predict with Small objects on",
    "duplicates": "Predict with a lower NMS IoU (the command below)",
    "background": "Data → Label new images: add photos without the objects, accept them with no boxes",
    "resplit": "Data → Families across splits → Re-split by family",
    "train_longer": "Data → versions → Retrain on the version with more epochs, or Train with the command below",
    "regularise": "Train → More settings: mosaic, mixup and scale up, or a smaller model",
}


TAB = {"more_data": "data", "small_objects": "data", "background": "data", "resplit": "data", "train_longer": "data",
       "regularise": "train", "duplicates": "predict"}  # the tab each kind is done in (fix_labels: this one, Evaluate)
SECTION = {"more_data": "pool", "background": "pool", "small_objects": "tiles"}  # the Data tab's section it opens


def actions_table(result: dict | None) -> pd.DataFrame:
    rows = [[n, a["title"], a["expected_gain"], a["kind"]] for n, a in enumerate((result or {}).get("actions", []), 1)]
    return pd.DataFrame(rows, columns=HEADERS)


def summary(result: dict) -> str:
    """The ranked actions in words: title and gain, how it was estimated, the command (names from the user's data as text)."""
    gains = sorted(result["breakdown"]["gains"].items(), key=lambda kv: -kv[1])[:3]
    lines = [f"**{md_text(result['run'])}** on {result['split']}: mAP50-95 {result['metrics']['mAP50-95']:.3f}. Where the mAP50 goes "
             f"(each error type fixed alone): " + ", ".join(f"{k} +{v:.3f}" for k, v in gains) + "."]
    if not result["actions"]:
        return lines[0] + "\n\nNothing to suggest from what this run recorded."
    for n, a in enumerate(result["actions"], 1):
        lines.append(f"{n}. **{md_text(a['title'])}**: expected **+{a['expected_gain']:.3f}** mAP50-95  \n{md_text(a['how'])}")
    return "\n\n".join(lines)


@shows_user_errors
def advise(ctx: AppContext, run_id: str | None, split: str = "val", progress=gr.Progress()):  # noqa: B008 - Gradio injects the tracker
    """What to fix next for a run and split: the ranked actions in words, as a table, as JSON, and the same call."""
    if not run_id:
        raise yolov11.UserError("--run : pick a finished run first")
    r = yolov11.advise(run_id, split, workspace=ctx.workspace, progress=lambda f, m: progress(f, desc=m))
    code = same_call(ctx, "advise", "advice", {"run": run_id, "split": split}, "advise", {"run": run_id, "split": split, "json": True})
    return summary(r), actions_table(r), r, code


def picked(table: pd.DataFrame | None, evt: gr.SelectData) -> int:
    """The rank of the action a click on the table picked."""
    row = getattr(evt, "row_value", None) or []
    return int(row[0]) if row else 1


def _picked(result: dict | None, rank: float | None) -> dict | None:
    """The action of ``rank`` (1 = the top one, clamped to the list), None when there are none."""
    actions = (result or {}).get("actions") or []
    return actions[min(max(int(rank or 1), 1), len(actions)) - 1] if actions else None


@shows_user_errors
def follow(ctx: AppContext, result: dict | None, rank: float | None):
    """Where the picked action (``rank``, 1 = the top one) is done: its words and command; for
    suspicious labels, the run's split to list below (the section's split picker); and the advice
    followed ({"run", "kind"}), which a label saved in the section below records in its version."""
    action = _picked(result, rank)
    if action is None:
        raise yolov11.UserError("press What to fix next first")
    note = f"**{md_text(action['title'])}**: {WHERE.get(action['kind'], '')}.\n{fenced(action['command'], 'bash')}"
    split = (action.get("evidence") or {}).get("review_split") or result["split"]  # fix_labels: the split whose labels weigh more
    split = split if split in ("val", "train") else "val"
    return note, action["kind"] == "fix_labels", split, {"run": result["run"], "kind": action["kind"], "split": result["split"]}


def open_tab(sections: list[str], result: dict | None, rank: float | None):
    """The tab where the picked action is done (``gr.Tabs``' update); for the Data tab, its dataset
    picker set to the run's dataset (so its versions, pool and tiles are that dataset's) and the
    section of ``sections`` (the Data tab's accordions, by name) where it is done opened."""
    kind = (_picked(result, rank) or {}).get("kind")
    tab = TAB.get(kind)
    if tab is None:
        return gr.skip(), gr.skip(), *(gr.skip() for _ in sections)
    dataset = gr.update(value=result["dataset"]) if tab == "data" and result.get("dataset") else gr.skip()
    return gr.Tabs(selected=tab), dataset, *(gr.Accordion(open=True) if SECTION.get(kind) == name else gr.skip() for name in sections)


def forget() -> None:
    return None


def build_advice(ctx: AppContext, run: gr.Dropdown, split: gr.Radio):
    """Lay out the section; returns (the follow event, whether it opens the suspicious labels, their
    split, the advice followed: States)."""
    with gr.Accordion("What to fix next", open=True, elem_id="advice-section"):
        gr.Markdown("The actions ranked by the mAP50-95 each is expected to add, each with how that was estimated and how rough it is, "
                    "from this run's errors, its labels, its data and its curves. A run not yet evaluated on the split is evaluated first.")
        go = gr.Button("What to fix next", elem_id="advice-button")
        words = gr.Markdown(elem_id="advice-summary")
        table = gr.Dataframe(headers=HEADERS, label="Actions, best first (click one to pick it)", interactive=False, elem_id="advice-table")
        with gr.Row():
            rank = gr.Number(value=1, precision=0, label="Action to do (rank)", minimum=1, elem_id="advice-rank")
            do = gr.Button("Do it", variant="primary", elem_id="advice-do")
        note = gr.Markdown(elem_id="advice-note")
        with gr.Accordion("As JSON (what advise --json prints)", open=False):
            as_json = gr.JSON(elem_id="advice-json")
        code = gr.Markdown()
        opens, issues_split, followed = gr.State(False), gr.State("val"), gr.State(None)
    go.click(bind(ctx, advise), [run, split], [words, table, as_json, code], api_name="advise", concurrency_id=GPU_BOUND)
    table.select(picked, table, rank, api_visibility="private")
    done = do.click(bind(ctx, follow), [as_json, rank], [note, opens, issues_split, followed], api_visibility="private")
    if ctx.tabs is not None and ctx.data_picker is not None:  # the whole app (not a tab built alone)
        names = sorted(ctx.sections)
        outputs = [ctx.tabs, ctx.data_picker, *(ctx.sections[n] for n in names)]
        opened = done.success(functools.partial(open_tab, names), [as_json, rank], outputs, api_visibility="private")
        if ctx.show_data is not None:
            ctx.show_data(opened)
    run.change(forget, None, followed, api_visibility="private")  # another run: the advice followed is no longer this one's
    return done, opens, issues_split, followed
