# Pacta: local infrastructure, services and checks. `make help` lists the targets.
# Longer steps live in deploy/local/*.sh; every recipe here is one or two lines.
SHELL := /bin/bash
.DEFAULT_GOAL := help

LOCAL := deploy/local
PY := .venv/bin/python
VAR := $(or $(PACTA_VAR_DIR),var)
PYTEST_ARGS ?=

.PHONY: help setup up down run demo test test-cluster test-properties bench lint clean-data

help: ## List the targets
	@awk 'BEGIN { FS = ":.*## " } /^[a-z][a-z-]*:.*## / { printf "  %-13s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

setup: ## Virtualenv, PostgreSQL and Kafka: everything the tests need
	$(LOCAL)/python.sh && $(LOCAL)/postgres.sh start && $(LOCAL)/kafka.sh start

up: setup ## setup, create the topics, start the four services (waits for /readyz)
	$(PY) -m pacta.topics
	$(LOCAL)/services.sh start

down: ## Stop the services, Kafka (and the test cluster) and PostgreSQL (data kept)
	$(LOCAL)/services.sh stop; $(LOCAL)/kafka.sh stop; $(LOCAL)/kafka-cluster.sh stop; $(LOCAL)/postgres.sh stop

run: up ## up, then follow the logs
	tail -F $(VAR)/log/*.log

demo: ## Load a realistic last month into the running stack (after `make up`)
	$(LOCAL)/demo.sh

test: setup ## Run the test suite (extra pytest arguments: PYTEST_ARGS="-k foo")
	$(LOCAL)/tools.sh
	$(PY) -m pytest $(PYTEST_ARGS)

test-cluster: setup ## Faults on a 3-broker Kafka cluster, two instances of each service (~6 min)
	$(LOCAL)/test-cluster.sh $(PYTEST_ARGS)

test-properties: ## The model-based property tests with thousands of random examples
	HYPOTHESIS_PROFILE=properties $(PY) -m pytest -m properties tests/unit -p no:cacheprovider --timeout=0 $(PYTEST_ARGS)

bench: setup ## Run the benchmark (bench/)
	$(LOCAL)/tools.sh
	$(PY) -m bench

lint: ## ruff and strict mypy (shared, services, bench and cli; needs the virtualenv of setup)
	.venv/bin/ruff check . && .venv/bin/mypy shared services bench cli

clean-data: down ## down, then delete var/ (Kafka data, logs, pid files)
	rm -rf $(VAR)

rebuild-reporting: ## Replay every topic into a fresh reporting schema and swap it in
	$(PY) -m reporting rebuild
