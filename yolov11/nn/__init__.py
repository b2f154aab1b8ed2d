"""Our network modules (CBAM, heads, ...) and the registry that hands them to Ultralytics."""
