"""What the Predict tab and the /demo page show of a video's result (yolov11.predict_video): the
distinct objects per class, and detections per class over the video's time. They only draw what
the core computed (class names as text: ``pages.text``)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from pages.text import md_text, plot_text

COUNT_COLUMNS = ["class", "objects"]


def counts_table(result: dict) -> pd.DataFrame:
    """One row per class: how many distinct objects (tracks) the video showed, most first."""
    rows = sorted(result["counts"].items(), key=lambda kv: (-kv[1], kv[0]))
    return pd.DataFrame(rows, columns=COUNT_COLUMNS)


def counts_sentence(result: dict) -> str:
    """The counts in words, for people who don't read tables."""
    counts = counts_table(result)
    if counts.empty:
        return f"Nothing found in {result['duration_s']:.1f} s of video at {result['conf']:.0%} confidence or more. Try a lower confidence."
    total = int(counts["objects"].sum())
    parts = ", ".join(f"{n} {md_text(name)}" for name, n in counts.itertuples(index=False))
    return f"Found {total} distinct object{'s' if total > 1 else ''} in {result['duration_s']:.1f} s of video: {parts}."


def warning_note(result: dict) -> str:
    """The result's warning (a file that ends early) as a bold line above what was found, or ""."""
    return f"**Note: {md_text(result['warning'])}.**\n\n" if result.get("warning") else ""


def detections_over_time_figure(result: dict) -> go.Figure:
    """Detections per class in each frame, against the frame's time (s): a line per class, so a
    count that holds steady is an object in view, a dip a frame where the model missed it."""
    classes = sorted({d["class"] for f in result["per_frame"] for d in f["detections"]})
    times = [f["t"] for f in result["per_frame"]]
    fig = go.Figure()
    for name in classes:
        per_frame = [sum(d["class"] == name for d in f["detections"]) for f in result["per_frame"]]
        fig.add_trace(go.Scatter(x=times, y=per_frame, name=plot_text(name), mode="lines", line_shape="hv"))
    most = max([max(tr.y) for tr in fig.data] + [1])
    fig.update_xaxes(title_text="time in the video (s)", range=[0, max(times + [result["duration_s"]])])
    fig.update_yaxes(title_text="detections", range=[0, most + 0.5], dtick=1 if most <= 10 else None)
    fig.update_layout(title="detections per class over time", height=320, margin=dict(l=40, r=20, t=40, b=40),
                      legend=dict(orientation="h", y=-0.25))
    return fig
