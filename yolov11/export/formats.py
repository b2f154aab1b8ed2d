"""Every export format in one place: its name, the file or folder it makes, what it supports, the
arguments Ultralytics' exporter gets for it, the package its runtime needs, and how its model
is found and checked on disk.

The exporter, verification (``load_runner``), predict, publish, the bundle, the CLI's
``--format`` choices, the Export and Predict tabs and the docs all read this table; an unknown
format is a UserError naming the known ones. The runtime loader of each format is the bundle's
own ``deploy/infer.py`` (``RUNTIMES``, ``MODEL_NAMES``): verification times and compares exports
through the very code a deployment runs.

Adding a format: an entry here, and its runtime in ``deploy/infer.py`` (a loader function, its
``MODEL_NAMES`` and ``RUNTIMES`` rows); requirements, docs and tests aside.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from yolov11.compat import offline
from yolov11.errors import UserError
from yolov11.export.deploy import infer


@dataclass(frozen=True)
class ExportFormat:
    """One export format. ``dynamic``: the dynamic modes it takes ("batch", "full"); ``half``: FP16
    "" (not offered), "any" or "gpu" (needs one); ``int8``: how INT8 is made ("" not offered);
    ``nms``: NMS inside the graph offered; ``int8_nms``: both together; ``opset`` and ``simplify``:
    ONNX's options; ``runtime``: the pip package that runs it (the bundle's README and infer.py name
    it); ``inside``: the files a folder model must hold; ``io``: its input and output names; ``converts``: how Ultralytics makes it, in
    words; ``fp16_note``: what FP16 means for it when not the usual. Hooks, as "module:function"
    (imported when used): ``pin`` makes a fully dynamic export batch-only (``--dynamic batch``);
    ``quantize`` is the exporter's INT8 step."""

    name: str
    label: str
    help: str
    runtime: str
    dynamic: tuple[str, ...] = ()
    half: str = ""
    int8: str = ""
    nms: bool = False
    int8_nms: bool = True
    opset: bool = False
    simplify: bool = False
    inside: tuple[str, ...] = ()
    converts: str = "traces the PyTorch model"
    fp16_note: str = ""
    io: tuple[str, str] = ("images", "output0")
    pin: str = ""
    quantize: str = ""

    @property
    def suffix(self) -> str:
        """What Ultralytics names the export: a file suffix, or a folder's name ending."""
        file_suffix, folder_suffix = infer.MODEL_NAMES[self.name]
        return folder_suffix or file_suffix

    @property
    def folder(self) -> bool:
        return bool(infer.MODEL_NAMES[self.name][1])

    def hook(self, name: str) -> Callable | None:
        """The ``pin`` or ``quantize`` function, imported now (None when the format has none)."""
        spec = getattr(self, name)
        if not spec:
            return None
        module, function = spec.split(":")
        return getattr(importlib.import_module(module), function)

    def exporter_args(self, opset: int | None, simplify: bool) -> dict:
        """The Ultralytics exporter arguments only this format takes."""
        return {"opset": opset, "simplify": simplify} if self.opset else {}

    def check(self, path: Path, field: str = "--weights") -> Path:
        """``path`` as this format's model (a folder model: the folder, also when its inner file is
        given), refused with a UserError naming ``field`` when it is not one."""
        path = model_path(path)
        if not self.folder:
            if not path.is_file():
                raise UserError(f"{field} {path.name}: no such file")
            return path
        missing = [pattern for pattern in self.inside if not path.is_dir() or not any(path.glob(pattern))]
        if missing:
            raise UserError(f"{field} {path.name}: not an {self.label} folder (no {' or '.join(missing)} inside)")
        return path


FORMATS: dict[str, ExportFormat] = {
    f.name: f
    for f in (
        ExportFormat("onnx", "ONNX", "ONNX (onnxruntime; FP16, INT8, NMS in the graph, dynamic batch or shapes)", "onnxruntime",
                     dynamic=("batch", "full"), half="any", int8="onnxruntime static quantization", nms=True, opset=True, simplify=True,
                     pin="yolov11.export.onnx_graph:pin_image_size", quantize="yolov11.export.quantize:export_int8"),
        ExportFormat("torchscript", "TorchScript", "TorchScript (torch.jit; FP16 on a GPU)", "torch",
                     dynamic=("batch", "full"), half="gpu", nms=True),
        ExportFormat("openvino", "OpenVINO", "OpenVINO IR (an IR folder: .xml, .bin, metadata.yaml; FP16, INT8 by NNCF)", "openvino",
                     dynamic=("batch", "full"), half="any", int8="NNCF", nms=True, int8_nms=False, inside=("*.xml",),
                     converts="converts the PyTorch model to an IR directly",
                     fp16_note=("Ultralytics' exporter: OpenVINO IR with FP16-compressed weights "
                                "(the CPU plugin computes in f32; float32 inputs and outputs)"),
                     pin="yolov11.export.openvino:pin_image_size", quantize="yolov11.export.openvino:export_int8"),
        ExportFormat("ncnn", "NCNN", "NCNN (a folder: .param, .bin, metadata.yaml; phones, Raspberry Pi and ARM boards; FP32, fixed input)",
                     "ncnn", inside=("*.param", "*.bin"), converts="traces the PyTorch model (PNNX)", io=("in0", "out0")),
    )
}


def get(name: str, field: str = "--format") -> ExportFormat:
    """The format called ``name``; UserError naming the known ones otherwise."""
    if name not in FORMATS:
        raise UserError(f"{field} {name}: choose one of {', '.join(FORMATS)}")
    return FORMATS[name]


def model_path(path: str | Path) -> Path:
    """A model as it is loaded: a file, or a folder model (given its inner .xml or .param: the folder)."""
    path = Path(path).expanduser()
    for fmt in FORMATS.values():
        inner, folder = infer.MODEL_NAMES[fmt.name]
        if folder and path.suffix == inner and path.parent.name.endswith(folder):
            return path.parent
    return path


def of_path(path: str | Path) -> ExportFormat | None:
    """The export format of a model path by its name (None: not an export, e.g. a .pt)."""
    try:
        return FORMATS[infer.model_format(model_path(path))]
    except (ValueError, KeyError):
        return None


def model_names() -> list[str]:
    """How each format's model is named on disk (".onnx", "*_openvino_model/", ...): what messages
    and upload pickers list."""
    return [f"*{f.suffix}/" if f.folder else f.suffix for f in FORMATS.values()]


def load_runner(path: Path, fmt: str, device: str = "cpu", threads: int = 0):
    """A callable (N, 3, h, w) float32 numpy -> first output as float32 numpy, and a label of the
    runtime: the bundle's own loader (``deploy/infer.py``) for the format."""
    runtime = get(fmt).runtime
    if runtime == "onnxruntime":
        import onnxruntime as ort

        where = (
            "CUDAExecutionProvider" if device == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers()
            else "CPUExecutionProvider"
        )
    else:
        where = {"torch": device}.get(runtime, "CPU")
    label = {"torch": "torch.jit"}.get(runtime, runtime)
    return infer.RUNTIMES[fmt](Path(path), device, threads), f"{label} {where}"


offline.when_prepared(infer.openvino_telemetry_off)  # import openvino / convert_model report to Google Analytics otherwise
