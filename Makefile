# The two commands of the README. Both install what they need first, at the versions in
# constraints.txt (the ones the suite passes with).
PYTHON ?= python3
PIP_INSTALL = $(PYTHON) -m pip install -q -c constraints.txt

.PHONY: demo test test-busy install services

install:
	$(PIP_INSTALL) -e '.[test]'

# The main job: the SONATA demo service end to end on embedded defaults (no broker, no Docker).
demo: install
	$(PYTHON) -m mano demo

# The whole test suite, with the real servers it needs (RabbitMQ, dockerd) started if missing.
test: install services
	$(PYTHON) -m pytest -q

# The runtime tests beside a CPU hog that keeps one of the cores busy (field conditions).
test-busy: install services
	$(PYTHON) tests/busy_cpu.py -- $(PYTHON) -m pytest -q tests/runtime

services:
	bash .ci/services
