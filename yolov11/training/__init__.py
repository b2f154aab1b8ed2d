"""Training: the Ultralytics trainer with callbacks turned into events, and the job queue."""
