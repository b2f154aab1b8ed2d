"""Where the mAP goes, as the Evaluate tab draws it: the AP50 an oracle fix of each error type
alone would add (TIDE's types; ``yolov11.evaluate``'s ``error_breakdown``), overall and per class,
in one chart; and the false positives and negatives by box size. It only draws."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from pages.text import plot_text

SIZE_HEADERS = ["box size", "false positives", "share of FP", "missed objects", "share of missed"]
ERROR_WORDS = {  # each type in a user's words, for the chart's axis
    "classification": "classification (right place, wrong class)",
    "localisation": "localisation (right class, box off)",
    "both": "both (wrong class, box off)",
    "duplicate": "duplicate (a second box on one object)",
    "background": "background (nothing there)",
    "missed": "missed (no box at all)",
}


def error_figure(breakdown: dict | None) -> go.Figure | None:
    """Horizontal bars, one group per error type: the mAP50 gain of fixing it alone (all classes,
    black) and each class's AP50 gain."""
    if not breakdown:
        return None
    kinds = list(ERROR_WORDS)
    fig = go.Figure()
    fig.add_trace(go.Bar(y=[ERROR_WORDS[k] for k in kinds], x=[breakdown["gains"][k] for k in kinds], orientation="h",
                         name="all classes (mAP50)", marker_color="black"))
    for row in breakdown["per_class"]:
        fig.add_trace(go.Bar(y=[ERROR_WORDS[k] for k in kinds], x=[max(row[k], 0.0) for k in kinds], orientation="h",
                             name=f"{plot_text(row['class'])} (AP50 {row['AP50']:.2f})"))
    fig.update_layout(title=f"where the mAP50 goes: {breakdown['mAP50']:.3f} now; what fixing each error type alone would add",
                      barmode="group", height=420, margin=dict(l=60, r=20, t=50, b=40), xaxis_title="AP50 added (TIDE oracle)",
                      yaxis=dict(autorange="reversed"), legend=dict(title="click to hide / show"))
    return fig


def size_table(breakdown: dict | None) -> pd.DataFrame:
    """False positives and missed objects per COCO box size (small < 32x32 px, medium < 96x96, large), with shares."""
    if not breakdown:
        return pd.DataFrame(columns=SIZE_HEADERS)
    fp, fn = breakdown["by_size"]["false_positives"], breakdown["by_size"]["false_negatives"]
    share = lambda part, whole: round(part / whole, 3) if whole else 0.0  # noqa: E731
    return pd.DataFrame([[size, fp[size], share(fp[size], sum(fp.values())), fn[size], share(fn[size], sum(fn.values()))]
                         for size in fp], columns=SIZE_HEADERS)
