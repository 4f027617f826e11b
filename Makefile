# The two commands of the README: `make up` (local stack, shows it working) and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install up test unit integration infra bench openapi lint fmt clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

up: install  ## start the local stack (moto + LiveKit dev server + API on :3000) and walk through it
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

lint: install
	$(BIN)/ruff check .

fmt: install
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) cdk.out .pytest_cache layers/rooms/build
