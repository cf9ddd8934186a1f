# `make run` starts the console in demo mode; `make test` runs the whole suite. Both install what they need.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUNTIME := $(VENV)/.installed-runtime
DEV := $(VENV)/.installed-dev

.PHONY: run test test-fast lint format bench chromium wrk clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(RUNTIME): requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(RUNTIME)

$(DEV): requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(RUNTIME) $(DEV)

run: $(RUNTIME)
	$(PY) -m services.stack

# Browser tests drive Debian's chromium; Playwright's own browser download does not work offline. The emoji font
# lets screenshots show the status icons as operators' browsers do.
BROWSER_PACKAGES := chromium fonts-noto-color-emoji
chromium:
	@{ command -v chromium >/dev/null 2>&1 && [ -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ]; } || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BROWSER_PACKAGES); \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BROWSER_PACKAGES); fi; }

# The receiver benchmark drives its servers with Debian's wrk, a load generator in C that costs them little CPU.
wrk:
	@command -v wrk >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; fi; }

lint: $(DEV)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports

format: $(DEV)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

# Most of the suite waits on subprocesses, servers and chromium, so three workers pay on two cores (four ran faster
# but made browser waits time out under load); a file's tests stay on one worker, where its module-scoped hub or
# stack is started once. PYTEST_WORKERS=0 runs them in this process.
PYTEST_WORKERS ?= 3
test: $(DEV) chromium wrk lint
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile

# The quick loop while working: no browser, no multi-process tests.
test-fast: $(DEV) lint
	$(PY) -m pytest -n 2 --dist loadfile -m "not browser and not processes"

bench: $(DEV) chromium wrk
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .import_linter_cache
