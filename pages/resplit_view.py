"""The Data tab's families view: the families of augmented copies that cross the picked dataset's
splits (a warning, the pairs side by side as the duplicate pairs are shown) and "Re-split by
family", which writes a new version whose train and val keep each family on one side
(``yolov11.resplit_dataset``; api ``/resplit_dataset``).

Mounted by the Data tab below the health view: ``build_resplit(ctx, picked)``; the view redraws
whenever the dataset picker's value changes, and a re-split picks the new version.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

import yolov11
from pages.common import AppContext, bind, dataset_choices, json_safe, refreshed, shows_user_errors
from pages.text import md_text

PAIRS_SHOWN = 12  # crossing families drawn, one pair each (their first images on two sides)


def _report(ctx: AppContext, name: str | None) -> dict | None:
    record = ctx.workspace.dataset(name) if name else None
    if record is None:
        return None
    try:
        return json.loads((Path(record["path"]) / "report.json").read_text())
    except (OSError, ValueError):
        return None


def crossing_text(r: dict | None) -> str:
    """The view's callout (Markdown): how many families cross which splits, or nothing to say."""
    families = (r or {}).get("families") or {}
    n = families.get("crossing_count", 0)
    if not n:
        return ""
    a, b = families["crossing"][0]["pair"]
    return (f"⚠️ **{n} famil{'y' if n == 1 else 'ies'} of augmented copies cross the splits** (one photo flipped, turned, cropped "
            f"or recoloured, e.g. {md_text(a)} and {md_text(b)}): validation scores will be optimistic. "
            "**Re-split by family** writes a new version whose train and val keep each family on one side (a test split stays).")


def draw_crossing(ctx: AppContext, r: dict | None, limit: int = PAIRS_SHOWN) -> list[tuple[str, str]]:
    """The first ``limit`` crossing families drawn as pairs side by side (yolov11.draw_pairs, reused
    from disk), each captioned with both images and the family's size."""
    crossing = ((r or {}).get("families") or {}).get("crossing", [])[:limit]
    if not crossing:
        return []
    drawn = yolov11.draw_pairs(Path(r["path"]), [f["pair"] for f in crossing], ctx.workspace.previews_dir / r["name"] / "families")
    return [(path, f"family of {f['size']}: {caption}") for (path, caption), f in zip(drawn, crossing)]


@shows_user_errors
def show_crossing(ctx: AppContext, name: str | None) -> tuple:
    """The callout, the row with the button (shown only when families cross) and the pairs gallery."""
    r = _report(ctx, name)
    text = crossing_text(r)
    pairs = draw_crossing(ctx, r) if text else []
    n = ((r or {}).get("families") or {}).get("crossing_count", 0)
    label = (f"Families across splits, side by side (the first {len(pairs)} of {n})" if n > len(pairs)
             else "Families across splits, side by side")
    return (gr.update(value=text, visible=bool(text)), gr.update(visible=bool(text)),
            gr.update(value=pairs, visible=bool(pairs), label=label))


@shows_user_errors
def resplit_dataset(ctx: AppContext, name: str, val_fraction: float = 0.2, seed: int = 0) -> tuple:
    """Re-split dataset ``name`` by family as a new version: a message, the result (name, images per
    split, images moved, families, crossing before and after) and the dataset picker on the new version."""
    r = yolov11.resplit_dataset(name, val_fraction=float(val_fraction), seed=int(seed), workspace=ctx.workspace)
    split_txt = ", ".join(f"{k} {n}" for k, n in r["images"].items())
    still = f"; {r['crossing_after']} still reach into the test split, kept as given" if r["crossing_after"] else ""
    message = (f"Saved **{md_text(r['name'])}**: {md_text(r['parent'])} re-split by family ({split_txt}), {r['moved']} image(s) moved, "
               f"{r['families']} families kept whole ({r['crossing_before']} crossed the splits before{still}). It is picked above.")
    return message, json_safe(r), refreshed(dataset_choices(ctx), r["name"])


@dataclass
class ResplitView:
    """What the Data tab may chain on: ``event``, the re-split's click (the datasets table, the
    versions and the health view redraw after it)."""

    event: object


def shown() -> dict:
    """Show what was hidden until the first re-split (the new version's details)."""
    return gr.update(visible=True)


def build_resplit(ctx: AppContext, picked: gr.Dropdown) -> ResplitView:
    """Components and events of the families view, driven by the dataset picker ``picked``."""
    callout = gr.Markdown(visible=False, elem_id="families-crossing", latex_delimiters=[])
    with gr.Row(visible=False, elem_id="resplit-row") as row:
        fraction = gr.Slider(0.05, 0.5, value=0.2, step=0.05, label="Validation fraction", elem_id="resplit-fraction")
        seed = gr.Number(value=0, precision=0, label="Seed", elem_id="resplit-seed")
        button = gr.Button("Re-split by family", variant="primary", elem_id="resplit-button")
    message = gr.Markdown(elem_id="resplit-message", latex_delimiters=[])
    with gr.Accordion("Re-split result (JSON)", open=False, visible=False) as more:
        result = gr.JSON()
    pairs = gr.Gallery(label="Families across splits, side by side", columns=3, height=440, visible=False, elem_id="families-pairs",
                       object_fit="contain", fit_columns=False)
    picked.change(bind(ctx, show_crossing, ["name"]), picked, [callout, row, pairs], api_visibility="private")
    event = button.click(bind(ctx, resplit_dataset, ["name", "val_fraction", "seed"]), [picked, fraction, seed], [message, result, picked],
                         api_name="resplit_dataset")
    event.then(shown, None, more, api_visibility="private")
    return ResplitView(event)
