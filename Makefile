# Mailshot — `make run` to try it, `make test` to check it.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
UV := $(BIN)/uv
export UV_PROJECT_ENVIRONMENT := $(VENV)
# `make run PORT=8001`, or `make run ADDR=0.0.0.0:8001`; links in mail follow.
PORT ?= 8000
ADDR ?= 127.0.0.1:$(PORT)

# The first Python >= 3.12 on this machine (PATH first, then pyenv's versions).
FIND_PYTHON = for p in python3.12 python3.13 python3.14 python3 \
	  $$HOME/.pyenv/versions/3.1[2-9]*/bin/python3 /usr/local/bin/python3.1[2-9] \
	  /usr/bin/python3.1[2-9]; do \
	  if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; \
	  then command -v $$p; break; fi; done

.PHONY: install run demo test lint format typecheck bench clean messages messages-check prod-check

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml uv.lock
	@PYTHON="$$($(FIND_PYTHON))"; \
	if [ -z "$$PYTHON" ]; then echo "Mailshot needs Python 3.12 or newer; none was found (install python3.12 and retry)." >&2; exit 1; fi; \
	if [ ! -x $(PY) ] || ! $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 12))'; then \
	  echo "Creating $(VENV) with $$PYTHON"; rm -rf $(VENV); "$$PYTHON" -m venv $(VENV); fi
	@$(PY) -m pip install -q --disable-pip-version-check "uv>=0.9,<1"
	@$(UV) sync -q --frozen --python $(PY)
	@# Bytecode once, here: every start of Django (make run starts it four times)
	@# then reads it instead of compiling ~1,000 modules (django.setup(): 2.6 s of
	@# CPU without, 0.6 s with).
	@echo "Compiling bytecode (once)"; $(PY) -m compileall -q -j0 \
	  "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" \
	  apps project bench >/dev/null || true
	@touch $@

# Checks the ports first (a busy one: one line, non-zero exit), writes a development
# .env with a generated secret key when there is none, migrates, loads the demo data
# into an empty database only, starts web + cluster + SMTP sink, prints the URL once
# /healthz answers, and exits non-zero when any of the three stops.
run: install
	@if [ locale/ru/LC_MESSAGES/django.po -nt locale/ru/LC_MESSAGES/django.mo ]; then \
	  DJANGO_DEBUG=1 $(PY) manage.py compilemessages -v0 --ignore=.venv --ignore=var; fi
	@DJANGO_DEBUG=$${DJANGO_DEBUG:-1} DJANGO_HTTPS=$${DJANGO_HTTPS:-0} \
	  $(PY) manage.py rundev --addr "$(ADDR)"

# Puts the demo records back as they were (edits to them are undone; other data stays).
demo: install
	@DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(PY) manage.py migrate --noinput -v0 && \
	  DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(PY) manage.py demo

test: install messages-check typecheck
	$(BIN)/ruff check .
	$(PY) -m pytest $(PYTEST_ARGS)

# mypy with django-stubs, configured in pyproject.toml; its plugin loads the settings,
# hence DJANGO_DEBUG. The cache in .mypy_cache makes a second run take seconds.
typecheck: install
	DJANGO_DEBUG=1 $(BIN)/mypy

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix . && $(BIN)/ruff format .

prod-check: install
	$(PY) deploy/prod_check.py

bench: install
	@$(UV) sync -q --frozen --group bench --python $(PY)
	$(PY) -m bench $(BENCH_ARGS)

# The Russian catalogue: library strings no catalogue translates, then every string of
# the sources (file names, not line numbers, so edits elsewhere keep it current).
messages: install
	DJANGO_DEBUG=1 $(PY) manage.py vendor_strings
	DJANGO_DEBUG=1 $(PY) manage.py makemessages -l ru --ignore=.venv --ignore=var \
	  --ignore=node_modules --no-obsolete --add-location=file
	DJANGO_DEBUG=1 $(PY) manage.py compilemessages --ignore=.venv --ignore=var
	@msgfmt --check --statistics -o /dev/null locale/ru/LC_MESSAGES/django.po

# Fails when a string is untranslated or fuzzy, the .mo is stale, or the sources hold
# strings the catalogue lacks; says to run `make messages`.
messages-check: install
	@DJANGO_DEBUG=1 $(PY) manage.py messages_check

clean:
	rm -rf var/cache var/mail
