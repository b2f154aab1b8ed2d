"""Our network modules (CBAM, AttnDetect, SPPFWide) and the checks every model graph passes;
yolov11.compat.registry hands the modules to Ultralytics' YAML parser."""
