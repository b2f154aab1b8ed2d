"""The health view of one dataset in the Data tab: summary, charts, issues, a gallery with boxes
drawn (filtered by class or problem) and augmented samples as training will see them."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import gradio as gr
import pandas as pd

from pages.charts import box_centre_figure, box_size_figure, boxes_per_image_figure, class_counts_figure
from pages.common import AppContext, json_safe, shows_user_errors
from yolov11 import augmentation_preview, dataset_boxes, draw_pairs, draw_samples, images_with

HEALTH_VIEW = "health-view"  # concurrency_id of the view's redraws
GALLERY_SIZE = 24  # images drawn per filter change: enough to judge, quick to draw
PAIRS_SHOWN = 24  # duplicate pairs drawn side by side, near ones first
PROBLEMS = {
    "any image": None,
    "no labels": "no_labels",
    "label errors": "label_errors",
    "duplicates": "duplicates",
    "train/val leakage": "leakage",
    "EXIF-rotated": "exif_rotated",
    "tiny boxes": "tiny_boxes",
}


def _report(ctx: AppContext, name: str | None) -> dict | None:
    record = ctx.workspace.dataset(name) if name else None
    path = Path(record["path"]) / "report.json" if record else None
    return json.loads(path.read_text()) if path and path.is_file() else None


def literal(text: object) -> str:
    """``text`` as Markdown that shows it as written: every ASCII punctuation mark backslash-escaped
    (CommonMark), so "<annotation>" stays text instead of an HTML tag and "_" no emphasis; line
    breaks become spaces (one item stays one line)."""
    return re.sub(r"([!-/:-@\[-`{-~])", r"\\\1", " ".join(str(text).split()))


def health_summary(r: dict) -> str:
    """The header of the health view (Markdown); what the importer wrote is shown literally."""
    head = f"**{literal(r['name'])}** · {literal(r['format'])} ({literal(r['reason'])}) · {sum(r['images'].values())} images · {r['boxes']} boxes"
    lines = [f"{head} · split: {literal(r['split_method'])}"]
    lines += [f"- ⚠️ {literal(w)}" for w in r["warnings"]]
    counts = {k: v for k, v in r["counts"].items() if v}
    if counts:
        lines.append("- counts: " + ", ".join(f"{literal(k.replace('_', ' '))} {v}" for k, v in counts.items()))
    dups = r.get("duplicates", {})
    shown = " (side by side below)" if dups.get("exact") or dups.get("near") else ""
    lines.append(f"- duplicates: {len(dups.get('exact', []))} exact group(s), {len(dups.get('near', []))} near pair(s), {len(dups.get('leakage', []))} crossing splits{shown}")
    lines.append(f"- {r['issue_count']} issue(s) found and handled (table below)")
    return "\n".join(lines)


def gallery_images(ctx: AppContext, name: str | None, class_name: str, problem: str) -> tuple[Path | None, list[str]]:
    """The dataset's folder and the images its gallery draws under these filters (paths in the
    dataset, images/<split>/<file>), in the gallery's order."""
    r = _report(ctx, name)
    if not r:
        return None, []
    root = Path(r["path"])
    chosen = images_with(dataset_boxes(root), None if class_name == "all classes" else class_name)
    key = PROBLEMS.get(problem)
    if key:
        flagged = set(r["problem_images"].get(key, []))
        chosen = [p for p in chosen if p in flagged]
    return root, chosen[:GALLERY_SIZE]


@dataclass
class HealthView:
    """What the Data tab wires beyond the view itself: ``refresh(dependency)`` redraws the view
    after another event (an import, the page load); a ``gallery`` click names the image drawn
    at that place through ``gallery_images`` with the two filters' values."""

    refresh: Callable
    gallery: gr.Gallery
    class_filter: gr.Dropdown
    problem_filter: gr.Dropdown


def build_health(ctx: AppContext, picked: gr.Dropdown) -> HealthView:
    """Components and events of the health view, driven by the dataset picker ``picked``."""
    summary = gr.Markdown(elem_id="health-summary", latex_delimiters=[])  # "$" in a file name is no formula
    with gr.Tabs():
        with gr.Tab("Class counts"):
            counts_chart = gr.Plot()
        with gr.Tab("Box sizes"):
            size_chart = gr.Plot()
        with gr.Tab("Boxes per image"):
            per_image_chart = gr.Plot()
        with gr.Tab("Box centres"):
            centre_chart = gr.Plot()
        with gr.Tab("Issues"):
            issues = gr.Dataframe(headers=["issue"], interactive=False, elem_id="health-issues")
        with gr.Tab("report.json"):
            report = gr.JSON()
    with gr.Row():
        class_filter = gr.Dropdown(label="Show class", choices=["all classes"], value="all classes", allow_custom_value=True, elem_id="gallery-class")
        problem_filter = gr.Dropdown(label="Show problem", choices=list(PROBLEMS), value="any image", elem_id="gallery-problem")
    gallery = gr.Gallery(label="Images with their labels", columns=6, height=420, elem_id="dataset-gallery")
    pairs = gr.Gallery(label="Duplicate pairs, side by side", columns=3, height=360, visible=False, elem_id="duplicate-pairs")
    with gr.Row():
        augment_btn = gr.Button("Show augmented training samples (mosaic, flips, HSV…)", elem_id="augment-button")
    augmented = gr.Image(label="Augmented samples, as Ultralytics will feed them to training", interactive=False, elem_id="augment-image")

    def show(name: str | None):
        r = _report(ctx, name)
        if not r:
            return "", None, None, None, None, pd.DataFrame(columns=["issue"]), None, gr.update(choices=["all classes"], value="all classes")
        boxes = dataset_boxes(Path(r["path"]))
        return (
            health_summary(r),
            class_counts_figure(r),
            box_size_figure(boxes),
            boxes_per_image_figure(boxes),
            box_centre_figure(boxes),
            pd.DataFrame({"issue": r["issues"]}, columns=["issue"]),
            json_safe(r),
            gr.update(choices=["all classes", *r["classes"]], value="all classes"),
        )

    @shows_user_errors
    def draw(name: str | None, class_name: str, problem: str):
        root, chosen = gallery_images(ctx, name, class_name, problem)
        if root is None:
            return []
        out_dir = ctx.workspace.previews_dir / name / "gallery"
        out_dir.mkdir(parents=True, exist_ok=True)
        return draw_samples(root, [root / p for p in chosen], out_dir)

    @shows_user_errors
    def draw_duplicates(name: str | None):
        """Near pairs, then exact copies, each pair joined side by side and captioned with both names."""
        r = _report(ctx, name)
        dups = (r or {}).get("duplicates", {})
        near, exact = dups.get("near", []), dups.get("exact", [])
        if not near and not exact:
            return gr.update(value=[], visible=False)
        out_dir = ctx.workspace.previews_dir / r["name"] / "pairs"
        root = Path(r["path"])
        drawn = [(path, f"near: {caption}") for path, caption in draw_pairs(root, near, out_dir / "near", limit=PAIRS_SHOWN)]
        drawn += [(path, f"exact copy: {caption}") for path, caption in draw_pairs(root, exact, out_dir / "exact", limit=PAIRS_SHOWN - len(drawn))]
        total = len(near) + sum(len(g) - 1 for g in exact)
        more = f"; the first {len(drawn)} of {total} shown" if len(drawn) < total else ""
        label = f"Duplicate pairs, side by side ({len(near)} near pair(s), {len(exact)} exact group(s){more})"
        return gr.update(value=drawn, visible=True, label=label)

    @shows_user_errors
    def augment(name: str | None):
        r = _report(ctx, name)
        if not r:
            raise gr.Error("pick a dataset first")
        return str(augmentation_preview(Path(r["data_yaml"]), ctx.workspace.previews_dir / r["name"] / "augmented.jpg", n=16))

    # The view is redrawn after several events (the page load, an import, a pick): one at a time,
    # in the order asked, so an earlier redraw that runs long cannot land over a later one.
    in_order = {"api_visibility": "private", "concurrency_id": HEALTH_VIEW, "concurrency_limit": 1}

    def refresh(dependency):
        outputs = [summary, counts_chart, size_chart, per_image_chart, centre_chart, issues, report, class_filter]
        shown = dependency.then(show, picked, outputs, **in_order)
        shown.then(draw_duplicates, picked, pairs, **in_order)
        return shown.then(draw, [picked, class_filter, problem_filter], gallery, **in_order)

    refresh(picked.input(lambda: None, None, None, api_visibility="private"))  # the user picked another dataset
    gr.on([class_filter.input, problem_filter.input], draw, [picked, class_filter, problem_filter], gallery, **in_order)
    augment_btn.click(augment, picked, augmented, api_name="augmentation_preview")
    return HealthView(refresh, gallery, class_filter, problem_filter)
