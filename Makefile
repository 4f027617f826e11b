# The two commands of the README: `make up` (local stack, shows it working) and `make test`.
# Python 3.13 (the Lambda runtime the functions and the layer are built for) when it is on PATH or in pyenv;
# otherwise python3, with a warning. Override with `make install PY=/path/to/python3.13`.
PY313_CANDIDATES := python3.13 $(wildcard $(shell pyenv root 2>/dev/null)/versions/3.13*/bin/python3.13)
PY ?= $(firstword $(foreach c,$(PY313_CANDIDATES),$(if $(shell $(c) -c 'import sys' 2>/dev/null && echo ok),$(c))))
ifeq ($(strip $(PY)),)
PY := python3
$(warning python3.13 not found: using $(shell python3 --version 2>&1); the Lambda runtime is Python 3.13)
endif
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: python-version python-check install up up-real test unit integration real livekit infra bench openapi lint fmt clean layer synth deploy webapp webapp-test webapp-test-real

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

python-version:  ## the interpreter the venv is (or will be) created with
	@$(PY) --version

python-check:  ## fail unless that interpreter is CPython 3.13, the Lambda runtime's (CI: no fallback)
	@$(PY) -c 'import sys; v = sys.version.split()[0]; sys.exit(0 if sys.version_info[:2] == (3, 13) else f"Python 3.13 (the Lambda runtime) required, found {v} ($(PY)): put python3.13 on PATH or in pyenv, or pass PY=")'

up: install  ## start the local stack (moto + LiveKit emulator + API on :3000) and walk through it
	$(BIN)/rooms up

up-real: install  ## the same stack on the real livekit-server in a network namespace (root; `make livekit` first)
	$(BIN)/rooms up --livekit server

# The real-LiveKit tier (tests/livekit_real) runs when livekit-server is built (make livekit) and we are
# root (network namespaces); otherwise it is skipped, saying why. PYTEST_ARGS: extra pytest arguments.
test: install  ## the whole suite: unit, integration (local stack over HTTP), infra (cdk synth + nag + cfn-lint), real LiveKit
	$(BIN)/python -m pytest $(PYTEST_ARGS)

unit: install
	$(BIN)/python -m pytest tests/unit

integration: install
	$(BIN)/python -m pytest tests/integration

real: install  ## only the real-LiveKit tier (tests/livekit_real); ROOMS_REQUIRE_REAL_LIVEKIT=1 makes a skip fail
	$(BIN)/python -m pytest tests/livekit_real $(PYTEST_ARGS)

# The pinned livekit-server (go install ...@v1.13.5, CGO off) into .cache/livekit/bin, or
# $$ROOMS_LIVEKIT_BIN_DIR; rebuilt only when the pin changes. Needs Go 1.26 (a Go that honours
# GOTOOLCHAIN fetches it from the module proxy). Stdlib only: no venv needed.
livekit:  ## build the pinned livekit-server (first build ~5 min, then instant)
	$(PY) -m rooms_local.livekit_server.build

# BENCH: only these sections (e.g. `make bench BENCH=cold_start`: no local stack, a few minutes).
bench: install  ## cold-import ratios vs boto3 (instructions + wall), DynamoDB round trips, webhook p99 in a burst: one run
	$(BIN)/python -m rooms_local.bench $(BENCH)

openapi: install  ## regenerate docs/openapi.json from the code
	$(BIN)/rooms openapi

infra: install  ## template assertions, cdk-nag (AwsSolutions), cfn-lint
	$(BIN)/python -m pytest tests/infra

layer: install  ## build the Lambda layer for python3.13/arm64 with pip --platform (no Docker)
	$(BIN)/python -m infra.layer_build

node_modules/.bin/cdk: package-lock.json
	npm ci --no-audit --no-fund
	touch $@

synth: install node_modules/.bin/cdk  ## cdk synth with the Node CDK CLI (offline, no AWS account)
	CDK_DISABLE_CLI_TELEMETRY=true npx cdk synth --no-notices --quiet

deploy: install node_modules/.bin/cdk  ## see infra/README.md for the context to pass (-c jwtIssuer=... etc.)
	CDK_DISABLE_CLI_TELEMETRY=true npx cdk deploy --no-notices $(CDK_ARGS)

webapp/node_modules/.installed: webapp/package-lock.json
	cd webapp && npm ci --no-audit --no-fund
	touch $@

# Rebuilt only when a source changes (CI builds once for both Playwright runs).
WEBAPP_SOURCES := $(shell find webapp/src -type f 2>/dev/null) webapp/index.html webapp/vite.config.ts webapp/tsconfig.json webapp/package.json

webapp/dist/index.html: webapp/node_modules/.installed $(WEBAPP_SOURCES)
	cd webapp && npm run build
	touch $@

webapp: webapp/dist/index.html  ## the reference web app: npm ci + type check + vite build → webapp/dist (served at :3000/room/...)

webapp-test: install webapp  ## Vitest (app logic), then Playwright on Debian's chromium against a local stack it starts
	cd webapp && npx vitest run
	cd webapp && npx playwright test

webapp-test-real: install webapp  ## the real-media walk: livekit-server in a network namespace (root; rooms_local/livekit_server)
	cd webapp && ROOMS_E2E_REAL=1 npx playwright test e2e/real.spec.ts

lint: install
	$(BIN)/ruff check .

fmt: install
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) cdk.out .pytest_cache layers/rooms/build node_modules webapp/node_modules webapp/dist webapp/test-results
