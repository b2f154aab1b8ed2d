"""The Train tab's "several GPUs or machines" panel: the torchrun command each node runs.

Several GPUs on this machine need nothing more than a device list such as ``0,1`` (Start
launches torchrun itself). For several machines, this panel writes each node's command; node
0's records the run in this workspace, the others only train.
"""

from __future__ import annotations

import gradio as gr

import yolov11
from pages.common import AppContext, bind, shows_user_errors
from yolov11 import gpu_ids


@shows_user_errors
def torchrun_commands(ctx: AppContext, dataset: str, model: str, device: str, epochs: float, imgsz: float, batch: float, nnodes: float,
                      addr: str, port: float) -> str:
    """Each node's torchrun command for training ``model`` on ``dataset`` with the GPUs of
    ``device`` on every node; one line per node, node 0 first."""
    gpus = max(len(gpu_ids(device or "cpu")), 1)
    launch = yolov11.Launch(nproc_per_node=gpus, nnodes=int(nnodes or 1), master_addr=(addr or "").strip(),
                            master_port=int(port or 0))
    plan = yolov11.torchrun_plan(dataset or "", model, launch, workspace=ctx.workspace, device=device or "cpu", epochs=int(epochs),
                                 imgsz=int(imgsz), batch=int(batch))
    return "\n".join(f"# node {k} of {plan['nnodes']} ({plan['world_size']} processes in all)\n{c}" for k, c in enumerate(plan["commands"]))


def build_cluster(ctx: AppContext, dataset: gr.Dropdown, model: gr.Dropdown, device: gr.Textbox,
                  basics: list[gr.components.Component]) -> None:
    """``basics``: the epochs, imgsz and batch inputs, which the commands carry."""
    with gr.Accordion("Several GPUs or machines (torchrun)", open=False):
        gr.Markdown("On one machine, a device list such as `0,1` trains on those GPUs through torchrun, one process each. "
                    "For several machines, fill this in and run each node's command on that node "
                    "(a shared filesystem keeps datasets and runs in one place).")
        with gr.Row():
            nnodes = gr.Number(value=2, precision=0, minimum=1, label="Machines (nodes)", elem_id="cluster-nnodes")
            addr = gr.Textbox(value="node0.example", label="Node 0 address", elem_id="cluster-addr")
            port = gr.Number(value=29500, precision=0, minimum=1, maximum=65535, label="Port on node 0")
        show = gr.Button("Show the commands", elem_id="cluster-show")
        commands = gr.Code(label="Run on each node", language="shell", interactive=False, elem_id="cluster-commands")

    show.click(bind(ctx, torchrun_commands), [dataset, model, device, *basics, nnodes, addr, port], commands, api_name="torchrun_commands")
