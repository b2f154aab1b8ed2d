"""ONNX exports after Ultralytics' exporter: a fully dynamic graph pinned to batch-only
(``formats``' "pin" hook for ``--dynamic batch``)."""

from __future__ import annotations

from pathlib import Path

from yolov11.compat.export import mark_not_dynamic


def pin_image_size(path: Path, imgsz: int, simplify: bool, half: bool = False) -> None:
    """A fully dynamic ONNX -> batch-only: fix height and width, let onnxslim fold the anchor
    grid into constants (when ``simplify``: without it the grid is computed from the fixed height
    and width at run time, the same numbers), and tell Ultralytics' loader the file is not fully dynamic."""
    import onnx

    model = onnx.load(str(path))
    for dim in list(model.graph.input[0].type.tensor_type.shape.dim)[2:]:
        dim.ClearField("dim_param")
        dim.dim_value = imgsz
    props = {p.key: p for p in model.metadata_props}
    if simplify:
        import onnxslim

        model = onnxslim.slim(model)
    del model.metadata_props[:]
    model.metadata_props.extend(props.values())
    # Ultralytics' loader takes a named output batch axis (or "dynamic" in the metadata) for fully
    # dynamic and then letterboxes to minimal rectangles, which this model refuses: its batch axis
    # stays unnamed (still any size, and onnxruntime infers the output's as unnamed too) and the
    # metadata says dynamic=False, so Ultralytics loads it as a fixed-imgsz model.
    for value in (model.graph.input[0], model.graph.output[0]):
        value.type.tensor_type.shape.dim[0].ClearField("dim_param")
    del model.graph.value_info[:]  # intermediate shape notes still naming "batch"; onnxruntime re-infers them
    mark_not_dynamic(model)
    onnx.save(model, str(path))
