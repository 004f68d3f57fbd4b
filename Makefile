# Shuniu CRM — one entry point for developers and CI.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
GEN := gen/python
SITE = $(shell $(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
SRC_DIRS := gen/python libs/crmkit/src libs/fakes/src devtools/src gateway/src $(wildcard services/*/src)
# What mypy checks (settings in pyproject.toml [tool.mypy]): every hand-written src dir. While a
# refactor is in flight, `make lint TYPED_DIRS="$(TYPED_PLATFORM)"` checks the platform alone.
TYPED_PLATFORM := libs/crmkit/src libs/fakes/src devtools/src
TYPED_DIRS ?= $(TYPED_PLATFORM) gateway/src $(wildcard services/*/src)
PROTOS := $(shell find proto -name '*.proto')

.PHONY: help venv proto run test test-unit test-integration test-e2e bench lint token clean system-deps images dev-secrets checkov

# Debian packages the tests and benchmarks use: pdftotext and a CJK font (quote PDFs), wrk (bench),
# chromium (the console's browser tests drive Debian's build; no tool downloads a browser).
APT_PACKAGES ?= poppler-utils fonts-wqy-microhei wrk chromium

help:
	@echo "make run    - start the whole suite locally (nats-server, services, gateway) on 127.0.0.1"
	@echo "              (BIND_HOST=0.0.0.0 make run serves other machines; JWT secret in var/jwt-secret)"
	@echo "make test   - install everything and run unit, integration and e2e tests"
	@echo "make bench  - run the benchmarks and print figures"
	@echo "make lint   - ruff, then mypy over the typed src dirs"
	@echo "make token USER_ID=rep.north.1 - mint a demo bearer token"
	@echo "make images [REGISTRY=r TAG=t PUSH=1] - build every image (PUSH: push, pin digests in production)"
	@echo "make dev-secrets - generate the dev overlay's signing keys (gitignored)"

# The venv is rebuilt when requirements change; a .pth file puts every src dir on sys.path
# so services run from the checkout without per-package installs.
$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements.txt
	touch $@

venv: $(VENV)/.installed
	@printf '%s\n' $(addprefix $(CURDIR)/,$(SRC_DIRS)) > $(SITE)/shuniu.pth

$(GEN)/.built: $(PROTOS) | $(VENV)/.installed
	rm -rf $(GEN).new && mkdir -p $(GEN).new
	$(PY) -m grpc_tools.protoc -Iproto --python_out=$(GEN).new --pyi_out=$(GEN).new --grpc_python_out=$(GEN).new $(PROTOS)
	touch $(GEN).new/.built
	rm -rf $(GEN) && mv $(GEN).new $(GEN)

proto: venv $(GEN)/.built

# checkov (the policy scan of the rendered overlays, tests/deploy/test_policy_scan.py) in a venv of
# its own, as its many pins would fight the project's; rebuilt when tools/checkov/requirements.txt
# changes. An install that fails (no network) leaves no stamp: make goes on and the test skips,
# naming var/checkov/install.log.
CHECKOV := var/checkov
$(CHECKOV)/.installed: tools/checkov/requirements.txt
	rm -rf $(CHECKOV) && mkdir -p $(CHECKOV)
	if $(PYTHON) -m venv $(CHECKOV)/venv >$(CHECKOV)/install.log 2>&1 && \
	   $(CHECKOV)/venv/bin/pip install -q -r $< >>$(CHECKOV)/install.log 2>&1; \
	then touch $@; else rm -rf $(CHECKOV)/venv; echo "checkov not installed (see $(CHECKOV)/install.log): its test skips"; fi

checkov: $(CHECKOV)/.installed

# Installs the missing Debian packages when we may (root with apt); otherwise says what is missing.
system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing$$missing"; (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing Debian packages:$$missing (tests needing them are skipped)"; fi; \
	fi

run: proto
	$(PY) -m crm_devtools.devrun

test: lint system-deps console-test console-build checkov
	$(PY) -m pytest -q -p no:cacheprovider

test-unit: proto
	$(PY) -m pytest -q -m "not integration and not e2e"

test-integration: proto
	$(PY) -m pytest -q -m integration

test-e2e: proto
	$(PY) -m pytest -q -m e2e

bench: proto system-deps console-build
	$(PY) bench/run.py

# ruff over the tree, then mypy over the src dirs (it reads gen/python's .pyi stubs, hence proto).
lint: proto
	$(PY) -m ruff check .
	$(PY) -m mypy $(TYPED_DIRS)

# USER_ID=<demo user> (default admin); USER=<demo user> works too when given on the command line
# (the USER of the environment is the login name, not a demo user). Signed with JWT_SECRET when
# set, else with the secret `make run` generated once in var/jwt-secret.
token: proto
	@$(PY) -m crm_devtools.token --var $(CURDIR)/var $(or $(USER_ID),$(if $(filter command line,$(origin USER)),$(USER)),admin)

# Every image (services/*/Dockerfile, gateway/Dockerfile) as $(REGISTRY)/crm-<name>:$(TAG); with
# PUSH=1 they are pushed and their digests pinned in deploy/k8s/overlays/production (deploy/README.md).
REGISTRY ?=
TAG ?= dev
images: dev-secrets
	$(PY) deploy/images.py $(if $(REGISTRY),--registry $(REGISTRY)) --tag $(TAG) $(if $(PUSH),--push)

# The dev overlay's JWT_SECRET and signing keys, generated once per machine (never committed).
dev-secrets:
	$(PY) deploy/dev_secrets.py

clean:
	rm -rf $(GEN) var .pytest_cache

# The web console (console/, TypeScript + React + Vite): `npm ci` whenever package-lock.json is
# newer than the last install; console-api regenerates its typed client from the gateway's routes.
.PHONY: console-deps console-api console-build console-test
console/node_modules/.package-lock.json: console/package-lock.json
	cd console && npm ci --no-audit --no-fund

console-deps: console/node_modules/.package-lock.json

console-api: venv console-deps
	$(PY) -m crm_devtools.openapi_dump
	cd console && npm run --silent gen:api

# Built beside dist and swapped in (a running gateway never serves a half-written build), when stale.
console-build: venv console-deps
	$(PY) -m crm_devtools.console

console-test: console-deps
	cd console && npm run --silent typecheck && npm run --silent test
