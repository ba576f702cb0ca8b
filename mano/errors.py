"""mano's exception hierarchy.

Every error a caller can see is a :class:`ManoError`. Third-party exceptions (pymongo, pika,
Ray, pydantic, PyYAML) are translated at the adapter boundary, so callers never have to know
which library failed. ``retryable`` tells workflow executors whether trying again may help:
a temporary outage is retryable, bad input never is.
"""
from __future__ import annotations


class ManoError(Exception):
    """Base class of every error mano raises on purpose."""

    retryable = False


# --- descriptors -------------------------------------------------------------------------
class DescriptorError(ManoError):
    """A descriptor is malformed: names the source, the field path and what was expected."""

    def __init__(self, message: str, *, source: str | None = None, path: str | None = None,
                 problems: list[str] | None = None):
        self.source = source
        self.path = path
        self.detail = message
        self.problems = problems or [self._one_line(path, message)]
        where = f"{source}: " if source else ""
        if len(self.problems) == 1:
            text = f"{where}{self.problems[0]}"
        else:
            text = f"{where}{len(self.problems)} problems:\n  - " + "\n  - ".join(self.problems)
        super().__init__(text)

    @staticmethod
    def _one_line(path: str | None, message: str) -> str:
        return f"{path}: {message}" if path else message


class MissingVnfdError(DescriptorError):
    """An NSD names network functions for which no VNFD was given."""


# --- records and store -------------------------------------------------------------------
class StoreError(ManoError):
    """The record store failed."""


class StoreUnavailableError(StoreError):
    """The record store cannot be reached (server down, timeout)."""

    retryable = True


class RecordNotFoundError(StoreError):
    """No record with that id."""


class DuplicateRecordError(StoreError):
    """A record with that id (or unique key) exists already."""


class StaleRecordError(StoreError):
    """An update was based on an old revision of the record; re-read and try again."""

    retryable = True


class FencedOutError(StoreError):
    """A write by a lease holder whose lease another activation has taken over since: the
    write is refused, and the writer must stop acting for that instance (decision 10)."""


# --- the Ray cluster ---------------------------------------------------------------------
class ClusterError(ManoError):
    """mano cannot join the Ray cluster it was told to use (``mano up --address``,
    ``MANO_RAY_ADDRESS``); the message names the address and what went wrong."""


class ClusterUnreachableError(ClusterError):
    """Nothing answers at the cluster's address (refused, timed out, no Ray GCS there)."""

    retryable = True


class ClusterAuthError(ClusterError):
    """The cluster's token authentication refused mano's connection (no token, or a wrong one)."""


# --- lifecycle ---------------------------------------------------------------------------
class LifecycleError(ManoError):
    """A lifecycle request cannot be carried out."""


class BadRequestError(LifecycleError):
    """A request's parameters are malformed or name what the service does not have (a
    placement preference, a count, a reconfiguration payload): the caller's to mend, so never
    retryable, and an HTTP 400 where the state of the service (a 409) has nothing to do with it."""


class UnknownInstanceError(LifecycleError):
    """No service or VNF instance has that id."""


class UnknownOperationError(LifecycleError):
    """No operation has that id."""


class OperationNotHeldError(LifecycleError):
    """An operator's retry or rollback asked of an operation that is not FAILED_TEMP."""


class OperationNotRunningError(LifecycleError):
    """An operator's cancel asked of an operation that is not PROCESSING (it has ended, waits
    FAILED_TEMP, or is rolling back)."""


class LeaseHeldError(LifecycleError):
    """Another activation holds the instance's lease: it runs the instance's steps now."""

    retryable = True


class InstanceBusyError(LifecycleError):
    """Another workflow is running on the instance (SONATA: 'Workflow for service still going on, rejected')."""


class InvalidTransitionError(LifecycleError):
    """The instance's state machine does not allow that transition."""


class AlreadyTerminatedError(LifecycleError):
    """The instance is terminated (SONATA: 'nsr already terminated')."""


class StepFailedError(LifecycleError):
    """A step's batch of calls failed in part; ``failures`` names each, and the whole is
    retryable only if every failure was."""

    def __init__(self, message: str, failures: list[str] | None = None, *, retryable: bool = False):
        super().__init__(message)
        self.failures = list(failures or [message])
        self.retryable = retryable


# --- placement and infrastructure --------------------------------------------------------
class PlacementError(ManoError):
    """Placement could not produce a mapping."""


class InfeasiblePlacementError(PlacementError):
    """No mapping satisfies the constraints; the message says which resource and where."""


class VimError(ManoError):
    """The VIM (emulated or docker) refused or failed an action."""


class CapacityError(VimError):
    """A PoP has not enough cores or memory left."""


class TemporaryVimError(VimError):
    """A VIM call failed in a way that may succeed if retried."""

    retryable = True


# --- messaging ---------------------------------------------------------------------------
class MessagingError(ManoError):
    """The message bus failed or a message is malformed."""


class BrokerUnavailableError(MessagingError):
    """RabbitMQ cannot be reached."""

    retryable = True
