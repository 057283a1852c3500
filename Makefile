# The two commands a newcomer needs: `make run` and `make test`.
# Each sets up whatever is missing first (virtual environment from requirements.lock).

PYTHON ?= python3
VENV   := .venv
STAMP  := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test bench lint lock clean-venv doc-images screenshots

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Folio needs Python >= 3.11")'
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -r requirements.lock
	$(VENV)/bin/python -m pip install --quiet --no-deps -e .
	@rm -f $(VENV)/.installed-*
	@touch $@

run: $(STAMP)
	$(VENV)/bin/folio serve

test: $(STAMP)
	@bash scripts/run-tests

bench: $(STAMP)
	$(VENV)/bin/python -m bench

# The before/after pictures of docs/renditions.md (rendered by the engine, from a seed).
doc-images: $(STAMP)
	$(VENV)/bin/python scripts/render-doc-images

# Screenshots of the web UI (docs/screenshots/, for README.md and docs/user-guide.md): the main
# journeys in Debian's Chromium against a freshly seeded demo server. Not part of `make test`.
screenshots: $(STAMP)
	$(VENV)/bin/python scripts/screenshots

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Re-pin requirements.lock after changing dependencies in pyproject.toml.
lock: $(STAMP)
	$(VENV)/bin/python -m pip install --quiet uv
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --python-version 3.11 --no-header -o requirements.lock

clean-venv:
	rm -rf $(VENV)
