"""Unit tests of the typed records (no server needed)."""
from __future__ import annotations

import datetime as dt
import pickle
from collections.abc import Callable
from typing import Any

import pydantic
import pytest

from mano.errors import InvalidTransitionError
from mano.lifecycle.states import OperationState, OperationType, ServiceState, StepState, VnfState
from mano.records import (
    NetworkFunctionRef,
    NsrRecord,
    OperationRecord,
    PluginRecord,
    ServiceRecord,
    SmType,
    SonataStatus,
    SpecificManagerRecord,
    VnfInstanceRef,
    VnfrRecord,
    utcnow,
)

# (record class, fixture file, how to pick the record(s) out of the file)
SONATA_SOURCES: list[tuple[type[Any], str, Callable[[Any], list[dict[str, Any]]]]] = [
    (NsrRecord, "records/sonata-demo-nsr.yml", lambda d: [d]),
    (NsrRecord, "records/ia-nsr.yml", lambda d: [d["nsr"]]),
    (NsrRecord, "smr/nsr.yml", list),
    (VnfrRecord, "records/sonata-demo-vnfrs.yml", list),
    (VnfrRecord, "records/ia-vnfr.yml", lambda d: [d["vnfr"]]),
    (VnfrRecord, "records/ia-vnfr-iperf.yml", lambda d: [d["vnfr"]]),
    (VnfrRecord, "records/expected_vnfr_iperf.yml", lambda d: [d]),
    (VnfrRecord, "smr/vnfr.yml", list),
]


@pytest.fixture(params=SONATA_SOURCES, ids=lambda p: p[1])
def sonata_records(request: pytest.FixtureRequest, load_sonata_yaml: Callable[[str], Any]
                   ) -> tuple[type[Any], list[dict[str, Any]]]:
    record_type, path, pick = request.param
    return record_type, pick(load_sonata_yaml(path))


def make_operation(**changes: Any) -> OperationRecord:
    return OperationRecord(id="op-1", type=OperationType.INSTANTIATE, service_id="svc-1", **changes)


# --- SONATA records ------------------------------------------------------------------------------
def test_load_sonata_yamls_round_trip(sonata_records: tuple[type[Any], list[dict[str, Any]]]) -> None:
    record_type, sources = sonata_records
    assert sources
    for source in sources:
        record = record_type.from_sonata(source)
        assert record.to_sonata() == source
        assert record.id == source.get("id", source.get("uuid"))


def test_sonata_records_survive_pickling(load_sonata_yaml: Callable[[str], Any]) -> None:
    source = load_sonata_yaml("records/sonata-demo-vnfrs.yml")[0]
    record = VnfrRecord.from_sonata(source, service_id="svc-1", rev=3)
    copy = pickle.loads(pickle.dumps(record))  # how records travel between Ray actors
    assert copy == record
    assert copy.to_sonata() == source


def test_repository_copy_keyed_by_uuid_does_not_gain_an_id(load_sonata_yaml: Callable[[str], Any]) -> None:
    source = load_sonata_yaml("smr/vnfr.yml")[0]
    record = VnfrRecord.from_sonata(source)
    assert record.id == source["uuid"]
    assert "id" not in record.to_sonata()


def test_code_built_nsr_emits_sonata_defaults_and_no_store_fields() -> None:
    nsr = NsrRecord(id="svc-1", status=SonataStatus.NORMAL_OPERATION, descriptor_reference="nsd-1",
                    network_functions=[NetworkFunctionRef(vnfr_id="vnf-1")], rev=4, sla_id="sla-1")
    assert nsr.to_sonata() == {
        "id": "svc-1", "descriptor_version": "nsr-schema-01", "status": "normal operation",
        "version": "1", "descriptor_reference": "nsd-1", "network_functions": [{"vnfr_id": "vnf-1"}],
        "virtual_links": [], "forwarding_graphs": [], "sla_id": "sla-1"}


def test_vnfr_store_fields_are_not_part_of_the_sonata_record() -> None:
    vnfr = VnfrRecord(id="vnf-1", status="normal operation", descriptor_reference="vnfd-1",
                      service_id="svc-1", vnf_state=VnfState.RUNNING, pop="pop-1", vim="emulated")
    sonata = vnfr.evolve(vnf_state=VnfState.STOPPED).to_sonata()
    assert not {"service_id", "rev", "vnf_state", "pop", "vim"} & set(sonata)
    assert sonata["descriptor_version"] == "vnfr-schema-01" and sonata["version"] == "1"


def test_with_next_version_bumps_the_sonata_version_string(load_sonata_yaml: Callable[[str], Any]) -> None:
    source = load_sonata_yaml("records/sonata-demo-nsr.yml")
    nsr = NsrRecord.from_sonata(source)
    terminated = nsr.with_next_version(status=SonataStatus.TERMINATED)
    assert terminated.to_sonata() == {**source, "version": "2", "status": "terminated"}
    assert nsr.to_sonata() == source


def test_from_sonata_refuses_unknown_store_fields() -> None:
    with pytest.raises(TypeError, match="not store fields"):
        NsrRecord.from_sonata({"id": "x", "status": "s", "descriptor_reference": "d"}, owner="me")


# --- immutability and helpers --------------------------------------------------------------------
def test_records_are_frozen() -> None:
    operation = make_operation()
    with pytest.raises(pydantic.ValidationError):
        operation.state = OperationState.COMPLETED


def test_plain_records_refuse_unknown_fields() -> None:
    with pytest.raises(pydantic.ValidationError):
        make_operation(colour="red")


def test_evolve_validates_changes() -> None:
    service = ServiceRecord(id="svc-1", name="demo", nsd={}, vim="emulated")
    ready = service.evolve(state="READY", nsr_version=2)
    assert ready.state is ServiceState.READY and ready.nsr_version == 2
    assert service.state is ServiceState.INSTANTIATING
    with pytest.raises(pydantic.ValidationError):
        service.evolve(stat="READY")
    with pytest.raises(pydantic.ValidationError):
        service.evolve(state="RUNNING")


def test_evolve_keeps_the_sonata_shape(load_sonata_yaml: Callable[[str], Any]) -> None:
    source = load_sonata_yaml("smr/vnfr.yml")[0]  # keyed by uuid, no declared defaults given
    vnfr = VnfrRecord.from_sonata(source, service_id="svc-1")
    terminated = vnfr.evolve(status=SonataStatus.TERMINATED)
    assert terminated.to_sonata() == {**source, "status": "terminated"}
    assert terminated.service_id == "svc-1"


def test_with_step_returns_a_new_record_and_validates_changes() -> None:
    operation = make_operation()
    running = operation.with_step("deploy", state="RUNNING", attempts=1)
    done = running.with_step("deploy", state=StepState.DONE, result={"vnf_ids": ["v1"]})
    both = done.with_step("start")
    assert operation.steps == ()
    assert running.step("deploy").state is StepState.RUNNING  # type: ignore[union-attr]
    assert [s.name for s in both.steps] == ["deploy", "start"]
    deploy = both.step("deploy")
    assert deploy is not None and deploy.state is StepState.DONE and deploy.attempts == 1
    assert deploy.result == {"vnf_ids": ["v1"]}
    assert both.step("start").state is StepState.PENDING  # type: ignore[union-attr]
    assert both.step("missing") is None
    with pytest.raises(pydantic.ValidationError):
        operation.with_step("deploy", state="HALF_DONE")


def test_with_state_checks_transitions_and_stamps_finished_at() -> None:
    operation = make_operation()
    completed = operation.with_state(OperationState.COMPLETED)
    assert completed.finished_at is not None and operation.finished_at is None
    failed = operation.with_state(OperationState.FAILED, error="VIM refused")
    assert failed.error == "VIM refused"
    with pytest.raises(InvalidTransitionError):
        completed.with_state(OperationState.PROCESSING)


def test_service_vnf_instance_helpers() -> None:
    service = ServiceRecord(id="svc-1", name="demo", nsd={"name": "demo"}, vim="emulated")
    ref = VnfInstanceRef(id="vnf-1", vnf_id="vnf_iperf", vnfd_name="iperf-vnf", vnfd_vendor="eu.sonata",
                         vnfd_version="0.2", pop="pop-1")
    with_vnf = service.with_vnf_instance(ref)
    removed = with_vnf.with_vnf_instance(ref.model_copy(update={"terminated": True}))
    assert service.vnf_instances == () and with_vnf.vnf_instance("vnf-1").live  # type: ignore[union-attr]
    assert len(removed.vnf_instances) == 1
    assert not removed.vnf_instance("vnf-1").live  # type: ignore[union-attr]
    assert removed.without_vnf_instance("vnf-1").vnf_instances == ()


def test_timestamps_are_utc_milliseconds() -> None:
    naive = dt.datetime(2024, 5, 1, 12, 0, 0, 123456)
    plus_two = dt.datetime(2024, 5, 1, 14, 0, 0, 123999, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    a = PluginRecord(id="p1", name="slm", version="1", registered_at=naive)
    b = PluginRecord(id="p1", name="slm", version="1", registered_at=plus_two)
    assert a.registered_at == dt.datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=dt.timezone.utc)
    assert a.registered_at.tzinfo is dt.timezone.utc
    assert a == b
    assert utcnow().microsecond % 1000 == 0


def test_specific_manager_record_types() -> None:
    sm = SpecificManagerRecord.model_validate({
        "id": "u1", "sm_id": "sonssmservice1placement1", "sm_type": "ssm", "owner_id": "svc-1",
        "image": "sonata/placement", "sm_kind": "placement"})
    assert sm.sm_type is SmType.SSM
    assert sm.status.value == "ONBOARDED"
    with pytest.raises(pydantic.ValidationError):
        SpecificManagerRecord.model_validate(
            {"id": "u2", "sm_id": "x", "sm_type": "vm", "owner_id": "o", "image": "i"})


@pytest.mark.parametrize("stored, terminated", [("RUNNING", False), ("DEPLOYING", False), ("TERMINATED", True)])
def test_a_service_record_from_before_the_vnf_state_was_the_vnfrs_alone_reads_as_membership(stored, terminated):
    # Service records used to carry a copy of each VNF's state; they still load, as membership.
    ref = VnfInstanceRef.model_validate({"id": "v-1", "vnf_id": "vnf_iperf", "vnfd_name": "iperf-vnf",
                                         "vnfd_vendor": "eu.sonata-nfv", "vnfd_version": "0.2", "pop": "pop-1",
                                         "state": stored})
    assert (ref.terminated, ref.live) == (terminated, not terminated)
    assert "state" not in ref.model_dump()  # and is written back without the copy
