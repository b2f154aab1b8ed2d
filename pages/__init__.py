"""The app's tabs: one module each, ``build_<tab>(ctx)``; they call only yolov11's public API."""
