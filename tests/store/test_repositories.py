"""Integration tests: CRUD on every repository against the embedded nx-27017 server."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from mano.errors import DuplicateRecordError, RecordNotFoundError, StaleRecordError, StoreError
from mano.lifecycle.states import OperationState, OperationType, PluginState, ServiceState, VnfState
from mano.records import (
    NetworkFunctionRef,
    NsrRecord,
    OperationRecord,
    PluginRecord,
    Record,
    ServiceRecord,
    SmStatus,
    SmType,
    SpecificManagerRecord,
    VnfInstanceRef,
    VnfrRecord,
)
from mano.store import Repository, Store

pytestmark = pytest.mark.integration

NewId = Callable[..., str]


def make_service(record_id: str, **changes: Any) -> ServiceRecord:
    fields: dict[str, Any] = {
        "name": "sonata-demo", "nsd": {"name": "sonata-demo", "network_functions": []},
        "vnfds": ({"name": "iperf-vnf"},), "vim": "emulated", "user_data": {"customer": {"email": "a@b"}},
        "vnf_instances": (VnfInstanceRef(id="vnf-1", vnf_id="vnf_iperf", vnfd_name="iperf-vnf",
                                         vnfd_vendor="eu.sonata-nfv", vnfd_version="0.2", pop="pop-1"),),
    }
    return ServiceRecord(id=record_id, **{**fields, **changes})


def make_operation(record_id: str, service_id: str, **changes: Any) -> OperationRecord:
    return OperationRecord(id=record_id, type=OperationType.INSTANTIATE, service_id=service_id,
                           request={"NSD": {"name": "demo"}}, **changes)


def sample_records(new_id: NewId) -> list[tuple[str, Record, dict[str, Any]]]:
    """(repository attribute, a new record, a valid change) for every collection."""
    service_id = new_id("svc")
    return [
        ("services", make_service(service_id), {"state": ServiceState.READY}),
        ("operations", make_operation(new_id("op"), service_id).with_step("deploy", state="RUNNING"),
         {"state": OperationState.COMPLETED}),
        ("plugins", PluginRecord(id=new_id("plugin"), name="son-plugin.SLM", version="0.9"),
         {"state": PluginState.RUNNING}),
        ("specific_managers", SpecificManagerRecord(
            id=new_id("sm"), sm_id="sonssmservice1placement1", sm_type=SmType.SSM, owner_id=service_id,
            image="sonatanfv/placement", sm_kind="placement", options={"type": "placement"}),
         {"status": SmStatus.INSTANTIATED}),
        ("nsr", NsrRecord(id=service_id, status="normal operation", descriptor_reference="nsd-1",
                          network_functions=[NetworkFunctionRef(vnfr_id="vnf-1")]), {"status": "terminated"}),
        ("vnfr", VnfrRecord(id=new_id("vnf"), status="normal operation", descriptor_reference="vnfd-1",
                            service_id=service_id), {"status": "terminated"}),
    ]


@pytest.fixture(params=range(6), ids=["services", "operations", "plugins", "specific_managers",
                                      "nsr", "vnfr"])
def crud_case(request: pytest.FixtureRequest, embedded_store: Store, new_id: NewId
              ) -> tuple[Repository[Any], Record, dict[str, Any]]:
    attribute, record, change = sample_records(new_id)[request.param]
    return getattr(embedded_store, attribute), record, change


def test_crud_round_trip(crud_case: tuple[Repository[Any], Record, dict[str, Any]]) -> None:
    repository, record, change = crud_case
    stored = repository.insert(record)
    assert stored.rev == 0
    assert repository.get(record.id) == stored
    assert repository.find_one(record.id) == stored
    assert repository.find({"id": record.id}) == [stored]
    assert repository.count({"id": record.id}) == 1

    updated = repository.update(stored.evolve(**change))
    assert updated.rev == 1
    read_back = repository.get(record.id)
    assert read_back == updated
    for field, value in change.items():
        assert getattr(read_back, field) == value

    assert repository.delete(record.id) is True
    assert repository.find_one(record.id) is None
    assert repository.delete(record.id, missing_ok=True) is False


def test_insert_twice_is_a_duplicate(crud_case: tuple[Repository[Any], Record, dict[str, Any]]) -> None:
    repository, record, _ = crud_case
    repository.insert(record)
    with pytest.raises(DuplicateRecordError):
        repository.insert(record)


def test_missing_records_are_reported_with_collection_and_id(embedded_store: Store) -> None:
    with pytest.raises(RecordNotFoundError, match=r"no operations record with id 'nope'"):
        embedded_store.operations.get("nope")
    with pytest.raises(RecordNotFoundError, match="services.*'nope'"):
        embedded_store.services.update(make_service("nope"))
    with pytest.raises(RecordNotFoundError):
        embedded_store.plugins.delete("nope")
    assert embedded_store.vnfr.find_one("nope") is None


def test_stale_update_is_refused_not_applied(embedded_store: Store, new_id: NewId) -> None:
    services = embedded_store.services
    original = services.insert(make_service(new_id("svc")))
    winner = services.update(original.model_copy(update={"state": ServiceState.READY}))
    stale = original.model_copy(update={"state": ServiceState.FAILED})
    with pytest.raises(StaleRecordError, match=rf"services record '{original.id}'.*expected rev 0.*rev 1"):
        services.update(stale)
    assert services.get(original.id) == winner


def test_updated_at_is_stamped_on_every_write(embedded_store: Store, new_id: NewId) -> None:
    long_ago = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
    stored = embedded_store.services.insert(make_service(new_id("svc"), updated_at=long_ago))
    assert stored.updated_at > long_ago
    updated = embedded_store.services.update(stored.model_copy(update={"state": ServiceState.READY}))
    assert updated.updated_at >= stored.updated_at
    assert updated.created_at == stored.created_at


def test_upsert_inserts_then_updates_by_revision(embedded_store: Store, new_id: NewId) -> None:
    plugins = embedded_store.plugins
    plugin = PluginRecord(id=new_id("plugin"), name="son-plugin.FLM", version="1")
    first = plugins.upsert(plugin)
    second = plugins.upsert(first.model_copy(update={"state": PluginState.RUNNING}))
    assert (first.rev, second.rev) == (0, 1)
    with pytest.raises(StaleRecordError):
        plugins.upsert(first)  # based on rev 0: never overwrites the newer rev 1


def test_upsert_told_what_the_caller_found_skips_the_lookup_and_still_never_overwrites(
        embedded_store: Store, new_id: NewId, monkeypatch: pytest.MonkeyPatch) -> None:
    plugins = embedded_store.plugins
    lookups = []
    real_find_one = plugins.find_one
    monkeypatch.setattr(plugins, "find_one", lambda i: lookups.append(i) or real_find_one(i))
    plugin = PluginRecord(id=new_id("plugin"), name="son-plugin.FLM", version="1")
    first = plugins.upsert(plugin, exists=False)
    second = plugins.upsert(first.model_copy(update={"state": PluginState.RUNNING}), exists=True)
    assert (first.rev, second.rev, lookups) == (0, 1, [])
    # Found none, but someone inserted it since: the revision-checked update decides.
    with pytest.raises(StaleRecordError):
        plugins.upsert(plugin, exists=False)
    assert plugins.get(plugin.id).state == PluginState.RUNNING


def test_find_with_filters_sort_and_limit(embedded_store: Store, new_id: NewId) -> None:
    operations = embedded_store.operations
    service_id = new_id("svc")
    base = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    for i, state in enumerate([OperationState.COMPLETED, OperationState.PROCESSING,
                               OperationState.FAILED_TEMP, OperationState.FAILED]):
        operations.insert(make_operation(f"{service_id}-op{i}", service_id, state=state,
                                         created_at=base + dt.timedelta(minutes=i)))
    newest_first = operations.find({"service_id": service_id}, sort="-created_at")
    assert [o.id[-3:] for o in newest_first] == ["op3", "op2", "op1", "op0"]
    assert [o.id[-3:] for o in operations.find({"service_id": service_id}, sort="created_at", limit=2)
            ] == ["op0", "op1"]
    assert operations.count({"service_id": service_id, "state": OperationState.COMPLETED}) == 1
    assert [o.id[-3:] for o in operations.unfinished(service_id)] == ["op1", "op2"]
    assert len(operations.for_service(service_id)) == 4
    assert operations.count({"id": {"$in": [f"{service_id}-op0", f"{service_id}-op9"]}}) == 1


def test_typed_queries_of_the_collection_repositories(embedded_store: Store, new_id: NewId) -> None:
    service_id = new_id("svc")
    embedded_store.services.insert(make_service(service_id, state=ServiceState.SCALING))
    assert service_id in [s.id for s in embedded_store.services.in_state(ServiceState.SCALING)]
    for n in (2, 1):
        embedded_store.vnfr.insert(VnfrRecord(id=f"{service_id}-vnf{n}", status="normal operation",
                                              descriptor_reference="vnfd", service_id=service_id))
    assert [v.id[-4:] for v in embedded_store.vnfr.for_service(service_id)] == ["vnf1", "vnf2"]
    name = new_id("son-plugin.Placement")
    embedded_store.plugins.insert(PluginRecord(id=new_id("p"), name=name, version="1"))
    assert len(embedded_store.plugins.by_name(name)) == 1


def test_specific_manager_id_is_unique_per_owner(embedded_store: Store, new_id: NewId) -> None:
    managers = embedded_store.specific_managers
    owner = new_id("svc")

    def manager(sm_id: str, kind: str | None) -> SpecificManagerRecord:
        return SpecificManagerRecord(id=new_id("sm"), sm_id=sm_id, sm_type=SmType.SSM, owner_id=owner,
                                     image=f"img/{sm_id}", sm_kind=kind)

    placement = managers.insert(manager("sonssmservice1placement1", "placement"))
    managers.insert(manager("sonssmservice1task1", "task"))  # a second SSM of the service is fine
    with pytest.raises(DuplicateRecordError):
        managers.insert(manager("sonssmservice1placement1", None))
    with pytest.raises(DuplicateRecordError):  # a new id, but the (owner, sm_id) key clashes
        managers.upsert(manager("sonssmservice1placement1", None))
    assert managers.by_sm_id(owner, "sonssmservice1placement1") == placement
    assert managers.of_kind(owner, "placement") == placement
    assert len(managers.for_owner(owner, SmType.SSM)) == 2
    assert managers.for_owner(owner, SmType.FSM) == []


@pytest.mark.parametrize(("path", "pick"), [
    ("records/sonata-demo-nsr.yml", lambda d: [d]),
    ("records/ia-nsr.yml", lambda d: [d["nsr"]]),
    ("smr/nsr.yml", list),
])
def test_sonata_nsrs_round_trip_through_the_store(embedded_store: Store, load_sonata_yaml: Callable[[str], Any],
                                                  path: str, pick: Callable[[Any], list[dict[str, Any]]]
                                                  ) -> None:
    for source in pick(load_sonata_yaml(path)):
        record = NsrRecord.from_sonata(source)
        embedded_store.nsr.delete(record.id, missing_ok=True)  # fixture ids are fixed
        embedded_store.nsr.insert(record)
        assert embedded_store.nsr.get(record.id).to_sonata() == source


def test_sonata_vnfrs_round_trip_through_the_store(embedded_store: Store,
                                                   load_sonata_yaml: Callable[[str], Any]) -> None:
    sources = load_sonata_yaml("records/sonata-demo-vnfrs.yml") + load_sonata_yaml("smr/vnfr.yml")
    for source in sources:
        record = VnfrRecord.from_sonata(source, service_id="svc-demo", vnf_state=VnfState.RUNNING,
                                        pop="pop-1")
        embedded_store.vnfr.delete(record.id, missing_ok=True)
        embedded_store.vnfr.insert(record)
        read_back = embedded_store.vnfr.get(record.id)
        assert (read_back.service_id, read_back.vnf_state, read_back.pop) == ("svc-demo", VnfState.RUNNING,
                                                                              "pop-1")
        assert read_back.to_sonata() == source
        bumped = embedded_store.vnfr.update(read_back.with_next_version(status="terminated"))
        assert embedded_store.vnfr.get(record.id).to_sonata() == {
            **source, "status": "terminated", "version": str(int(source["version"]) + 1)}
        assert bumped.rev == 1


def test_values_bson_cannot_hold_are_a_store_error(embedded_store: Store, new_id: NewId) -> None:
    with pytest.raises(StoreError, match=r"user_data\.big: integer \d+ does not fit in 64 bits"):
        embedded_store.services.insert(make_service(new_id("svc"), user_data={"big": 2**70}))


def test_indexes_exist_after_connect(embedded_store: Store) -> None:
    for repository in embedded_store.repositories:
        existing = repository.existing_indexes()
        for index in repository.indexes:
            assert existing.get(index.keys) == index.unique, (repository, index)
    assert embedded_store.operations.existing_indexes().keys() >= {
        (("service_id", 1), ("state", 1)), (("state", 1),)}
    assert (("service_id", 1),) in embedded_store.vnfr.existing_indexes()
    assert (("state", 1),) in embedded_store.services.existing_indexes()
    assert embedded_store.specific_managers.existing_indexes()[(("owner_id", 1), ("sm_id", 1))] is True
