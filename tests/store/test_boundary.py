"""Unit tests of the pymongo exception boundary (no server needed)."""
from __future__ import annotations

import bson.errors
import pymongo.errors
import pytest

from mano.errors import DuplicateRecordError, StoreError, StoreUnavailableError
from mano.store.boundary import map_store_errors, redact_url, short_reason

URL = "mongodb://mano:s3cret@db.example:27017/mano"

TOPOLOGY_DUMP = ("localhost:1: [Errno 111] Connection refused (configured timeouts: socketTimeoutMS: "
                 "500.0ms, connectTimeoutMS: 500.0ms), Timeout: 0.5s, Topology Description: "
                 "<TopologyDescription id: 1, topology_type: Unknown, servers: [...]>")


@pytest.mark.parametrize(("raised", "expected"), [
    (pymongo.errors.ServerSelectionTimeoutError(TOPOLOGY_DUMP), StoreUnavailableError),
    (pymongo.errors.AutoReconnect("connection closed"), StoreUnavailableError),
    (pymongo.errors.NetworkTimeout("timed out"), StoreUnavailableError),
    (pymongo.errors.ConnectionFailure("refused"), StoreUnavailableError),
    (pymongo.errors.ExecutionTimeout("operation exceeded time limit"), StoreUnavailableError),
    (pymongo.errors.DuplicateKeyError("E11000 duplicate key"), DuplicateRecordError),
    (pymongo.errors.OperationFailure("bad query"), StoreError),
    (pymongo.errors.InvalidOperation("client closed"), StoreError),
    (bson.errors.InvalidDocument("cannot encode object"), StoreError),
])
def test_driver_errors_become_mano_errors(raised: Exception, expected: type[Exception]) -> None:
    with pytest.raises(expected) as caught, map_store_errors(URL, "get operations/1"):
        raise raised
    assert type(caught.value) is expected
    assert not isinstance(caught.value, pymongo.errors.PyMongoError)
    assert caught.value.__cause__ is raised
    assert "s3cret" not in str(caught.value)


def test_outage_message_names_the_store_and_is_one_line() -> None:
    with pytest.raises(StoreUnavailableError) as caught, map_store_errors(URL, "ping"):
        raise pymongo.errors.ServerSelectionTimeoutError(TOPOLOGY_DUMP)
    message = str(caught.value)
    assert message.startswith("record store at mongodb://mano:***@db.example:27017/mano is unreachable")
    assert "Topology Description" not in message and "\n" not in message
    assert caught.value.retryable


def test_other_exceptions_pass_through_untouched() -> None:
    with pytest.raises(KeyError), map_store_errors(URL):
        raise KeyError("not ours")


@pytest.mark.parametrize(("url", "shown"), [
    ("mongodb://u:p@h:1/db?x=1", "mongodb://u:***@h:1/db?x=1"),
    ("mongodb://h1:1,h2:2/db", "mongodb://h1:1,h2:2/db"),
    ("mongodb://user@h:1", "mongodb://user:***@h:1"),
])
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_short_reason_caps_length() -> None:
    assert len(short_reason(ValueError("x" * 1000))) < 320
