# The two commands of the README: `make up` (local stack, shows it working) and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install up up-real test unit integration real livekit infra bench openapi lint fmt clean layer synth deploy

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

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

bench: install  ## cold-import ratios vs boto3 and DynamoDB round trips, measured in one run
	$(BIN)/python -m rooms_local.bench

openapi: install  ## regenerate docs/openapi.json from the code
	$(BIN)/rooms openapi

infra: install  ## template assertions, cdk-nag (AwsSolutions), cfn-lint
	$(BIN)/python -m pytest tests/infra

layer: install  ## build the Lambda layer for python3.11/arm64 with pip --platform (no Docker)
	$(BIN)/python -m infra.layer_build

node_modules/.bin/cdk: package-lock.json
	npm ci --no-audit --no-fund
	touch $@

synth: install node_modules/.bin/cdk  ## cdk synth with the Node CDK CLI (offline, no AWS account)
	CDK_DISABLE_CLI_TELEMETRY=true npx cdk synth --no-notices --quiet

deploy: install node_modules/.bin/cdk  ## see infra/README.md for the context to pass (-c jwtIssuer=... etc.)
	CDK_DISABLE_CLI_TELEMETRY=true npx cdk deploy --no-notices $(CDK_ARGS)

lint: install
	$(BIN)/ruff check .

fmt: install
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) cdk.out .pytest_cache layers/rooms/build node_modules
