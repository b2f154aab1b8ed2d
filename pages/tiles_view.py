"""Data tab, "Make tiles for small objects": the picked dataset's train and val images cut into
overlapping tiles at the size training will use, as a new version (``yolov11.tile_dataset``; api
``/tile_dataset``), with the same call in Python and a shell. The health report's small-objects
warning says when it is worth it."""

from __future__ import annotations

import gradio as gr

import yolov11
from pages.common import AppContext, bind, dataset_choices, json_safe, refreshed, same_call, shows_user_errors
from pages.text import md_text


@shows_user_errors
def tile_dataset(ctx: AppContext, name: str, size: float = 640, overlap: float = 0.2) -> tuple:
    """Tile dataset ``name`` as a new version: a message, the result and the picker on the new version, the same call as code."""
    r = yolov11.tile_dataset(name or "", size=int(size), overlap=float(overlap), workspace=ctx.workspace)
    message = (f"Saved **{md_text(r['name'])}**: {md_text(r['parent'])} as {md_text(r['lineage'])}: {r['images']} image(s) became "
               f"{r['tiles']} tiles ({r['empty_kept']} without boxes), {r['boxes']} boxes, {r['clipped']} cut at a tile edge and kept, "
               f"{r['dropped']} dropped (less than half left). Train on it at imgsz {int(size)}; compare with the parent's run by "
               "`eval --slice` on the full frames. It is picked above.")
    args = {"data": name, "size": int(size), "overlap": float(overlap)}
    code = same_call(ctx, "tile_dataset", "tiled", args, "tile", args)
    return message, json_safe(r), refreshed(dataset_choices(ctx), r["name"]), code


def build_tiles(ctx: AppContext, picked: gr.Dropdown) -> None:
    """The section, for the dataset picked in ``picked``."""
    with gr.Accordion("Make tiles for small objects", open=False, elem_id="tiles-section") as section:
        ctx.sections["tiles"] = section
        gr.Markdown("Cut the train and val images into overlapping tiles of the size you will train at, so small objects keep "
                    "their pixels (boxes cut at a tile edge are kept when half of them is left). Writes a new version; "
                    "predict with **Small objects** on (sliced) to match.")
        with gr.Row():
            size = gr.Number(value=640, precision=0, label="Tile size (px)", elem_id="tiles-size")
            overlap = gr.Slider(0.0, 0.5, value=0.2, step=0.05, label="Overlap", elem_id="tiles-overlap")
            go = gr.Button("Make tiles", elem_id="tiles-button")
        message = gr.Markdown(elem_id="tiles-message")
        result = gr.JSON(visible=False)
        code = gr.Markdown()
    go.click(bind(ctx, tile_dataset), [picked, size, overlap], [message, result, picked, code], api_name="tile_dataset")
