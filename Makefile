# dockernb: the two commands a newcomer types are `make demo` and `make test`.
# Every target does its own setup (Debian packages as root, .venv), idempotently.

PY      := .venv/bin/python
KITENV   = $(shell $(PY) -m dockernb.labkit env 2>/dev/null | sed 's/^export //')
PYTEST_ARGS ?=

.PHONY: setup kit demo test lint unit test-root test-rootless lab bench clean kit-down labext

setup:
	@bash .ci/setup.sh

kit: setup
	@$(PY) -m dockernb.labkit up

lint: setup
	$(PY) -m ruff check dockernb tests bench
	$(PY) -m mypy
	.venv/bin/lint-imports
	@bash .ci/labext.sh lint

# the JupyterLab extension, built once per change (the browser tests need it)
labext: setup
	@bash .ci/labext.sh

test-root: kit labext
	@mkdir -p tests/artifacts
	env $(KITENV) $(PY) -m pytest $(PYTEST_ARGS)

test-rootless: kit
	env $(KITENV) bash tests/rootless/run-as-user.sh $(PYTEST_ARGS)

# the README's test command (.ci/run calls it)
test: lint test-root test-rootless

demo: kit
	@env $(KITENV) $(PY) -m dockernb.demo

lab: kit labext
	@$(PY) -c 'import jupyterlab' 2>/dev/null || .venv/bin/pip install -q jupyterlab
	@env $(KITENV) $(PY) -m dockernb.demo --lab

bench: kit
	@env $(KITENV) $(PY) -m bench

kit-down:
	@$(PY) -m dockernb.labkit down

clean:
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache tests/artifacts labextension/node_modules labextension/lib dockernb/jupyter/labextension
