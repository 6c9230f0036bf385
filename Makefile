# veille: the two commands a newcomer needs are `make demo` and `make test`.
# Both create .venv when missing, install the locked dependencies and Chromium,
# then run. Re-running them installs nothing that is already there.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | sha256sum | cut -c1-16)

.PHONY: demo test lint install chromium bench clean

demo: install chromium
	$(BIN)/veille demo

test: install chromium
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -p no:cacheprovider

lint: install
	$(BIN)/ruff check .

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@if command -v uv >/dev/null 2>&1; then \
	    uv pip install --python $(BIN)/python -q -r requirements.lock && \
	    uv pip install --python $(BIN)/python -q --no-deps -e . ; \
	else \
	    $(BIN)/python -m pip install -q --disable-pip-version-check uv && \
	    $(BIN)/uv pip install --python $(BIN)/python -q -r requirements.lock && \
	    $(BIN)/uv pip install --python $(BIN)/python -q --no-deps -e . ; \
	fi
	@rm -f $(VENV)/.installed-*
	@touch $@

# Debian's Chromium when we are root; Playwright's own browser otherwise.
chromium:
	@if [ -x "$${VEILLE_CHROMIUM:-/usr/bin/chromium}" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core) >/dev/null; \
	else \
	    $(BIN)/playwright install chromium; \
	fi

bench: install chromium
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
