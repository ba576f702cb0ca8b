"""The record store: typed repositories over MongoDB (pymongo), one per collection.

This package is the only place in mano that imports pymongo. Everything it raises is a
:mod:`mano.errors` type (:class:`~mano.errors.StoreUnavailableError` for outages,
:class:`~mano.errors.StaleRecordError` for lost optimistic-concurrency races, ...).

Typical use::

    store = mano.store.connect(settings)       # embedded server unless MANO_MONGO_URL is set
    op = store.operations.insert(OperationRecord(id=corr_id, type=..., service_id=sid))
    op = store.operations.update(op.with_step("deploy", state=StepState.DONE))
    store.operations.mutate(op.id, lambda o: o.with_state(OperationState.COMPLETED))
    store.close()

Modules: :mod:`.client` (connect, Store), :mod:`.repository` (generic Repository),
:mod:`.embedded` (nx-27017 server), :mod:`.boundary` (exception translation),
:mod:`.documents` (record <-> document), and one module per collection (:mod:`.nsr`,
:mod:`.vnfr`, :mod:`.services`, :mod:`.operations`, :mod:`.plugins`,
:mod:`.specific_managers`, :mod:`.leases`).
"""
from mano.store.boundary import map_store_errors
from mano.store.client import Store, connect
from mano.store.embedded import EmbeddedMongo, ServerState, read_server_state
from mano.store.leases import LeaseRepository
from mano.store.nsr import NsrRepository
from mano.store.operations import OperationRepository
from mano.store.plugins import PluginRepository
from mano.store.repository import Index, Repository
from mano.store.services import ServiceRepository
from mano.store.specific_managers import SpecificManagerRepository
from mano.store.vnfr import VnfrRepository

__all__ = [
    "EmbeddedMongo", "Index", "LeaseRepository", "NsrRepository", "OperationRepository", "PluginRepository",
    "Repository", "ServerState", "ServiceRepository", "SpecificManagerRepository", "Store",
    "VnfrRepository", "connect", "map_store_errors", "read_server_state",
]
