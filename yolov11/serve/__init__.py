"""Using a trained model: ``predict`` (detections and drawings from .pt, .onnx or .torchscript)
and ``publish`` (the model the app's /demo page shows)."""
