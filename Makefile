# The two commands a newcomer needs:  make demo  and  make test  (README).
PY := .venv/bin/python
SETUP_STAMP := .venv/.setup-done

.PHONY: setup demo test test-fast lint bench bench-image image chaos synth clean

setup: $(SETUP_STAMP)

LAUNCHER_SRC := $(shell find launcher -type f 2>/dev/null)

$(SETUP_STAMP): .ci/setup.sh .ci/build-kclpy-wheel.sh pyproject.toml pom.xml package.json package-lock.json infra/requirements.txt $(LAUNCHER_SRC)
	bash .ci/setup.sh
	touch $@

## demo: local emulators, two KCL workers, the producer, a live table, a reconciliation
DEMO_ARGS ?=
demo: setup
	$(PY) -m devkit demo $(DEMO_ARGS)

## test: lint, the launcher's Java tests, unit, integration (emulators), end-to-end (real
## MultiLangDaemon) and container tests (the image on a real Docker engine: .ci/engine.sh
## starts Debian's dockerd as root when none answers, and stops what it started)
test: setup lint
	mvn -q -B test
	bash .ci/engine.sh run $(PY) -m pytest -q -ra

test-fast: setup
	$(PY) -m pytest -q -ra -m "not integration and not e2e"

lint: setup
	$(PY) -m ruff check consumer_app devkit producer tests infra
	.venv/bin/hadolint Dockerfile

## chaos: every fault scenario with real workers; prints a table (about 20 minutes, budget 30)
CHAOS_ARGS ?=
chaos: setup
	$(PY) -m devkit chaos $(CHAOS_ARGS)

## bench: figures (records/s, drain rates, writes per record), printed, not asserted
bench: setup
	$(PY) -m tests.bench.run

## image: the runtime image kinesis-aggs-consumer (starts an engine if none answers and
## leaves it running: `bash .ci/engine.sh down` stops it; docs/docker.md)
DOCKER ?= $(shell command -v /usr/bin/docker || command -v docker)
image:
	bash .ci/engine.sh up
	bash .ci/base-image.sh
	DOCKER_BUILDKIT=1 $(DOCKER) build --network host -t kinesis-aggs-consumer .

## bench-image: image and layer sizes, cold and warm build, time to healthy and to the first
## record, docker stop, memory with 2 and 4 shards (printed, not asserted; docs/docker.md)
bench-image: setup
	bash .ci/engine.sh run $(PY) -m tests.bench.image

## synth: CloudFormation templates into infra/cdk.out (no AWS credentials needed)
SYNTH_ARGS ?=
synth: setup
	cd infra && ../.venv/bin/python app.py $(SYNTH_ARGS)

clean:
	rm -rf .venv build target node_modules .local .pytest_cache .ruff_cache .hypothesis infra/cdk.out bench-out
