# yolov11 workbench on a CUDA PyTorch base: docker build -t yolov11 . && docker run --gpus all -p 7860:7860 -v yolov11-ws:/workspace yolov11
FROM pytorch/pytorch:2.6.0-cuda12.4-cudnn9-runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    YOLOV11_WORKSPACE=/workspace \
    GRADIO_ANALYTICS_ENABLED=False

# OpenCV (an Ultralytics dependency) needs libGL and GLib at import time.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt .
# torch/torchvision ranges (torch>=2.6: restricted checkpoint loading) are met by the base image, so pip keeps its CUDA build.
RUN pip install -r requirements.txt

RUN useradd --create-home --uid 1000 app \
    && mkdir -p /workspace \
    && chown 1000:1000 /workspace
COPY --chown=1000:1000 . .

USER 1000:1000
VOLUME ["/workspace"]
EXPOSE 7860
HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:7860/', timeout=4)"]
CMD ["python", "app.py", "--host", "0.0.0.0"]
