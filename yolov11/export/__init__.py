"""Export: Ultralytics' exporter run on a copy (``exporter``), the check against eager PyTorch
(``verify``) with the one FP32 baseline it and the INT8 guards share (``accuracy``), ONNX INT8
(``quantize``), OpenVINO (``openvino``), the report in words (``explain``) and the deploy bundle
(``bundle`` + the standalone ``deploy/infer.py``)."""
