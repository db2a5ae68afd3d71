# Every target bootstraps .venv when it is missing. torch goes in first from the pinned
# CPU build, so nothing later can pull a CUDA build.
PYTHON_SYS ?= python3.11
VENV       := .venv
PY         := $(VENV)/bin/python
PIP        := $(VENV)/bin/pip
STAMP      := $(VENV)/.installed

export TIMBRAL_HOME ?= $(CURDIR)/.timbral
export DAGSTER_HOME ?= $(TIMBRAL_HOME)/dagster
# LASTFM_API_KEY, SPOTIFY_CLIENT_ID/SECRET and TIMBRAL_BUCKET_URL are optional: the resources read them
# when a run uses them, and the clients say clearly when a key is needed.
# one "planned" event per asset for a range of days, not one per day (runs launched from the UI too)
export DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS ?= true
export DAGSTER_EVENT_BATCH_SIZE ?= 500

.PHONY: run test bench-smoke ui mlflow bench lint install clean

$(PY):
	$(PYTHON_SYS) -m venv $(VENV) || python3 -m venv $(VENV)

$(STAMP): $(PY) pyproject.toml
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e ".[dev]"
	$(VENV)/bin/timbral build-encoders
	touch $(STAMP)

install: $(STAMP)

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml

run: $(STAMP) $(DAGSTER_HOME)/dagster.yaml
	$(VENV)/bin/timbral run

# two workers (this machine's cores), a test file's tests on one of them: the tests that read a shared
# materialized world (conftest.world_5k, world_20k) are in one file each, so each world is made once
test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider -n 2 --dist loadfile

# every bench/ script's smallest case, so that benchmarks cannot rot (about 5 minutes; CI runs it)
bench-smoke: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider -n 2 -m bench_smoke timbral_assets_tests/test_bench_smoke.py

ui: $(STAMP) $(DAGSTER_HOME)/dagster.yaml
	$(VENV)/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

# the MLflow UI over TIMBRAL_HOME's tracking store and artifacts
mlflow: $(STAMP)
	$(VENV)/bin/mlflow ui --backend-store-uri sqlite:///$(TIMBRAL_HOME)/mlflow.db \
		--default-artifact-root $(TIMBRAL_HOME)/mlartifacts --host 127.0.0.1 --port 5000

bench: $(STAMP)
	$(PY) bench/ingest.py --scales 1000000,10000000
	$(PY) bench/generate.py --scales 1000000,10000000

lint: $(STAMP)
	$(VENV)/bin/ruff check timbral_assets timbral_assets_tests bench

clean:
	rm -rf $(TIMBRAL_HOME)
