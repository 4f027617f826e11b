# The two commands of the README: `make up` (local stack, shows it working) and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install up test unit integration infra bench openapi lint fmt clean layer synth deploy webapp webapp-test webapp-test-real

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

up: install  ## start the local stack (moto + LiveKit emulator + API on :3000) and walk through it
	$(BIN)/rooms up

test: install  ## the whole suite: unit, integration (local stack over HTTP), infra (cdk synth + nag + cfn-lint)
	$(BIN)/python -m pytest

unit: install
	$(BIN)/python -m pytest tests/unit

integration: install
	$(BIN)/python -m pytest tests/integration

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

webapp/node_modules/.installed: webapp/package-lock.json
	cd webapp && npm ci --no-audit --no-fund
	touch $@

webapp: webapp/node_modules/.installed  ## the reference web app: npm ci + type check + vite build → webapp/dist (served at :3000/room/...)
	cd webapp && npm run build

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
