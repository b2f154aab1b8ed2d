"""The label editor: one image of a dataset with its boxes in a box editor (gradio_image_annotation's
``image_annotator``: draw, move, resize, delete a box, change its class), saved as a new dataset
version through ``yolov11.edit_labels``.

``build_label_editor(ctx, dataset)`` lays it out and returns a ``LabelEditor``. Another view
opens an image in it with ``open_image``: a box the model suggests pre-drawn in orange under its
class (kept when saving: accepted; deleted: rejected) and the label in question in red, as the
Evaluate tab's suspicious labels do (``pages.label_issues_view``)::

    editor = build_label_editor(ctx, dataset_box, prefix="issues")  # elem_ids of its own
    gallery.select(open_issue, [...], [*editor.outputs, dataset_box])

The component draws an image at its own size when it fits (it only ever shrinks), so a small image
is handed to it enlarged by a whole factor (``shown_scale``: a 320 px image at 640 px), boxes too.
Its rotate buttons turn the image and the boxes with it; what it hands back is in the turned,
enlarged frame (``value["orientation"]``: quarter turns clockwise), which ``edited_boxes`` turns
back into the image's own pixels before saving.
"""

from __future__ import annotations

import math
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
from gradio_image_annotation import image_annotator

import yolov11
from pages.common import AppContext, bind, dataset_choices, shows_user_errors
from pages.text import md_text
from yolov11 import dataset_boxes, image_labels, images_with

PALETTE = ["#1f77b4", "#2ca02c", "#9467bd", "#17becf", "#8c564b", "#7f7f7f", "#bcbd22", "#e377c2"]  # one colour per class
SUGGESTED = "#ff7f0e"  # a box the model suggests: orange, unlike any class colour
QUESTIONED = "#d62728"  # the label a suspicious-labels issue is about: red, as its gallery draws it
MAX_IMAGES = 5000  # images offered in the picker; any other is opened by its name through open_image()
MIN_SHOWN = 640  # an image whose longer side is shorter is shown enlarged by a whole factor, up to MAX_SCALE
MAX_SCALE = 16


def image_choices(ctx: AppContext, dataset: str | None) -> list[str]:
    """The images of a dataset (paths in it, images/<split>/<file>), as the picker lists them."""
    record = ctx.workspace.dataset(dataset) if dataset else None
    return images_with(dataset_boxes(Path(record["path"])))[:MAX_IMAGES] if record else []


def _colours(names: list[str]) -> list[str]:
    return [PALETTE[i % len(PALETTE)] for i in range(len(names))]


def _hex_rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))


def _same_box(a: dict, b: dict) -> bool:
    return str(a["class"]) == str(b["class"]) and all(abs(u - v) <= 0.5 for u, v in zip(a["box"], b["box"]))


def shown_scale(width: int, height: int) -> int:
    """The whole factor the editor shows an image of this size enlarged by: 1, or what brings its
    longer side to MIN_SHOWN or more (a 320 px image: 2)."""
    longest = max(1, width, height)
    return 1 if longest >= MIN_SHOWN else min(MAX_SCALE, math.ceil(MIN_SHOWN / longest))


def _shown_image(ctx: AppContext, dataset: str, labels: dict, scale: int) -> Path:
    """The picture the editor shows, under previews/ (which the app may serve): a copy of the image
    (the browser turns an EXIF-rotated one upright, as training sees it), or for a small one a
    copy enlarged ``scale`` times, upright, with each pixel repeated (a PNG: no blur, no loss)."""
    source = Path(labels["image"])
    folder = ctx.workspace.previews_dir / dataset / "editor"
    if scale == 1:
        shown = folder / labels["name"]
        if not shown.is_file() or shown.stat().st_size != source.stat().st_size:
            shown.parent.mkdir(parents=True, exist_ok=True)
            _written_whole(lambda tmp: shutil.copyfile(source, tmp), shown)
        return shown
    shown = folder / f"{labels['name']}.x{scale}.png"
    if not shown.is_file() or shown.stat().st_mtime < source.stat().st_mtime:
        from PIL import Image, ImageOps

        shown.parent.mkdir(parents=True, exist_ok=True)
        with Image.open(source) as im:
            upright = ImageOps.exif_transpose(im)
            if upright.mode not in ("RGB", "RGBA", "L", "LA", "P"):  # CMYK, 16-bit...: what a PNG and a browser take
                upright = upright.convert("RGB")
            big = upright.resize((upright.width * scale, upright.height * scale), Image.NEAREST)
            _written_whole(lambda tmp: big.save(tmp, "PNG"), shown)
    return shown


def _written_whole(write, dest: Path) -> None:
    """Write through a temporary file and rename: two browsers opening one image at once never
    get a half-written copy (the app serves what it finds in previews/)."""
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def editor_value(ctx: AppContext, dataset: str, labels: dict, suggested: list[dict] | None = None,
                 questioned: list[dict] | None = None) -> dict:
    """The editor's value: the image (a copy under previews/, enlarged ``shown_scale`` times when
    small) and its boxes in that picture's pixels, each in its class's colour; ``suggested``
    boxes in SUGGESTED, and the label boxes equal to one of ``questioned`` (same class, corners
    within half a pixel) in QUESTIONED."""
    scale = shown_scale(labels["width"], labels["height"])
    shown = _shown_image(ctx, dataset, labels, scale)
    names = ctx.workspace.dataset(dataset)["classes"] or []
    colours = dict(zip(names, _colours(names)))

    def box(b: dict, colour: str) -> dict:
        x1, y1, x2, y2 = (v * scale for v in b["box"])
        return {"xmin": x1, "ymin": y1, "xmax": x2, "ymax": y2, "label": str(b["class"]), "color": _hex_rgb(colour)}

    questioned = questioned or []
    drawn = [box(b, QUESTIONED if any(_same_box(b, q) for q in questioned) else colours.get(b["class"], PALETTE[0]))
             for b in labels["boxes"]]
    return {"image": str(shown), "boxes": drawn + [box(b, SUGGESTED) for b in suggested or []]}


def unturned(box: list[float], turns: int, width: float, height: float) -> list[float]:
    """A box (x1, y1, x2, y2) drawn on a ``width`` x ``height`` picture turned ``turns`` quarter
    turns clockwise (as the editor's rotate buttons turn it), in the unturned picture's pixels."""
    x1, y1, x2, y2 = box
    w = height if turns % 2 else width  # the turned picture's width
    for _ in range(turns % 4):  # a quarter turn back: (x, y) of a w-wide picture -> (y, w - x)
        x1, y1, x2, y2, w = y1, w - x2, y2, w - x1, (width + height) - w
    return [x1, y1, x2, y2]


def edited_boxes(value: dict | None, original: list[dict], scale: int = 1, size: tuple[int, int] | None = None) -> list[dict]:
    """The editor's boxes as edit_labels takes them, in the image's pixels: turned back when the
    picture was rotated (``value["orientation"]``), divided by the ``scale`` it was shown enlarged
    by (``size``: the image's width and height). The editor hands back whole pixels of what it
    shows: a box it shows unmoved (the same class and the same corners to the rounding) is given
    back as it was read, at full precision, so it is not taken for a change."""
    turns = int((value or {}).get("orientation") or 0) % 4
    width, height = ((size[0] * scale, size[1] * scale) if size else (0, 0))
    if turns and not size:
        raise ValueError("edited_boxes: a rotated picture needs the image's size")
    # The component turns boxes in its display pixels, rounded: a turned box may be off by a
    # display pixel, more than half a pixel of a picture it shows shrunk.
    slack = 0.5 + (max(width, height) / 1000 if turns else 0)
    pool = list(original or [])
    out = []
    for b in (value or {}).get("boxes") or []:
        corners = [b["xmin"], b["ymin"], b["xmax"], b["ymax"]]
        if turns:
            x1, y1, x2, y2 = unturned(corners, turns, width, height)
            corners = [min(max(x1, 0), width), min(max(y1, 0), height), min(max(x2, 0), width), min(max(y2, 0), height)]
        same = next((o for o in pool
                     if o["class"] == b.get("label") and all(abs(v * scale - c) <= slack for v, c in zip(o["box"], corners))), None)
        if same is not None:
            pool.remove(same)
            out.append(same)
        else:
            out.append({"class": b.get("label") or "", "box": [c / scale for c in corners]})
    return out


def open_image(ctx: AppContext, dataset: str | None, image: str | None, suggested: list[dict] | None = None,
               questioned: list[dict] | None = None, hint: str = "") -> tuple:
    """What the editor shows for ``image`` of ``dataset`` (with ``suggested`` boxes pre-drawn and
    the ``questioned`` labels in red; ``hint``, Markdown whose names are escaped, ends the message): updates of (image picker,
    editor, boxes read, message, what is open: [dataset, image])."""
    if not dataset and image:
        raise yolov11.UserError("--data : pick a dataset first")
    choices = image_choices(ctx, dataset)
    if not image:
        return gr.update(choices=choices, value=None), None, [], "", [dataset, None]
    labels = image_labels(dataset, image, workspace=ctx.workspace)
    names = ctx.workspace.dataset(dataset)["classes"] or []
    value = editor_value(ctx, dataset, labels, suggested, questioned)
    size = f"{labels['width']}x{labels['height']}"
    note = f"**{md_text(labels['name'])}** of {md_text(dataset)}: {len(labels['boxes'])} box(es), {size} pixels."
    scale = shown_scale(labels["width"], labels["height"])
    if scale > 1:
        note += f" Shown {scale}x enlarged."
    if suggested:
        note += f" {len(suggested)} suggested box(es) in orange: keep to accept, delete to reject."
    if hint:
        note += f" {hint}"
    editor = gr.update(value=value, label_list=names, label_colors=_colours(names))
    picker = gr.update(choices=choices if labels["name"] in choices else [labels["name"], *choices], value=labels["name"])
    return picker, editor, labels["boxes"], note, [dataset, labels["name"]]


@shows_user_errors
def save_version(ctx: AppContext, dataset: str, image: str, value: dict | None, original: list[dict], advice: dict | None = None) -> dict:
    """Save the editor's boxes of ``image`` as a new version of ``dataset``; the version
    (yolov11.edit_labels' result). ``advice``: the advice followed here, kept in the lineage."""
    if not image or not value:
        raise yolov11.UserError("pick an image to edit first")
    labels = image_labels(dataset, image, workspace=ctx.workspace)
    size = (labels["width"], labels["height"])
    boxes = edited_boxes(value, original, shown_scale(*size), size)
    return yolov11.edit_labels(dataset, image=image, boxes=boxes, workspace=ctx.workspace, advice=advice or None)


def saved_text(version: dict) -> str:
    d = version["diff"]
    return f"Saved **{md_text(version['name'])}**: {d['added']} added, {d['removed']} removed, {d['changed']} changed."


@shows_user_errors
def opened(ctx: AppContext, name: str | None, picked: str | None):
    """An image picked: open it in the editor."""
    return open_image(ctx, name, picked)


def reopened(ctx: AppContext, name: str | None, current: str | None, showing: list):
    """Another dataset picked (or a version just saved): the same image in it when it has
    one, else none open. The picker set again to what is open leaves the editor (and the
    edits not saved yet) alone."""
    if list(showing or []) == [name, current]:
        return [gr.skip()] * 5
    try:
        return open_image(ctx, name, current)
    except yolov11.UserError:
        return open_image(ctx, name, None)


@shows_user_errors
def save_here(ctx: AppContext, picked: str | None, name: str | None, value: dict | None, original: list[dict],
              advice: dict | None = None) -> tuple[str, str]:
    """Save (``build_label_editor``'s own): the editor's boxes of image ``picked`` saved as a new
    version of dataset ``name``; what was saved, and the new version's name for the dataset field."""
    version = save_version(ctx, dataset=name, image=picked, value=value, original=original, advice=advice)
    return saved_text(version), version["name"]


@shows_user_errors
def save_to_picker(ctx: AppContext, picked: str | None, name: str | None, value: dict | None, original: list[dict],
                   advice: dict | None = None) -> tuple[str, dict]:
    """``save_here`` for a dataset picker (a dropdown): set to the new version, which its refreshed
    choices list."""
    said, new = save_here(ctx, picked, name, value, original, advice)
    return said, gr.update(choices=dataset_choices(ctx), value=new)


@dataclass
class LabelEditor:
    """The editor's components. ``outputs`` (image picker, editor, boxes read, message, what is
    open) take ``open_image``'s values; ``saved`` shows what the last save wrote ("Saved hats@v2:
    1 added, 0 removed, 0 changed")."""

    image: gr.Dropdown
    annotator: image_annotator
    boxes: gr.State
    message: gr.Markdown
    save: gr.Button
    saved: gr.Markdown
    shown: gr.State  # [dataset, image] open in the editor

    @property
    def outputs(self) -> list:
        return [self.image, self.annotator, self.boxes, self.message, self.shown]


def build_label_editor(ctx: AppContext, dataset: gr.components.Component, prefix: str = "label", wire_save: bool = True,
                       advice: gr.State | None = None) -> LabelEditor:
    """Lay out the editor for the dataset named by ``dataset`` (a dropdown, a textbox or a
    State); picking an image opens it, ``open`` opens one from elsewhere (a gallery's select).
    With ``wire_save``, Save writes the version, says so in ``saved`` and sets ``dataset`` to
    it (the next save builds on it); pages.data wires its own save instead. ``prefix`` starts
    the elem_ids (``<prefix>-image``, ``-editor``, ``-save``, ``-message``, ``-saved``): two
    editors on one page need two prefixes. ``advice``: a State holding the advice being followed
    ({"run", "kind"}, or None), which each save records in the new version's lineage."""
    gr.Markdown("Pick an image, then draw a box (Create box, C), drag or resize one (Drag boxes, D), "
                "double-click a box to change its class, select one and press Del to remove it. "
                "Saving writes a new version of the dataset; the one edited stays as it was.")
    image = gr.Dropdown(label="Image to edit", choices=[], allow_custom_value=True, elem_id=f"{prefix}-image")
    annotator = image_annotator(label="Boxes", image_type="filepath", sources=[], show_clear_button=False, show_remove_button=True,
                                use_default_label=True, box_min_size=4, height=520, elem_id=f"{prefix}-editor")
    boxes, shown = gr.State([]), gr.State([None, None])
    with gr.Row():
        save = gr.Button("Save as new version", variant="primary", elem_id=f"{prefix}-save")
    message = gr.Markdown(elem_id=f"{prefix}-message")
    saved = gr.Markdown(elem_id=f"{prefix}-saved")

    editor = LabelEditor(image, annotator, boxes, message, save, saved, shown)
    image.input(bind(ctx, opened), [dataset, image], editor.outputs, api_visibility="private")
    dataset.change(bind(ctx, reopened), [dataset, image, shown], editor.outputs, api_visibility="private")
    if wire_save:  # a picker is set to the new version among its refreshed choices, a textbox or State to its name
        saved_to = save_to_picker if isinstance(dataset, gr.Dropdown) else save_here
        inputs = [image, dataset, annotator, boxes, *([advice] if advice is not None else [])]
        save.click(bind(ctx, saved_to), inputs, [saved, dataset], api_visibility="private")
    return editor
