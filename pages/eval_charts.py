"""Plotly figures and tables of the Evaluate tab; they only draw what yolov11.evaluate computed.
Class and run names reach plotly through ``plot_text`` (plotly reads HTML in labels)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from pages.text import plot_text

_LAYOUT = dict(height=380, margin=dict(l=50, r=20, t=40, b=40), legend=dict(title="click to hide / show"))
CURVE_TITLES = {
    "f1_confidence": ("F1 by confidence threshold", "F1"),
    "precision_confidence": ("precision by confidence threshold", "precision"),
    "recall_confidence": ("recall by confidence threshold", "recall"),
}


COCO_HEADERS = ["COCO metric", "value"]
NOT_DEFINED = "n/a"


def _coco_value(v: float):
    """A COCO number as shown: the evaluator's -1 (no ground truth in that area range, so the
    number is undefined) as "n/a"; the JSON results keep the -1."""
    return NOT_DEFINED if v is None or v < 0 else round(v, 4)


def coco_table(result: dict) -> pd.DataFrame:
    """The 12 COCO numbers, one row each ("n/a": no ground truth in that area range)."""
    return pd.DataFrame({COCO_HEADERS[0]: list(result["coco"]), COCO_HEADERS[1]: [_coco_value(v) for v in result["coco"].values()]})


def _mean_trace(x, rows, name: str) -> go.Scatter:
    return go.Scatter(x=x, y=np.mean(rows, 0) if len(rows) else [], name=name, mode="lines", line=dict(width=4, color="black"))


def pr_figure(curves: dict) -> go.Figure:
    """Precision-recall at IoU 0.5, one line per class (AP50 in the legend) and their mean."""
    fig = go.Figure()
    for name, ap, row in zip(curves["classes"], curves["ap50"], curves["precision_recall"]):
        fig.add_trace(go.Scatter(x=curves["x"], y=row, name=f"{plot_text(name)} {ap:.3f}", mode="lines"))
    mean_ap = np.mean(curves["ap50"]) if curves["ap50"] else 0.0
    fig.add_trace(_mean_trace(curves["x"], curves["precision_recall"], f"all classes {mean_ap:.3f} mAP50"))
    fig.update_layout(title="precision-recall (IoU 0.5)", xaxis_title="recall", yaxis_title="precision",
                      xaxis_range=[0, 1], yaxis_range=[0, 1.02], **_LAYOUT)
    return fig


def confidence_figure(curves: dict, kind: str = "f1_confidence") -> go.Figure:
    """F1 (or precision, recall) against the confidence threshold, per class and on average;
    the average's peak, marked, is the confidence to deploy with if errors of both kinds cost alike."""
    title, label = CURVE_TITLES[kind]
    rows = curves[kind]
    fig = go.Figure()
    for name, row in zip(curves["classes"], rows):
        fig.add_trace(go.Scatter(x=curves["x"], y=row, name=plot_text(name), mode="lines"))
    if rows:
        mean = np.mean(rows, 0)
        best = int(mean.argmax())
        fig.add_trace(_mean_trace(curves["x"], rows, f"all classes {mean[best]:.2f} at {curves['x'][best]:.3f}"))
        fig.add_vline(x=curves["x"][best], line_dash="dot")
    fig.update_layout(title=title, xaxis_title="confidence", yaxis_title=label, xaxis_range=[0, 1], yaxis_range=[0, 1.02], **_LAYOUT)
    return fig


def confusion_figure(confusion: dict, normalised: bool = False) -> go.Figure:
    """Heatmap of predicted (rows) against true (columns) class, background last. Normalised
    divides each column by its total, as Ultralytics' confusion_matrix_normalized.png does: the
    share of each true class that ended up as each prediction. The title says the thresholds
    the matrix was counted at (its "rule")."""
    m = np.asarray(confusion["matrix"], float)
    z = m / (m.sum(0, keepdims=True) + 1e-9) if normalised else m
    text = [[f"{v:.2f}" if normalised else f"{int(v)}" for v in row] for row in z]
    names = [plot_text(n) for n in confusion["names"]]
    fig = go.Figure(go.Heatmap(z=z, x=names, y=names, text=text, texttemplate="%{text}", colorscale="Blues",
                               hovertemplate="true %{x}<br>predicted %{y}<br>%{text}<extra></extra>"))
    title = "confusion matrix" + (" (share of each true class)" if normalised else " (counts)")
    if confusion.get("rule"):
        title += f"<br><sup>{_wrapped(confusion['rule'])}</sup>"
    fig.update_layout(title=title, xaxis_title="true", yaxis_title="predicted", yaxis_autorange="reversed", height=460,
                      margin=dict(l=60, r=20, t=90, b=50))
    return fig


def _wrapped(text: str, width: int = 95) -> str:
    """``text`` broken into lines of about ``width`` characters for a plotly title (each shown as written)."""
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + len(word) >= width:
            lines.append(line)
            line = ""
        line = f"{line} {word}".strip()
    return "<br>".join(plot_text(each) for each in [*lines, line])


def compare_pr_figure(curves_by_run: dict[str, dict]) -> go.Figure:
    """The all-classes precision-recall curve of each run, overlaid."""
    fig = go.Figure()
    for run, curves in curves_by_run.items():
        rows = curves["precision_recall"]
        mean_ap = np.mean(curves["ap50"]) if curves["ap50"] else 0.0
        name = f"{plot_text(run)} {mean_ap:.3f} mAP50"
        fig.add_trace(go.Scatter(x=curves["x"], y=np.mean(rows, 0) if rows else [], name=name, mode="lines"))
    fig.update_layout(title="precision-recall (IoU 0.5), all classes", xaxis_title="recall", yaxis_title="precision",
                      xaxis_range=[0, 1], yaxis_range=[0, 1.02], **_LAYOUT)
    return fig


GAIN = "gain (B − A)"


def _gain(a: object, b: object) -> float | str:
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b))
    return round(b - a, 4) if numbers else ""


def compare_table(results: dict[str, dict], datasets: dict[str, str] | None = None, same: dict | None = None) -> pd.DataFrame:
    """Metrics side by side: one column per run; the dataset (version) each trained on, when
    given, then overall, COCO and per-class mAP50-95. With ``same`` (``yolov11.same_ground_truth``
    of the two runs' datasets), a row saying whether the split holds the same images and labels
    for both, and a last column with the gain B − A where it does (else no gain is shown: the
    numbers are of different ground truth)."""
    rows: dict[str, dict] = {"dataset": dict(datasets)} if datasets else {}
    if same is not None and datasets:
        rows[f"{same['split']} images"] = {run: same["images"].get(datasets[run]) for run in results}
    for run, r in results.items():
        for k, v in r["metrics"].items():
            rows.setdefault(k, {})[run] = v
        for k, v in r["coco"].items():
            rows.setdefault(f"COCO {k}", {})[run] = _coco_value(v)
        for c in r["per_class"]:
            rows.setdefault(f"{c['class']} mAP50-95", {})[run] = c["mAP50-95"]
    df = pd.DataFrame.from_dict(rows, orient="index", columns=list(results))
    df = df.map(lambda v: round(v, 4) if isinstance(v, float) else v)  # column by column would skip a column holding "n/a"
    if same is not None and len(results) == 2:
        a, b = list(results)
        df[GAIN] = [_gain(x, y) if same["same"] else "" for x, y in zip(df[a], df[b])]
        verdict = {True: "same images and labels: B − A is the gain", False: "different images or labels: no gain shown",
                   None: "not known (a dataset outside the workspace)"}[same["same"]]
        if f"{same['split']} images" in df.index:
            df.loc[f"{same['split']} images", GAIN] = verdict
    return df.rename_axis("metric").reset_index()


def tiled_rows(tiled: dict, runs: list[str]) -> pd.DataFrame:
    """Rows to append to ``compare_table`` when a run trained on tiles (``yolov11.tiled_comparison``):
    both runs on the untiled dataset's full frames, tile by tile and in one pass, one COCO evaluator;
    a first row says so, or says the frames differ."""
    a, b = runs
    where = f"full {tiled['split']} frames of {tiled['data']}"
    if not tiled["results"]:
        verdict = {False: "different images or labels: no gain shown", None: "not known (a dataset outside the workspace)"}
        return pd.DataFrame([{"metric": "tiled run: compared on", a: where, b: where, GAIN: verdict[tiled["same"]["same"]]}])
    sizes = {run: f"tiles of {s['size']} px, overlap {s['overlap']:g}" for run, s in tiled["slicing"].items()}
    rows = [{"metric": "tiled run: compared on", a: f"{where}, {sizes[a]}", b: f"{where}, {sizes[b]}",
             GAIN: f"both scored by {tiled['evaluator']} (COCO): B − A is the gain"}]
    for label, pick in (("tile by tile", lambda r: r["metrics"]), ("one pass", lambda r: r["unsliced"]["metrics"])):
        for key in pick(tiled["results"][a]):
            x, y = pick(tiled["results"][a])[key], pick(tiled["results"][b])[key]
            x, y = (round(v, 4) if isinstance(v, float) else v for v in (x, y))
            rows.append({"metric": f"full frames, {label}: {key}", a: x, b: y, GAIN: _gain(x, y)})
    return pd.DataFrame(rows)


def advice_rows(outcome: dict, runs: list[str]) -> pd.DataFrame:
    """A row to append to ``compare_table`` when one run's data followed the other's advice
    (``yolov11.advice_outcome``): what the advice predicted and what the retrain measured."""
    a, b = runs
    advised, retrained = outcome["advised_run"], outcome["run"]
    predicted = "not estimated" if outcome["predicted"] is None else f"predicted {outcome['predicted']:+.4f}"
    measured = f"measured {outcome['measured']:+.4f}" if outcome["comparable"] else "not comparable"
    cells = {advised: f"advised {outcome['kind']}: {predicted}", retrained: f"on {outcome['version']}: {measured}"}
    return pd.DataFrame([{"metric": "advice followed (mAP50-95)", a: cells.get(a, ""), b: cells.get(b, ""), GAIN: outcome["how"]}])
