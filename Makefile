# The two commands a newcomer needs:  make demo  and  make test  (README).
PY := .venv/bin/python
SETUP_STAMP := .venv/.setup-done

.PHONY: setup demo test test-fast lint bench chaos synth clean

setup: $(SETUP_STAMP)

LAUNCHER_SRC := $(shell find launcher -type f 2>/dev/null)

$(SETUP_STAMP): .ci/setup.sh .ci/build-kclpy-wheel.sh pyproject.toml pom.xml package.json package-lock.json infra/requirements.txt $(LAUNCHER_SRC)
	bash .ci/setup.sh
	touch $@

## demo: local emulators, two KCL workers, the producer, a live table, a reconciliation
DEMO_ARGS ?=
demo: setup
	$(PY) -m consumer_app demo $(DEMO_ARGS)

## test: lint, the launcher's Java tests, unit, integration (emulators) and end-to-end (real MultiLangDaemon) tests
test: setup lint
	mvn -q -B test
	$(PY) -m pytest -q -ra

test-fast: setup
	$(PY) -m pytest -q -ra -m "not integration and not e2e"

lint: setup
	$(PY) -m ruff check consumer_app producer tests infra
	.venv/bin/hadolint Dockerfile

## chaos: every fault scenario with real workers; prints a table (about 20 minutes, budget 30)
CHAOS_ARGS ?=
chaos: setup
	$(PY) -m consumer_app chaos $(CHAOS_ARGS)

## bench: figures (records/s, drain rates, writes per record), printed, not asserted
bench: setup
	$(PY) -m tests.bench.run

## synth: CloudFormation templates into infra/cdk.out (no AWS credentials needed)
SYNTH_ARGS ?=
synth: setup
	cd infra && ../.venv/bin/python app.py $(SYNTH_ARGS)

clean:
	rm -rf .venv build target node_modules .local .pytest_cache .ruff_cache .hypothesis infra/cdk.out bench-out
