"""Connecting to the record store: :func:`connect` returns a :class:`Store` of repositories.

``settings.mongo_url`` selects a MongoDB server; without one, :func:`connect` starts (or attaches
to) the embedded nx-27017 server of ``settings.home``. Either way the same pymongo code runs.

Timeouts: server selection, connect and socket timeouts are all ``settings.store_timeout_ms``,
so an outage surfaces as :class:`~mano.errors.StoreUnavailableError` within about that time
instead of pymongo's 30 s default (a workflow step can then fail or retry; nothing hangs).

Processes: a :class:`Store` holds sockets and threads and is deliberately not picklable. Pass
:class:`~mano.settings.Settings` to a Ray actor and call :func:`connect` there.

One store for the cluster: the control plane resolves the store's URL once, in the process that
starts it (``MANO_MONGO_URL``, or the embedded server it started or attached to), and hands every
actor settings carrying that URL (:func:`published`). In an actor, :func:`connect` never starts
or attaches to an embedded server of its own (that would split the records: one store per node
whose ``MANO_HOME`` it finds), and a loopback URL is refused on any Ray node but the one it was
published on: both are a :class:`~mano.errors.StoreError` that says what to set instead.
"""
from __future__ import annotations

import ipaddress
import sys
from typing import Any

import pymongo
from pymongo.uri_parser import parse_uri
from typing_extensions import Self

from mano.errors import StoreError
from mano.settings import Settings
from mano.store.boundary import map_store_errors, redact_url
from mano.store.embedded import EmbeddedMongo
from mano.store.gateway_replies import GatewayReplyRepository
from mano.store.cancellations import CancelRequestRepository
from mano.store.leases import LeaseRepository
from mano.store.ns_descriptors import NsdInfoRepository
from mano.store.ns_identifiers import NsIdentifierRepository
from mano.store.nsr import NsrRepository
from mano.store.operations import OperationRepository
from mano.store.plugins import PluginRepository
from mano.store.repository import Repository
from mano.store.services import ServiceRepository
from mano.store.specific_managers import SpecificManagerRepository
from mano.store.subscriptions import NotificationRepository, SubscriptionRepository
from mano.store.vnfr import VnfrRepository


def connect(settings: Settings, *, stop_embedded_on_exit: bool = True) -> Store:
    """Open the record store described by ``settings``; indexes are created on the way.

    Args:
        settings: ``mongo_url`` (None: embedded server under ``home``), ``mongo_db``,
            ``store_timeout_ms``.
        stop_embedded_on_exit: if this call *starts* the embedded server, stop it again on
            ``Store.close()`` / interpreter exit. Pass False from processes that should leave
            it running for others (it is never stopped by processes that merely attach).

    Raises:
        StoreUnavailableError: the server cannot be reached (or the embedded one not started).
        StoreError: the URL or the server is unusable.
    """
    embedded: EmbeddedMongo | None = None
    if settings.mongo_url:
        url = settings.mongo_url
        _check_reachable_from_this_node(settings)
    else:
        if _ray_node() is not None:
            raise StoreError(
                "a mano actor was given no store URL: actors never start or attach to an embedded "
                f"store of their own (one per node would split the records; here under {settings.home}). "
                "Start actors through mano.init() / mano up, which hands them the control plane's store")
        embedded = EmbeddedMongo(settings, stop_on_exit=stop_embedded_on_exit).start()
        url = embedded.url
    try:
        return Store(url, database=settings.mongo_db, timeout_ms=settings.store_timeout_ms,
                     embedded=embedded)
    except BaseException:
        if embedded is not None:
            embedded.release()
        raise


def published(settings: Settings, url: str) -> Settings:
    """The settings to hand the actors: ``mongo_url`` is the control plane's store ``url``
    (password and all), and a loopback URL is tied to this process's Ray node (``store_node``),
    the only node on which it names this store, unless the operator bound the embedded store
    (``store_bind``) to the address it names, for the other nodes to reach."""
    import dataclasses

    bound = settings.store_bind is not None
    node = _ray_node(any_process=True) if is_loopback_url(url) and not bound else None
    return dataclasses.replace(settings, mongo_url=url, store_node=node)


def is_loopback_url(url: str) -> bool:
    """Whether every host of the MongoDB ``url`` is a loopback address (``localhost``,
    ``127.x.y.z``, ``::1``): a URL that names a different server on each machine."""
    if url.startswith("mongodb+srv://"):
        return False  # a DNS seed list: never a loopback address (and parsing it would look it up)
    try:
        hosts = [host for host, _port in parse_uri(url, validate=False)["nodelist"]]
    except (pymongo.errors.InvalidURI, pymongo.errors.ConfigurationError, ValueError):
        return False
    return bool(hosts) and all(_is_loopback_host(host) for host in hosts)


def _is_loopback_host(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name, or a socket path
        return False


def _ray_node(*, any_process: bool = False) -> str | None:
    """This process's Ray node id when it is a Ray worker (an actor), or with ``any_process``
    a connected driver too; None otherwise (Ray is never imported here)."""
    ray = sys.modules.get("ray")
    if ray is None or not ray.is_initialized():
        return None
    worker = ray._private.worker.global_worker
    if not any_process and worker.mode != ray._private.worker.WORKER_MODE:
        return None
    try:
        return str(ray.get_runtime_context().get_node_id())
    except Exception:  # noqa: BLE001 - a Ray Client driver has no node of its own
        return None


def _check_reachable_from_this_node(settings: Settings) -> None:
    if settings.store_node is None or not is_loopback_url(settings.mongo_url or ""):
        return
    node = _ray_node()
    if node is None or node == settings.store_node:
        return
    raise StoreError(
        f"the cluster's record store is at {redact_url(settings.mongo_url or '')}, a loopback address of Ray "
        f"node {settings.store_node}, and this actor runs on node {node}, where that address is another "
        "machine's (or nothing). Bind the embedded store to an address the other nodes reach "
        "(MANO_STORE_BIND=0.0.0.0 or an address of that machine) or use a shared MongoDB (MANO_MONGO_URL) "
        "where the control plane starts")


class Store:
    """The record store: one repository per collection, sharing one pymongo client.

    Attributes:
        nsr, vnfr: SONATA records.
        services: mano's service instance records.
        operations: lifecycle operations with step progress.
        plugins: the plugin manager's registry.
        specific_managers: the SSM/FSM registry.
        leases: which activation runs each instance now (``mano.lifecycle.lease``).
        gateway_replies: the final replies the AMQP gateway still owes (``mano.gateway.core``).
        cancellations: operators' requests to stop a running operation.
        ns_descriptors, ns_identifiers: the SOL005 API's NSD infos and NS instance identifiers.
        subscriptions, notifications: the SOL005 API's subscriptions and the notifications owed.
        embedded: the embedded server handle, or None with ``MANO_MONGO_URL``.
    """

    nsr: NsrRepository
    vnfr: VnfrRepository
    services: ServiceRepository
    operations: OperationRepository
    plugins: PluginRepository
    specific_managers: SpecificManagerRepository
    leases: LeaseRepository
    gateway_replies: GatewayReplyRepository
    cancellations: CancelRequestRepository
    ns_descriptors: NsdInfoRepository
    ns_identifiers: NsIdentifierRepository
    subscriptions: SubscriptionRepository
    notifications: NotificationRepository

    def __init__(self, url: str, *, database: str = "mano", timeout_ms: int = 5000,
                 embedded: EmbeddedMongo | None = None, client: Any = None):
        """``client``: a pymongo-compatible client to use instead of connecting to ``url``."""
        self._url = url
        self.embedded = embedded
        with map_store_errors(url, "connect"):
            self._client: pymongo.MongoClient[dict[str, Any]] = client or pymongo.MongoClient(
                url, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms,
                socketTimeoutMS=timeout_ms, tz_aware=True, appname="mano")
        db = self._client[database]
        self.nsr = NsrRepository(db, url=url)
        self.vnfr = VnfrRepository(db, url=url)
        self.services = ServiceRepository(db, url=url)
        self.operations = OperationRepository(db, url=url)
        self.plugins = PluginRepository(db, url=url)
        self.specific_managers = SpecificManagerRepository(db, url=url)
        self.leases = LeaseRepository(db, url=url)
        self.gateway_replies = GatewayReplyRepository(db, url=url)
        self.cancellations = CancelRequestRepository(db, url=url)
        self.ns_descriptors = NsdInfoRepository(db, url=url)
        self.ns_identifiers = NsIdentifierRepository(db, url=url)
        self.subscriptions = SubscriptionRepository(db, url=url)
        self.notifications = NotificationRepository(db, url=url)
        try:
            self.ping()
            for repository in self.repositories:
                repository.ensure_indexes()
        except BaseException:
            self._client.close()
            raise

    @classmethod
    def in_memory(cls, database: str = "mano") -> Store:
        """A store in this process's memory (mongomock behind the same pymongo interface and the
        same repositories): for unit tests of the lifecycle core, which then need no server. The
        integration tests and every runtime use a real server (``connect``)."""
        import mongomock  # a test dependency

        return cls("memory://", database=database, client=mongomock.MongoClient(tz_aware=True))

    @property
    def url(self) -> str:
        """The server URL, password removed."""
        return redact_url(self._url)

    @property
    def full_url(self) -> str:
        """The server URL with its password: only for handing to this runtime's actors
        (:func:`published`), never for output."""
        return self._url

    @property
    def repositories(self) -> tuple[Repository[Any], ...]:
        """All repositories, one per collection."""
        return (self.nsr, self.vnfr, self.services, self.operations, self.plugins,
                self.specific_managers, self.leases, self.gateway_replies, self.cancellations,
                self.ns_descriptors, self.ns_identifiers, self.subscriptions, self.notifications)

    def fenced(self, token: int) -> Store:
        """This store as the holder of a service's lease, fencing token ``token``, writes the
        service's records (``nsr``, ``services``, ``operations``): a write is refused once a newer
        holder has written or fenced the record (:mod:`mano.store.repository`). VNFRs are not
        among them: each belongs to its VNF's lease, whose tokens count apart
        (:class:`mano.lifecycle.vnf.VnfController` writes them through ``vnfr.fenced``)."""
        view = object.__new__(Store)
        view.__dict__.update(self.__dict__)
        for name in ("nsr", "services", "operations"):
            setattr(view, name, getattr(self, name).fenced(token))
        return view

    def ping(self) -> None:
        """Check the server answers.

        Raises:
            StoreUnavailableError: it does not, within ``store_timeout_ms``.
        """
        with map_store_errors(self._url, "ping"):
            self._client.admin.command("ping")

    def close(self) -> None:
        """Close the connections; stop the embedded server if this process started it."""
        self._client.close()
        if self.embedded is not None:
            self.embedded.release()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Store {self.url}>"

    def __getstate__(self) -> Any:
        raise TypeError("Store cannot be pickled: pass Settings to the other process and call "
                        "mano.store.connect(settings) there")
