"""The label editor: one image of a dataset with its boxes in a box editor (gradio_image_annotation's
``image_annotator``: draw, move, resize, delete a box, change its class), saved as a new dataset
version through ``yolov11.edit_labels``.

``build_label_editor(ctx, dataset)`` lays it out and returns a ``LabelEditor``. Another view
opens an image in it with ``open_image``: a box the model suggests pre-drawn in orange under its
class (kept when saving: accepted; deleted: rejected) and the label in question in red, as the
Evaluate tab's suspicious labels do (``pages.label_issues_view``)::

    editor = build_label_editor(ctx, dataset_box, prefix="issues")  # elem_ids of its own
    gallery.select(open_issue, [...], [*editor.outputs, dataset_box])
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
from gradio_image_annotation import image_annotator

import yolov11
from pages.common import AppContext, shows_user_errors
from yolov11 import dataset_boxes, image_labels, images_with

PALETTE = ["#1f77b4", "#2ca02c", "#9467bd", "#17becf", "#8c564b", "#7f7f7f", "#bcbd22", "#e377c2"]  # one colour per class
SUGGESTED = "#ff7f0e"  # a box the model suggests: orange, unlike any class colour
QUESTIONED = "#d62728"  # the label a suspicious-labels issue is about: red, as its gallery draws it
MAX_IMAGES = 5000  # images offered in the picker; any other is opened by its name through open_image()


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


def editor_value(ctx: AppContext, dataset: str, labels: dict, suggested: list[dict] | None = None, questioned: list[dict] | None = None) -> dict:
    """The editor's value: the image (a copy under previews/, which the app may serve) and its
    boxes, each in its class's colour; ``suggested`` boxes in SUGGESTED, and the label boxes equal
    to one of ``questioned`` (same class, corners within half a pixel) in QUESTIONED."""
    shown = ctx.workspace.previews_dir / dataset / "editor" / labels["name"]
    shown.parent.mkdir(parents=True, exist_ok=True)
    if not shown.is_file() or shown.stat().st_size != Path(labels["image"]).stat().st_size:
        shutil.copyfile(labels["image"], shown)
    names = ctx.workspace.dataset(dataset)["classes"] or []
    colours = dict(zip(names, _colours(names)))

    def box(b: dict, colour: str) -> dict:
        x1, y1, x2, y2 = b["box"]
        return {"xmin": x1, "ymin": y1, "xmax": x2, "ymax": y2, "label": str(b["class"]), "color": _hex_rgb(colour)}

    questioned = questioned or []
    drawn = [box(b, QUESTIONED if any(_same_box(b, q) for q in questioned) else colours.get(b["class"], PALETTE[0])) for b in labels["boxes"]]
    return {"image": str(shown), "boxes": drawn + [box(b, SUGGESTED) for b in suggested or []]}


def edited_boxes(value: dict | None, original: list[dict]) -> list[dict]:
    """The editor's boxes as edit_labels takes them. The editor hands back whole pixels: a box
    it shows unmoved (the same class and the same corners once rounded) is given back as it was
    read, at full precision, so it is not taken for a change."""
    pool = list(original or [])
    out = []
    for b in (value or {}).get("boxes") or []:
        corners = [b["xmin"], b["ymin"], b["xmax"], b["ymax"]]
        same = next((o for o in pool if o["class"] == b.get("label") and [round(v) for v in o["box"]] == corners), None)
        if same is not None:
            pool.remove(same)
            out.append(same)
        else:
            out.append({"class": b.get("label") or "", "box": corners})
    return out


def open_image(ctx: AppContext, dataset: str | None, image: str | None, suggested: list[dict] | None = None,
               questioned: list[dict] | None = None, hint: str = "") -> tuple:
    """What the editor shows for ``image`` of ``dataset`` (with ``suggested`` boxes pre-drawn and
    the ``questioned`` labels in red; ``hint`` ends the message): updates of (image picker,
    editor, boxes read, message, what is open: [dataset, image])."""
    if not dataset and image:
        raise yolov11.UserError("--data : pick a dataset first")
    choices = image_choices(ctx, dataset)
    if not image:
        return gr.update(choices=choices, value=None), None, [], "", [dataset, None]
    labels = image_labels(dataset, image, workspace=ctx.workspace)
    names = ctx.workspace.dataset(dataset)["classes"] or []
    value = editor_value(ctx, dataset, labels, suggested, questioned)
    note = f"**{labels['name']}** of {dataset}: {len(labels['boxes'])} box(es), {labels['width']}x{labels['height']} pixels."
    if suggested:
        note += f" {len(suggested)} suggested box(es) in orange: keep to accept, delete to reject."
    if hint:
        note += f" {hint}"
    editor = gr.update(value=value, label_list=names, label_colors=_colours(names))
    picker = gr.update(choices=choices if labels["name"] in choices else [labels["name"], *choices], value=labels["name"])
    return picker, editor, labels["boxes"], note, [dataset, labels["name"]]


@shows_user_errors
def save_version(ctx: AppContext, dataset: str, image: str, value: dict | None, original: list[dict]) -> dict:
    """Save the editor's boxes of ``image`` as a new version of ``dataset``; the version
    (yolov11.edit_labels' result)."""
    if not image or not value:
        raise yolov11.UserError("pick an image to edit first")
    return yolov11.edit_labels(dataset, image=image, boxes=edited_boxes(value, original), workspace=ctx.workspace)


def saved_text(version: dict) -> str:
    d = version["diff"]
    return f"Saved **{version['name']}**: {d['added']} added, {d['removed']} removed, {d['changed']} changed."


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


def build_label_editor(ctx: AppContext, dataset: gr.components.Component, prefix: str = "label", wire_save: bool = True) -> LabelEditor:
    """Lay out the editor for the dataset named by ``dataset`` (a dropdown, a textbox or a
    State); picking an image opens it, ``open`` opens one from elsewhere (a gallery's select).
    With ``wire_save``, Save writes the version, says so in ``saved`` and sets ``dataset`` to
    it (the next save builds on it); pages.data wires its own save instead. ``prefix`` starts
    the elem_ids (``<prefix>-image``, ``-editor``, ``-save``, ``-message``, ``-saved``): two
    editors on one page need two prefixes."""
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

    @shows_user_errors
    def opened(name: str | None, picked: str | None):
        return open_image(ctx, name, picked)

    def reopened(name: str | None, current: str | None, showing: list):
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
    def save_here(picked: str | None, name: str | None, value: dict | None, original: list[dict]):
        version = save_version(ctx, dataset=name, image=picked, value=value, original=original)
        new = version["name"]
        choices = [d["name"] for d in reversed(ctx.workspace.datasets())]
        return saved_text(version), gr.update(choices=choices, value=new) if isinstance(dataset, gr.Dropdown) else new

    editor = LabelEditor(image, annotator, boxes, message, save, saved, shown)
    image.input(opened, [dataset, image], editor.outputs, api_visibility="private")
    dataset.change(reopened, [dataset, image, shown], editor.outputs, api_visibility="private")
    if wire_save:
        save.click(save_here, [image, dataset, annotator, boxes], [saved, dataset], api_visibility="private")
    return editor
