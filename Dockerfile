# yolov11 workbench. On a GPU host: docker build -t yolov11 . && docker run --gpus all -p 7860:7860 -v yolov11-ws:/workspace yolov11
# (or `docker compose up`: compose.yaml). BASE is any image with python3 and its venv module: the default, a CUDA PyTorch
# image, brings torch and torchvision, which the venv below sees and keeps; on a base without them pip installs them.
# `make image-check` builds this file FROM a bare Debian base and runs the image's checks (docker/image_check.py).
ARG BASE=pytorch/pytorch:2.6.0-cuda12.4-cudnn9-runtime
FROM ${BASE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    YOLOV11_WORKSPACE=/workspace \
    GRADIO_ANALYTICS_ENABLED=False \
    VIRTUAL_ENV=/opt/yolov11 \
    PATH=/opt/yolov11/bin:$PATH

WORKDIR /app
COPY requirements.txt .
# One layer for the heavy step. OpenCV (an Ultralytics dependency) needs libGL and GLib at import time. The venv sees the
# base's packages (--system-site-packages): a CUDA base keeps its own torch, and Debian's Python (which refuses system-wide
# pip installs and has no `python` command) works too. A build that must use its own package indexes mounts a pip.conf as
# the secret "pip.conf" (never copied into the image).
RUN --mount=type=secret,id=pip.conf,target=/etc/pip.conf \
    apt-get update \
    && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv --system-site-packages /opt/yolov11 \
    && /opt/yolov11/bin/python -m pip install --no-cache-dir -r requirements.txt \
    && useradd --create-home --uid 1000 app \
    && mkdir -p /workspace \
    && chown 1000:1000 /workspace
COPY --chown=1000:1000 . .

USER 1000:1000
VOLUME ["/workspace"]
EXPOSE 7860
# "/" answers 200 with or without --auth (with it, /config and the API want a login first).
HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 \
    CMD ["/opt/yolov11/bin/python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:7860/', timeout=4)"]
CMD ["/opt/yolov11/bin/python", "app.py", "--host", "0.0.0.0"]
