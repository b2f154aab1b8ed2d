"""The compare section of the Evaluate tab: two runs' saved evaluations side by side (metrics
table and overlaid precision-recall curves) with the gain B − A where both scored on the same
images and labels (``yolov11.same_ground_truth``); a run not yet evaluated on the split is evaluated.
Where a run trained on tiles, both are also scored on the untiled frames (``yolov11.tiled_comparison``);
where one run's data followed the other's advice, a row says what it predicted and what was measured."""

from __future__ import annotations

import gradio as gr
import pandas as pd

import yolov11
from pages.common import GPU_BOUND, AppContext, bind, relisted, run_choices, shows_user_errors
from pages.eval_charts import GAIN, advice_rows, compare_pr_figure, compare_table, tiled_rows


@shows_user_errors
def compare(ctx: AppContext, run_a: str, run_b: str, split: str):
    """Metrics of two runs side by side and their PR curves overlaid (evaluating a run first if needed)."""
    runs = [r for r in dict.fromkeys([run_a, run_b]) if r]
    if len(runs) < 2:
        raise yolov11.UserError("pick two different runs to compare")
    ws = ctx.workspace
    results = {r: yolov11.saved_evaluation(r, split, workspace=ws) or yolov11.evaluate(run=r, split=split, workspace=ws) for r in runs}
    curves = {r: yolov11.evaluation_curves(res["dir"], ws) for r, res in results.items()}
    datasets = {r: (ws.run(r) or {}).get("dataset") or "" for r in runs}  # a version's runs say which version
    same = yolov11.same_ground_truth(datasets[runs[0]], datasets[runs[1]], split, workspace=ws)
    table = compare_table(results, datasets, same)
    tiled = yolov11.tiled_comparison(runs[0], runs[1], split, workspace=ws)
    if tiled is not None:
        table = pd.concat([table, tiled_rows(tiled, runs)], ignore_index=True)
    for first, second in (runs, runs[::-1]):  # one run's data followed the other's advice: predicted against measured
        outcome = yolov11.advice_outcome(second, split, workspace=ws)
        if outcome is not None and outcome["advised_run"] == first:
            table = pd.concat([table, advice_rows(outcome, runs)], ignore_index=True)
    return table, compare_pr_figure(curves)


def relist_compared_runs(ctx: AppContext, a: str | None, b: str | None):
    """The section opened: both run pickers' lists refreshed (``relisted``)."""
    return relisted(run_choices(ctx), a), relisted(run_choices(ctx), b)


def build_compare(ctx: AppContext) -> None:
    with gr.Accordion("Compare two runs", open=False) as section:
        with gr.Row():
            first = gr.Dropdown(label="Run A", choices=run_choices(ctx), allow_custom_value=True, elem_id="compare-a")
            second = gr.Dropdown(label="Run B", choices=run_choices(ctx), allow_custom_value=True, elem_id="compare-b")
            split = gr.Radio(["val", "test", "train"], value="val", label="Split")
        go = gr.Button("Compare", elem_id="compare-button")
        table = gr.Dataframe(headers=["metric", "run A", "run B", GAIN], interactive=False, elem_id="compare-table",
                             label="Side by side (n/a: no objects of that size; a gain only where both score on the same images, labels)")
        chart = gr.Plot(label="Precision-recall, all classes", elem_id="compare-pr")

    go.click(bind(ctx, compare), [first, second, split], [table, chart], api_name="compare_runs", concurrency_id=GPU_BOUND)
    section.expand(bind(ctx, relist_compared_runs), [first, second], [first, second], api_visibility="private")
