"""Export tab: ONNX or TorchScript, verified against eager PyTorch, with a download link."""

from __future__ import annotations

import gradio as gr

import yolov11
from pages.common import GPU_BOUND, AppContext, json_safe, py_args, refreshed, run_choices, same_call, shows_user_errors


def build_export(ctx: AppContext) -> gr.Tab:
    with gr.Tab("Export") as tab:
        with gr.Row():
            run = gr.Dropdown(label="Run", choices=run_choices(ctx), elem_id="export-run", allow_custom_value=True)
            fmt = gr.Radio(["onnx", "torchscript"], value="onnx", label="Format", elem_id="export-format")
            dynamic = gr.Checkbox(label="Dynamic shapes", value=False)
            half = gr.Checkbox(label="FP16", value=False)
        go = gr.Button("Export", variant="primary", elem_id="export-button")
        with gr.Row():
            download = gr.File(label="Exported model", interactive=False, elem_id="export-file")
            report = gr.JSON(label="Verification (vs eager PyTorch)", elem_id="export-report")
        code = gr.Markdown()

    @shows_user_errors
    def export_model(run_id: str, fmt: str, dynamic: bool, half: bool):
        """Export a run's best weights and verify them; returns the file, the report and a snippet."""
        if not run_id:
            raise yolov11.UserError("pick a finished run first")
        r = yolov11.export_model(format=fmt, run=run_id, dynamic=dynamic, half=half, verify=True, workspace=ctx.workspace)
        flags = " --dynamic" * dynamic + " --half" * half
        snippet = same_call(
            f"exported = yolov11.export_model({py_args(format=fmt, run=run_id, dynamic=dynamic, half=half, verify=True)})",
            f"python -m yolov11 export --run {run_id} --format {fmt}{flags} --verify",
        )
        return r["path"], json_safe(r), snippet

    go.click(export_model, [run, fmt, dynamic, half], [download, report, code], api_name="export_model", concurrency_id=GPU_BOUND)
    gr.on([tab.select, ctx.blocks.load], lambda cur: refreshed(run_choices(ctx), cur), run, run, api_visibility="private")
    return tab
