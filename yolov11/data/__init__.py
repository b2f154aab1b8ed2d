"""Dataset intake: safe unzip, format detection and conversion, health report, demo set."""
