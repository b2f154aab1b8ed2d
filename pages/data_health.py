"""The health view of one dataset in the Data tab: summary, charts, issues, a gallery with boxes
drawn (filtered by class or problem) and augmented samples as training will see them.

A pick of a 6,000-image dataset must show within a few seconds, so the view draws what is on
screen first and keeps what it made: report.json's values first (summary, class counts, issues),
then the first rows of the gallery and of the duplicate pairs, then the rest of both, then the
charts of the tabs not open. The box table (``dataset_boxes``) and the charts are kept per
dataset version in memory, the drawings on disk (``draw_samples`` names them by what they show),
so a filter change reads no label file and a second pick draws nothing."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import gradio as gr
import pandas as pd

from pages.charts import box_centre_figure, box_size_figure, boxes_per_image_figure, class_counts_figure
from pages.common import AppContext, bind, json_safe, said_empty, shows_user_errors
from pages.resplit_view import ResplitView, build_resplit
from pages.text import md_text
from yolov11 import augmentation_preview, dataset_boxes, draw_pairs, draw_samples, images_with

HEALTH_VIEW = "health-view"  # concurrency_id of the view's redraws
GALLERY_SIZE = 24  # images drawn per filter change: enough to judge, quick to draw
GALLERY_COLUMNS = 6
ON_SCREEN = 2 * GALLERY_COLUMNS  # the gallery's first rows, drawn and sent first; the rest follow
PAIRS_SHOWN = 24  # duplicate pairs drawn side by side, near ones first
PAIRS_ON_SCREEN = 6  # the pairs gallery's first rows
KEPT = 4  # datasets whose report and charts are kept in memory (a pick of one of them again is instant)
GALLERY_LABEL = "Images with their labels"
PROBLEMS = {
    "any image": None,
    "no labels": "no_labels",
    "unlabelled (kept as background)": "unlabelled",
    "label errors": "label_errors",
    "duplicates": "duplicates",
    "train/val leakage": "leakage",
    "families across splits": "families_crossing",
    "EXIF-rotated": "exif_rotated",
    "tiny boxes": "tiny_boxes",
}


class _Kept:
    """The last few datasets' derived values (report, charts), each valid while its files are:
    keyed by the dataset folder and report.json's modification time and size. A label edit is a
    new folder and an import rewrites report.json, so a stale value is never shown."""

    def __init__(self) -> None:
        self._values: OrderedDict[tuple, object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple, make: Callable[[], object]):
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
        value = make()
        with self._lock:
            self._values[key] = value
            while len(self._values) > KEPT:
                self._values.popitem(last=False)
        return value


_reports, _charts_kept = _Kept(), _Kept()


def _stamp(path: Path) -> tuple | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return str(path), st.st_mtime_ns, st.st_size


def _report(ctx: AppContext, name: str | None) -> dict | None:
    """The dataset's report.json (read once per version of the file), or None."""
    record = ctx.workspace.dataset(name) if name else None
    stamp = _stamp(Path(record["path"]) / "report.json") if record else None
    return _reports.get(stamp, lambda: json.loads(Path(stamp[0]).read_text())) if stamp else None




def health_summary(r: dict) -> str:
    """The header of the health view (Markdown); what the importer wrote is shown literally."""
    head = (f"**{md_text(r['name'])}** · {md_text(r['format'])} ({md_text(r['reason'])}) · {sum(r['images'].values())} images"
            f" · {r['boxes']} boxes")
    lines = [f"{head} · split: {md_text(r['split_method'])}"]
    lines += [f"- ⚠️ {md_text(w)}" for w in r["warnings"]]
    lines += [f"- ℹ️ {md_text(n)}" for n in r.get("notes", [])]  # what the import did on the user's behalf
    counts = {k: v for k, v in r["counts"].items() if v}
    if counts:
        lines.append("- counts: " + ", ".join(f"{md_text(k.replace('_', ' '))} {v}" for k, v in counts.items()))
    dups = r.get("duplicates", {})
    shown = " (side by side below)" if dups.get("exact") or dups.get("near") else ""
    lines.append(f"- duplicates: {len(dups.get('exact', []))} exact group(s), {len(dups.get('near', []))} near pair(s), "
                 f"{len(dups.get('leakage', []))} crossing splits{shown}")
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


def _box_charts(root: Path) -> tuple:
    """The box size, boxes per image and box centre charts of a dataset, made once per version of its files."""

    def make() -> tuple:
        boxes = dataset_boxes(root)
        return box_size_figure(boxes), boxes_per_image_figure(boxes), box_centre_figure(boxes)

    return _charts_kept.get(_stamp(root / "report.json"), make)


@shows_user_errors
def show_health(ctx: AppContext, name: str | None) -> tuple:
    """What a pick shows first, from report.json alone: the summary, the class counts chart, the
    issues table, the report and the class filter's choices."""
    r = _report(ctx, name)
    if not r:
        return "", None, pd.DataFrame(columns=["issue"]), None, gr.update(choices=["all classes"], value="all classes")
    return (
        health_summary(r),
        class_counts_figure(r),
        pd.DataFrame({"issue": r["issues"]}, columns=["issue"]),
        json_safe(r),
        gr.update(choices=["all classes", *r["classes"]], value="all classes"),
    )


@shows_user_errors
def box_charts(ctx: AppContext, name: str | None) -> tuple:
    """The charts of the view's other tabs (box sizes, boxes per image, box centres): drawn after
    the galleries, which are on screen."""
    r = _report(ctx, name)
    return _box_charts(Path(r["path"])) if r else (None, None, None)


def _gallery(ctx: AppContext, name: str, root: Path, chosen: list[str]) -> list[tuple[str, str]]:
    return draw_samples(root, [root / p for p in chosen], ctx.workspace.previews_dir / name / "gallery")


def _pairs(ctx: AppContext, r: dict | None, limit: int) -> dict:
    """The duplicate pairs gallery with the first ``limit`` pairs drawn: near pairs, then exact
    copies, each pair joined side by side and captioned with both names."""
    dups = (r or {}).get("duplicates", {})
    near, exact = dups.get("near", []), dups.get("exact", [])
    if not near and not exact:
        return gr.update(value=[], visible=False)
    out_dir = ctx.workspace.previews_dir / r["name"] / "pairs"
    root = Path(r["path"])
    drawn = [(path, f"near: {caption}") for path, caption in draw_pairs(root, near, out_dir / "near", limit=limit)]
    drawn += [(path, f"exact copy: {caption}") for path, caption in draw_pairs(root, exact, out_dir / "exact", limit=limit - len(drawn))]
    total = len(near) + sum(len(g) - 1 for g in exact)
    more = f"; the first {min(total, PAIRS_SHOWN)} of {total} shown" if total > PAIRS_SHOWN else ""
    label = f"Duplicate pairs, side by side ({len(near)} near pair(s), {len(exact)} exact group(s){more})"
    return gr.update(value=drawn, visible=True, label=label)


def _shown(items: list, name: str | None, class_name: str, problem: str) -> dict:
    """The gallery's update: its drawings, and when there are none, why (in its label)."""
    if not name:
        why = "pick a dataset to see its images"
    elif class_name in (None, "", "all classes") and not PROBLEMS.get(problem):
        why = "this dataset has no images"
    else:
        why = f"no image matches this filter ({class_name or 'all classes'} · {problem})"
    return said_empty(GALLERY_LABEL, items, why, value=items)


@shows_user_errors
def draw_gallery(ctx: AppContext, name: str | None, class_name: str, problem: str):
    """The gallery under these filters, as a generator: its first rows (what is on screen) first,
    then all of it. Drawings are kept on disk (preview.draw_samples), so a filter change or a
    second pick redraws nothing it drew before."""
    root, chosen = gallery_images(ctx, name, class_name, problem)
    if root is None:
        yield _shown([], None, class_name, problem)
        return
    first = _gallery(ctx, name, root, chosen[:ON_SCREEN])
    yield _shown(first, name, class_name, problem)
    if len(chosen) > ON_SCREEN:
        yield _shown(first + _gallery(ctx, name, root, chosen[ON_SCREEN:]), name, class_name, problem)


@shows_user_errors
def draw_view(ctx: AppContext, name: str | None, class_name: str, problem: str):
    """The gallery and the duplicate pairs after a pick, as a generator: what is on screen of
    each first (the gallery's first rows, the first pairs), then all of both."""
    r = _report(ctx, name)
    root, chosen = gallery_images(ctx, name, class_name, problem)
    if root is None:
        yield _shown([], None, class_name, problem), _pairs(ctx, None, 0)
        return
    first = _gallery(ctx, name, root, chosen[:ON_SCREEN])
    yield _shown(first, name, class_name, problem), _pairs(ctx, r, PAIRS_ON_SCREEN)
    yield _shown(first + _gallery(ctx, name, root, chosen[ON_SCREEN:]), name, class_name, problem), _pairs(ctx, r, PAIRS_SHOWN)


@shows_user_errors
def augment(ctx: AppContext, name: str | None):
    r = _report(ctx, name)
    if not r:
        raise gr.Error("pick a dataset first")
    return str(augmentation_preview(Path(r["data_yaml"]), ctx.workspace.previews_dir / r["name"] / "augmented.jpg", n=16))


def picked_by_user() -> None:
    """The user picked another dataset: nothing to do but start the view's redraw (``HealthView.refresh``)."""


# The view is redrawn after several events (the page load, an import, a pick): one at a time,
# in the order asked, so an earlier redraw that runs long cannot land over a later one.
IN_ORDER = {"api_visibility": "private", "concurrency_id": HEALTH_VIEW, "concurrency_limit": 1}


@dataclass
class HealthView:
    """What the Data tab wires beyond the view itself: ``refresh(dependency)`` redraws the view
    after another event (an import, the page load); a ``gallery`` click names the image drawn
    at that place through ``gallery_images`` with the two filters' values."""

    ctx: AppContext
    picked: gr.Dropdown
    first: list  # what report.json alone gives: show_health's outputs (summary, class counts, issues, report, class filter)
    gallery: gr.Gallery
    pairs: gr.Gallery
    charts: list  # the other tabs' charts: box_charts' outputs
    class_filter: gr.Dropdown
    problem_filter: gr.Dropdown
    resplit: ResplitView  # families across splits under the summary, "Re-split by family" (pages.resplit_view)

    def refresh(self, dependency):
        """Redraw the view after ``dependency`` (an event): what report.json alone gives, then what
        is on screen of the two galleries, then the rest of them, then the charts of the tabs not
        open, each step as soon as it is ready; returns the galleries' step."""
        filters = [self.picked, self.class_filter, self.problem_filter]
        shown = dependency.then(bind(self.ctx, show_health, ["name"]), self.picked, self.first, **IN_ORDER)
        drawn = shown.then(bind(self.ctx, draw_view, ["name", "class_name", "problem"]), filters, [self.gallery, self.pairs], **IN_ORDER)
        drawn.then(bind(self.ctx, box_charts, ["name"]), self.picked, self.charts, **IN_ORDER)
        return drawn


def build_health(ctx: AppContext, picked: gr.Dropdown) -> HealthView:
    """Components and events of the health view, driven by the dataset picker ``picked``."""
    summary = gr.Markdown(elem_id="health-summary", latex_delimiters=[])  # "$" in a file name is no formula
    resplit = build_resplit(ctx, picked)  # beside the summary's warning
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
        class_filter = gr.Dropdown(label="Show class", choices=["all classes"], value="all classes", allow_custom_value=True,
                                   elem_id="gallery-class")
        problem_filter = gr.Dropdown(label="Show problem", choices=list(PROBLEMS), value="any image", elem_id="gallery-problem")
    # Whole images at a fixed tile size (object_fit="contain", fit_columns=False): with few
    # items Gradio would otherwise widen the columns and crop each tile to a square.
    whole = {"object_fit": "contain", "fit_columns": False}
    gallery = gr.Gallery(label=GALLERY_LABEL, columns=GALLERY_COLUMNS, height=420, elem_id="dataset-gallery", **whole)
    pairs = gr.Gallery(label="Duplicate pairs, side by side", columns=3, height=440, visible=False, elem_id="duplicate-pairs", **whole)
    with gr.Row():
        augment_btn = gr.Button("Show augmented training samples (mosaic, flips, HSV…)", elem_id="augment-button")
    augmented = gr.Image(label="Augmented samples, as Ultralytics will feed them to training", interactive=False, elem_id="augment-image")

    first, charts = [summary, counts_chart, issues, report, class_filter], [size_chart, per_image_chart, centre_chart]
    view = HealthView(ctx, picked, first, gallery, pairs, charts, class_filter, problem_filter, resplit)
    view.refresh(picked.input(picked_by_user, None, None, api_visibility="private"))  # the user picked another dataset
    gr.on([class_filter.input, problem_filter.input], bind(ctx, draw_gallery, ["name", "class_name", "problem"]),
          [picked, class_filter, problem_filter], gallery, **IN_ORDER)
    augment_btn.click(bind(ctx, augment, ["name"]), picked, augmented, api_name="augmentation_preview")
    return view
