"""Export tab: ONNX (FP32 / FP16 / INT8, dynamic axes, NMS in the graph), TorchScript or OpenVINO
(FP32 / FP16 / INT8 by NNCF with accuracy control), verified
against eager PyTorch (outputs, detections, mAP, latency), with the model and a deploy bundle to download.
``build_export`` lays the tab out and wires its events; the handlers are the module's functions
(``pages.common.bind`` gives them the app context)."""

from __future__ import annotations

import os

import gradio as gr

import yolov11
from pages.common import GPU_BOUND, AppContext, bind, json_safe, run_choices, same_call, shows_user_errors
from pages.runs import relist_runs
from yolov11 import latency_notes

AXES = {"batch only": "batch", "batch, height, width": "full"}
LATENCY_HEADERS = ["batch", "eager ms", "exported ms", "speed-up"]


def _checks(r: dict) -> str:
    """The verification verdict in a few lines of markdown: the report's own sentences ("checks"),
    which say what each number measures where it looks alarming."""
    v = r.get("verify")
    if not v and not r.get("quantization"):
        return ""
    checked = f", checked on {v['images']} validation image(s)" if v else ""
    return "\n".join([f"**{r['format']} {r['precision']}** ({r['size_mb']} MB){checked}:", *(f"- {line}" for line in r.get("checks", []))])


def snippet_options(options: dict, r: dict) -> dict:
    """The options the "Same in Python / in a shell" snippet shows: those set, as the export applied
    them (the report's values); one the format did not use (simplify for OpenVINO) is left out, as
    the report's "not_applied" says."""
    return {k: v for k, v in options.items() if (v or k in ("format", "run", "simplify")) and k not in r.get("not_applied", {})}


def latency_text(v: dict | None) -> str:
    """What the latency table needs said under it (a speed-up below 1, a batch the export refused)."""
    return "\n".join(f"- {note}" for note in latency_notes(v))


@shows_user_errors
def export_model(ctx: AppContext, run_id: str, fmt: str, dynamic: bool, half: bool, axes: str = "batch, height, width", int8: bool = False,
                 nms: bool = False, opset: float | None = 0, simplify: bool = True):
    """Export a run's best weights, verify them against eager PyTorch and pack a deploy bundle.
    Returns the model, the report, a snippet, the bundle, the latency table and the verdict."""
    if not run_id:
        raise yolov11.UserError("pick a finished run first")
    dyn = AXES.get(axes, "full") if dynamic else False
    options = {"format": fmt, "run": run_id, "dynamic": dyn, "half": half, "int8": int8, "nms": nms, "opset": int(opset) if opset else None,
               "simplify": simplify}
    r = yolov11.export_model(**options, verify=True, workspace=ctx.workspace)
    shown = snippet_options(options, r)
    snippet = same_call(ctx, "export_model", "exported", {**shown, "verify": True}, "export", {**shown, "verify": True})
    rows = [[b, row["eager"], row["exported"], row["speedup"]] for b, row in r["verify"]["latency_ms"]["by_batch"].items()]
    model_file = r["path"] if os.path.isfile(r["path"]) else r["bundle"]  # an OpenVINO IR is a folder: its bundle holds it
    return model_file, json_safe(r), snippet, r["bundle"], rows, _checks(r)


def latency_notes_of(shown: dict | None) -> str:
    """``latency_text`` of the report the export showed (none before one)."""
    return latency_text(shown.get("verify") if shown else None)


def build_export(ctx: AppContext) -> gr.Tab:
    with gr.Tab("Export", id="export") as tab:
        with gr.Row():
            run = gr.Dropdown(label="Run", choices=run_choices(ctx), elem_id="export-run", allow_custom_value=True)
            fmt = gr.Radio(["onnx", "torchscript", "openvino"], value="onnx", label="Format", elem_id="export-format")
            half = gr.Checkbox(label="FP16", value=False)
            int8 = gr.Checkbox(label="INT8 (ONNX or OpenVINO, calibrated on the run's images; "
                                     "OpenVINO keeps the mAP loss within 0.01)", value=False, elem_id="export-int8")
        with gr.Row():
            dynamic = gr.Checkbox(label="Dynamic shapes", value=False)
            axes = gr.Radio(list(AXES), value="batch, height, width", label="Dynamic axes", elem_id="export-axes")
            nms = gr.Checkbox(label="NMS in the graph", value=False, elem_id="export-nms")
            opset = gr.Number(label="ONNX opset (0: newest)", value=0, precision=0, minimum=0, elem_id="export-opset")
            simplify = gr.Checkbox(label="Simplify (onnxslim; ONNX only)", value=True)
        go = gr.Button("Export and verify", variant="primary", elem_id="export-button")
        checks = gr.Markdown(elem_id="export-checks")
        latency = gr.Dataframe(headers=LATENCY_HEADERS, label="Latency (eager PyTorch vs exported)", interactive=False,
                               elem_id="export-latency")
        latency_why = gr.Markdown(elem_id="export-latency-notes")
        with gr.Row():
            download = gr.File(label="Exported model", interactive=False, elem_id="export-file")
            bundle = gr.File(label="Deploy bundle (model, metadata.json, infer.py, README)", interactive=False, elem_id="export-bundle")
        report = gr.JSON(label="Verification report", elem_id="export-report")
        code = gr.Markdown()

    inputs = [run, fmt, dynamic, half, axes, int8, nms, opset, simplify]
    outputs = [download, report, code, bundle, latency, checks]
    (go.click(bind(ctx, export_model), inputs, outputs, api_name="export_model", concurrency_id=GPU_BOUND)
       .success(latency_notes_of, report, latency_why, api_visibility="private"))
    gr.on([tab.select, ctx.blocks.load], bind(ctx, relist_runs), run, run, api_visibility="private")
    return tab
