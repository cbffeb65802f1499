# Two commands a newcomer needs:  make demo   and   make test.
# Each creates .venv when it is missing and installs what it needs from PyPI.

PYTHON ?= python3
# Write bytecode even where the environment says not to: without it, every interpreter the
# suite starts (`sparring serve`, each pytest run of a docs example) compiles sparring again,
# and pytest re-rewrites every plugin package's asserts; that doubled a pytest start-up
# (4.4 s -> 2.3 s of CPU for the tutorial's). The caches are __pycache__ folders, ignored by git.
unexport PYTHONDONTWRITEBYTECODE
VENV   ?= .venv
BIN    := $(VENV)/bin
# A second environment with the newest openai 2.x: the SDK majors behave differently on a
# broken stream, and users have both. Tests there that cannot differ by major skip (tests/legs.py).
VENV2  ?= .venv-openai2
BIN2   := $(VENV2)/bin
OPENAI2_TESTS := tests/test_fault_contract.py tests/test_faults.py tests/test_wire_shaping.py \
                 tests/test_chat_sdk.py tests/test_error_headers.py tests/test_docs_examples.py \
                 tests/test_responses.py tests/test_completions_and_embeddings.py tests/test_streaming_helpers.py \
                 tests/test_broken_stream_exceptions.py tests/test_readme.py tests/test_docs_dependencies.py \
                 tests/libraries/test_contract_sdks.py tests/libraries/test_contract_table.py \
                 tests/test_replay_sdks.py tests/test_virtual_time.py tests/test_virtual_time_sdks.py \
                 tests/test_azure_openai.py

# A third with the client libraries people build on the SDKs (langchain-openai, litellm,
# pydantic-ai, openai-agents): the client-library contract and loops in tests/libraries/.
VENV3  ?= .venv-libs
BIN3   := $(VENV3)/bin
# The SDK rows run in the two legs above; here, the libraries built on the SDKs.
LIBS_TESTS := tests/libraries --ignore=tests/libraries/test_contract_sdks.py

.PHONY: demo test lint typecheck tests docs-build docs bench soak clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.demo-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[openai]'
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.demo-installed

$(VENV2)/.installed: pyproject.toml
	test -x $(BIN2)/python || $(PYTHON) -m venv $(VENV2)
	$(BIN2)/python -m pip install --quiet --upgrade pip
	$(BIN2)/python -m pip install --quiet -e '.[test]' 'openai>=2,<3'
	touch $@

$(VENV3)/.installed: pyproject.toml
	test -x $(BIN3)/python || $(PYTHON) -m venv $(VENV3)
	$(BIN3)/python -m pip install --quiet --upgrade pip
	$(BIN3)/python -m pip install --quiet -e '.[test,libs]'
	touch $@

## demo: start the fake server and watch the openai SDK spar with it
demo: $(VENV)/.demo-installed
	$(BIN)/sparring demo

## test: lint, type-check, the whole suite under coverage, and a strict docs build
test: lint typecheck tests docs-build

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check src tests bench docs
	$(BIN)/ruff format --check src tests bench docs

typecheck: $(VENV)/.dev-installed
	$(BIN)/mypy src

# Three workers on two cores: many tests wait (on SDK backoffs, timeouts, subprocesses), so a
# third fills the gaps: the main leg took 405-485 s against 519-571 s with two, under coverage.
# The libraries leg keeps two: each worker imports litellm and the rest, and there are 79 tests.
WORKERS ?= 3

tests: $(VENV)/.dev-installed $(VENV2)/.installed $(VENV3)/.installed
	$(BIN)/coverage erase
	$(BIN)/coverage run -m pytest -n $(WORKERS)
	SPARRING_TEST_LEG=openai2 $(BIN2)/coverage run -m pytest -n $(WORKERS) $(OPENAI2_TESTS)
	$(BIN3)/coverage run -m pytest -n 2 $(LIBS_TESTS)
	$(BIN)/coverage combine --quiet
	$(BIN)/coverage report --fail-under=90

docs-build: $(VENV)/.dev-installed
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir site

## docs: serve the documentation at http://127.0.0.1:8001
docs: $(VENV)/.dev-installed
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8001

## bench: print throughput and latency figures (not part of the tests)
bench: $(VENV)/.dev-installed
	$(BIN)/python bench/bench_chat.py

## soak: the long soak and fuzz run on both servers, with its figures (a few minutes; not part of the tests)
soak: $(VENV)/.dev-installed
	$(BIN)/python bench/soak.py --target serve --requests 10000 --fuzz 300
	$(BIN)/python bench/soak.py --target inprocess-alone --requests 50000
	# The whole test process: its RSS holds the 32 SDK clients' too (the server's share is the
	# run above), so it is held to the growth it showed at 50,000 with room, not the server's 40.
	$(BIN)/python bench/soak.py --target inprocess --requests 50000 --max-rss-growth 100

clean:
	rm -rf $(VENV) $(VENV2) $(VENV3) site .coverage .coverage.* .mypy_cache .ruff_cache .pytest_cache .hypothesis
