# The two commands of the README. Both install what they need first.
PYTHON ?= python3

.PHONY: demo test install services

install:
	$(PYTHON) -m pip install -q -e '.[test]'

# The main job: the SONATA demo service end to end on embedded defaults (no broker, no Docker).
demo: install
	$(PYTHON) -m mano demo examples/sonata-demo

# The whole test suite, with the real servers it needs (RabbitMQ, dockerd) started if missing.
test: install services
	$(PYTHON) -m pytest -q

services:
	bash .ci/services
