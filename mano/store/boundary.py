"""The exception boundary between pymongo and the rest of mano (STYLE practice 13).

Every call into pymongo made by ``mano.store`` runs inside :func:`map_store_errors`, which turns
driver exceptions into mano's own hierarchy, grouped by what a caller can do about them:

=========================================================  ==================================
pymongo / bson                                             mano
=========================================================  ==================================
ConnectionFailure (AutoReconnect, NetworkTimeout,          :class:`StoreUnavailableError`
ServerSelectionTimeoutError, ...), ExecutionTimeout,       (``retryable``: try again later)
WTimeoutError
DuplicateKeyError                                          :class:`DuplicateRecordError`
any other PyMongoError, bson.errors.BSONError              :class:`StoreError`
=========================================================  ==================================

The original exception is chained (``raise ... from exc``) for debugging, but the message is
self-contained: which store (URL with the password removed), what failed, and a one-line
reason instead of pymongo's multi-line topology description.
"""
from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import bson.errors
import pymongo.errors

from mano.errors import DuplicateRecordError, StoreError, StoreUnavailableError

_MAX_REASON_CHARS = 300


def redact_url(url: str) -> str:
    """``url`` without a password, safe for messages and logs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable MongoDB URL>"
    if "@" not in parts.netloc:
        return url
    userinfo, _, hosts = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{hosts}"))


def short_reason(exc: BaseException) -> str:
    """The first meaningful line of a driver error, without the topology dump."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = re.split(r",? Timeout: [\d.]+s, Topology Description", text)[0]
    if len(text) > _MAX_REASON_CHARS:
        text = text[:_MAX_REASON_CHARS] + "..."
    return text


@contextlib.contextmanager
def map_store_errors(url: str, action: str = "") -> Iterator[None]:
    """Translate pymongo/bson exceptions raised in the block into :mod:`mano.errors` types.

    Args:
        url: the store URL, named in messages (password removed).
        action: what was being done, e.g. ``"update operations/42"``, for the message.
    """
    doing = f" ({action})" if action else ""
    try:
        yield
    except pymongo.errors.DuplicateKeyError as exc:
        raise DuplicateRecordError(f"duplicate record{doing}: {short_reason(exc)}") from exc
    except (pymongo.errors.ConnectionFailure, pymongo.errors.ExecutionTimeout,
            pymongo.errors.WTimeoutError) as exc:
        raise StoreUnavailableError(
            f"record store at {redact_url(url)} is unreachable{doing}: {short_reason(exc)}") from exc
    except pymongo.errors.PyMongoError as exc:
        raise StoreError(
            f"record store at {redact_url(url)} failed{doing}: "
            f"{type(exc).__name__}: {short_reason(exc)}") from exc
    except bson.errors.BSONError as exc:
        raise StoreError(f"record cannot be stored as BSON{doing}: {short_reason(exc)}") from exc
