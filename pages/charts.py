"""Plotly figures the tabs show; they only draw what the core computed. Names from a user's data
(classes, runs) reach plotly through ``pages.text.plot_text``: plotly reads HTML in labels."""

from __future__ import annotations

import functools
import math

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import plotly.io as pio

from pages.text import plot_text

LOSSES = ("box_loss", "cls_loss", "dfl_loss")
METRICS = ("mAP50", "mAP50-95", "precision", "recall")


def interval_losses(batches: list[dict]) -> list[dict]:
    """Each batch event's losses as the mean over the batches since the previous event.

    A batch event carries Ultralytics' running mean of the epoch so far, which starts again at
    each epoch: plotted as it is, the line jumps at every epoch boundary. Within an epoch the sum
    of losses up to a point is the running mean times the fraction of the epoch done, so the
    difference of two such sums is the mean of the batches between them, comparable across
    epochs. ``step`` (fractional epochs) is kept; a loss missing from either event stays None."""
    out, before = [], {}
    for b in batches:
        step = b["step"]
        epoch = math.ceil(step) if step > 0 else 1
        done = step - (epoch - 1)  # fraction of this epoch done, in (0, 1]
        if before.get("epoch") != epoch:
            before = {"epoch": epoch, "done": 0.0}
        entry = {"step": step}
        for name in LOSSES:
            value, sum_before = b.get(name), before.get(name, 0.0)
            if value is None or sum_before is None or done <= before["done"]:
                entry[name] = None
            else:
                entry[name] = (value * done - sum_before) / (done - before["done"])
        out.append(entry)
        before = {"epoch": epoch, "done": done, **{n: (b[n] * done if b.get(n) is not None else None) for n in LOSSES}}
    return out


def training_spec(status: dict) -> dict:
    """The live training chart as Plotly's JSON structure ({"data", "layout"}): training losses by
    batch (left: the mean over each interval between two points, see interval_losses) and
    validation metrics by epoch (right), both over the run's planned epochs. Built as plain data:
    the Train tab redraws it each time a batch event arrives, and plotly's figure objects (their
    validation, make_subplots) took 50-120 ms for a long run where this takes a few."""
    steps = interval_losses(status.get("batches", []))
    history = status.get("history", [])
    xs = [s["step"] for s in steps]
    data = [{"type": "scatter", "mode": "lines", "name": name, "x": xs, "y": [s.get(name) for s in steps], "xaxis": "x", "yaxis": "y"}
            for name in LOSSES]
    epochs = [h["epoch"] for h in history]
    data += [{"type": "scatter", "mode": "lines+markers", "name": name, "x": epochs, "y": [h.get(name) for h in history],
              "xaxis": "x2", "yaxis": "y2"}
             for name in METRICS]
    last = max(xs + epochs + [status.get("epochs") or 1])

    def title(text: str, x: float) -> dict:  # a subplot's title, placed as make_subplots places it
        return {"text": text, "x": x, "xref": "paper", "xanchor": "center", "y": 1.0, "yref": "paper", "yanchor": "bottom",
                "showarrow": False, "font": {"size": 16}}

    layout = {
        "template": _template(),
        "xaxis": {"anchor": "y", "domain": [0.0, 0.45], "title": {"text": "epoch"}, "range": [0, last]},
        "yaxis": {"anchor": "x", "domain": [0.0, 1.0], **({} if steps else {"range": [0, 1]})},  # nothing yet: 0..1, not Plotly's -1..6
        # room for the last marker
        "xaxis2": {"anchor": "y2", "domain": [0.55, 1.0], "title": {"text": "epoch"}, "range": [0, last + 0.25]},
        "yaxis2": {"anchor": "x2", "domain": [0.0, 1.0], "range": [0, 1]},
        "annotations": [title("training loss", 0.225), title("validation metrics", 0.775)],
        "height": 340, "margin": {"l": 40, "r": 20, "t": 40, "b": 40}, "legend": {"orientation": "h", "y": -0.25}, "uirevision": "keep",
    }
    return {"data": data, "layout": layout}


def training_figure(status: dict) -> go.Figure:
    """``training_spec`` as a plotly Figure."""
    return go.Figure(training_spec(status))


def spec_json(spec: dict) -> str:
    """A figure's JSON structure as the JSON text gr.Plot sends for a plotly Figure."""
    return pio.to_json(spec, validate=False)


@functools.cache
def _template() -> dict:
    """Plotly's default template (colours, grid) as data: what a Figure would carry."""
    return pio.templates[pio.templates.default].to_plotly_json()


def class_counts_figure(report: dict) -> go.Figure:
    rows = [{"split": split, "class": plot_text(name), "boxes": n}
            for split, v in report["splits"].items() for name, n in v["per_class"].items()]
    fig = px.bar(pd.DataFrame(rows), x="class", y="boxes", color="split", barmode="group", title="boxes per class and split")
    fig.update_layout(height=320, margin=dict(l=40, r=20, t=40, b=40))
    return fig


def per_class_figure(result: dict) -> go.Figure:
    df = pd.DataFrame(result["per_class"])
    df["class"] = df["class"].map(plot_text)
    fig = px.bar(df.melt(id_vars="class", value_vars=["mAP50", "mAP50-95"]), x="class", y="value", color="variable", barmode="group",
                 title="per-class mAP")
    fig.update_layout(height=320, margin=dict(l=40, r=20, t=40, b=40), yaxis_range=[0, 1])
    return fig


def box_size_figure(boxes: pd.DataFrame) -> go.Figure:
    sample = boxes.dropna(subset=["w"]).sample(n=min(5000, boxes["w"].notna().sum()), random_state=0) if len(boxes) else boxes
    sample = sample.assign(**{"class": sample["class"].map(plot_text)}) if len(sample) else sample
    fig = px.scatter(sample, x="w", y="h", color="class", opacity=0.5, title="box width and height (fraction of the image)")
    fig.update_layout(height=340, margin=dict(l=40, r=20, t=40, b=40), xaxis_range=[0, 1], yaxis_range=[0, 1])
    return fig


def boxes_per_image_figure(boxes: pd.DataFrame) -> go.Figure:
    per_image = boxes.groupby(["image", "split"])["class"].count().reset_index(name="boxes")
    fig = px.histogram(per_image, x="boxes", color="split", barmode="overlay", title="boxes per image")
    fig.update_layout(height=320, margin=dict(l=40, r=20, t=40, b=40))
    return fig


def box_centre_figure(boxes: pd.DataFrame) -> go.Figure:
    fig = px.density_heatmap(boxes.dropna(subset=["cx"]), x="cx", y="cy", nbinsx=20, nbinsy=20, title="where box centres fall")
    fig.update_layout(height=340, margin=dict(l=40, r=20, t=40, b=40), xaxis_range=[0, 1], yaxis_range=[1, 0])
    return fig


def zoo_figure(zoo: pd.DataFrame) -> go.Figure:
    fig = px.scatter(zoo, x="gflops", y="CPU ms @320", size="params (M)", color="family", text="name",
                     title="cost of each model: GFLOPs (640) vs measured CPU latency")
    fig.update_traces(textposition="top center")
    fig.update_layout(height=380, margin=dict(l=40, r=20, t=40, b=40))
    return fig


def compare_figure(histories: dict[str, list[dict]], metric: str) -> go.Figure:
    """One line per run: ``metric`` by epoch (run names drawn as text)."""
    fig = go.Figure()
    for run, history in histories.items():
        fig.add_trace(go.Scatter(x=[h["epoch"] for h in history], y=[h.get(metric) for h in history], mode="lines+markers",
                                 name=plot_text(run)))
    fig.update_layout(height=340, margin=dict(l=40, r=20, t=40, b=40), xaxis_title="epoch", yaxis_title=plot_text(metric))
    return fig
