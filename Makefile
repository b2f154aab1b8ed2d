# yolov11 workbench. Two commands do all set-up on a fresh machine:
#   make run    install (first time / when requirements change), demo dataset, serve on :7860
#   make test   the same install + test tools + Debian's Chromium, then the whole suite (two pytest-xdist workers)
#   make image-check  build the container image here (mmdebstrap + buildah) and check it from the inside:
#               minutes and ~30 GB of disk, root; not part of make test (docker/image_check.py)
#   make bench  the same install, then every bench/ script, writing BENCHMARKS.md (an hour or more;
#               `python -m bench --quick` checks the pipeline in about 15 minutes)
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
HOST   ?= 127.0.0.1
PORT   ?= 7860

.PHONY: run test bench chromium clean image-check

# The stamp is newer than requirements.txt once installed: pip runs again only when they change.
$(VENV)/.installed: requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

run: $(VENV)/.installed
	$(PY) -m yolov11 demo
	$(PY) app.py --host $(HOST) --port $(PORT)

# Browser tests drive Debian's Chromium (Playwright cannot download its own browser offline).
chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	else \
		echo "The browser tests need Debian's Chromium at /usr/bin/chromium: run 'sudo apt-get install -y chromium'"; exit 1; \
	fi

test: $(VENV)/.installed-dev chromium
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -n 2 --dist loadfile

# The browser bench (chart_latency) needs Chromium too: `make chromium` first, or it is recorded as failed.
bench: $(VENV)/.installed
	$(PY) -m bench

# Builds FROM a bare Debian base made here, runs the image's CMD and HEALTHCHECK with no network, then removes it all.
image-check:
	$(PYTHON) docker/image_check.py

clean:
	rm -rf $(VENV) .pytest_cache
