# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum requirements.txt | cut -c1-12)
CATALOGS := $(wildcard portal/translations/*/LC_MESSAGES/messages.po)

.PHONY: setup run lint test browser-deps bench bench-dashboard bench-pages translations extract-messages vendor-uppy clean

setup: $(STAMP) translations

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-*
	touch $@

translations: $(CATALOGS:.po=.mo)

%.mo: %.po $(STAMP)
	$(VENV)/bin/pybabel compile --use-fuzzy -i $< -o $@ 2>/dev/null

## Serve the portal with SQLite, an embedded S3 server and demo data under instance/.
run: setup
	PORTAL_ENV=development $(PY) -m portal.dev.server

## Lint with ruff (rules in pyproject.toml) and check security with bandit, which fails on
## medium or high severity; a deliberate exception is an inline `# nosec BXXX  # why`.
lint: setup
	$(VENV)/bin/ruff check --quiet .
	$(VENV)/bin/bandit --quiet --severity-level medium -r portal config.py wsgi.py gunicorn.conf.py

## Run the whole suite (PostgreSQL when PORTAL_TEST_DATABASE_URL is set, SQLite otherwise).
## The browser tests (tests/browser/) also need PostgreSQL and `make browser-deps`;
## without them they are skipped and the run ends by saying so.
test: setup
	$(PY) -m pytest -q

## Install from Debian what the browser and scanning tests need (as root), only what is
## missing (chromium, nginx, openssl; clamd and sigtool from clamav-daemon); fail if
## anything is still missing afterwards.
browser-deps:
	@need=""; \
	test -x /usr/bin/chromium || need="$$need chromium"; \
	test -x /usr/bin/chromedriver || need="$$need chromium-driver"; \
	command -v nginx >/dev/null || test -x /usr/sbin/nginx || need="$$need nginx"; \
	command -v openssl >/dev/null || need="$$need openssl"; \
	test -x /usr/sbin/clamd && command -v sigtool >/dev/null || need="$$need clamav-daemon clamav"; \
	if [ -n "$$need" ]; then \
	  echo "browser-deps: installing$$need from Debian"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends $$need; \
	fi; \
	test -x /usr/bin/chromium && test -x /usr/bin/chromedriver \
	  && { command -v nginx || test -x /usr/sbin/nginx; } >/dev/null \
	  && command -v openssl >/dev/null && test -x /usr/sbin/clamd && command -v sigtool >/dev/null \
	  || { echo "browser-deps: chromium, chromium-driver, nginx, openssl or clamav-daemon is still missing" >&2; exit 1; }

## Time uploads and downloads through gunicorn against plain boto3 (see bench/upload.py).
bench: setup
	$(PY) bench/upload.py

## Time the firm's dashboard at 200 and 5,000 cases against a trivial page (see bench/dashboard.py;
## also on PostgreSQL when PORTAL_BENCH_DATABASE_URL is set).
bench-dashboard: setup
	$(PY) bench/dashboard.py

## Load the pages with 10 and 50 concurrent users (locust, installed from bench/requirements.txt)
## against a firm seeded by `flask seed-scale`, under gunicorn (see bench/pages.py; on
## PostgreSQL when PORTAL_BENCH_DATABASE_URL is set).
bench-pages: setup
	$(PY) -m pip install --quiet -r bench/requirements.txt
	$(PY) bench/pages.py

## Refresh the translation catalogs from the source.
extract-messages: $(STAMP)
	PYTHONPATH=. $(VENV)/bin/pybabel extract -F babel.cfg -k _l -c "Translators:" --no-location -o portal/translations/messages.pot .
	$(VENV)/bin/pybabel update -i portal/translations/messages.pot -d portal/translations --no-fuzzy-matching

## Rebuild static/vendor/uppy/ (the browser side of resumable uploads) from assets/uppy/:
## the versions pinned in its package-lock.json, no install scripts run, byte-identical
## output on every run. Needs node and npm; the built files are committed, so `make run`
## and `make test` do not.
vendor-uppy:
	cd assets/uppy && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error && node build.mjs

clean:
	rm -rf $(VENV) instance .pytest_cache
