"""Export: Ultralytics' exporter run on a copy (``exporter``), the check against eager PyTorch
(``verify``), ONNX INT8 (``quantize``) and the deploy bundle (``bundle`` + the standalone
``deploy/infer.py``)."""
