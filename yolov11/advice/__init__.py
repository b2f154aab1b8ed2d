"""What to fix next: ranked actions with their expected gain in mAP50-95 (advisor.py), the advice a
dataset version followed (followed.py) and what it bought (outcome.py). Import the modules: this
package's ``__init__`` imports nothing, so the data modules that record advice stay light."""
