"""One activation at a time per instance: two hosts told to run the same service or VNF.

The hosts are two controllers with their own lease keepers (as a service actor and the SLM, or
a restarted actor and its stalled predecessor, would be), on the real store. Whichever finds
the lease taken does nothing; one that stalled past its lease is fenced out: it writes nothing
after its successor took over.
"""
from __future__ import annotations

import threading
import time

import pytest

from lifecycle_harness import Harness
from mano.errors import FencedOutError, LeaseHeldError
from mano.lifecycle.lease import Holder, InstanceLeases, service_key, vnf_key
from mano.lifecycle.local import FirstFitPlacement, LocalFunctions
from mano.lifecycle.ports import FunctionAction, FunctionDeployment
from mano.lifecycle.service import ServiceController
from mano.lifecycle.states import OperationState, ServiceState, VnfState
from mano.lifecycle.vnf import VnfController


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def keeper(store, *, ttl_s=10.0, identity=None, clock=None, linger_s=0.0):
    """A lease keeper that gives leases back at once (``linger_s=0``) unless told otherwise."""
    return InstanceLeases(store.leases, Holder.this_process(identity), ttl_s=ttl_s, linger_s=linger_s,
                          **({"clock": clock} if clock else {}))


# --- the lease rules ---------------------------------------------------------------------------
def test_a_held_lease_is_refused_to_another_holder_until_it_expires(store):
    clock = Clock()
    a, b = keeper(store, clock=clock), keeper(store, clock=clock)
    first = a.acquire("service:s1")
    assert (first.token, first.took_over) == (1, False)
    with pytest.raises(LeaseHeldError, match="service:s1 is run by"):
        b.acquire("service:s1")
    clock.now += 10.5  # a never renewed: expired
    taken = b.acquire("service:s1")
    assert (taken.token, taken.took_over) == (2, True)
    assert store.leases.get("service:s1").holder == b.holder.identity


def test_a_released_lease_is_taken_without_fencing_and_the_token_still_grows(store):
    a, b = keeper(store), keeper(store)
    with a.hold("vnf:v1") as token:
        assert token == 1 and a.holds("vnf:v1")
    assert not a.holds("vnf:v1") and a.active("vnf:v1") is None
    grant = b.acquire("vnf:v1")
    assert (grant.token, grant.took_over) == (2, False)


def test_one_process_does_not_run_an_instance_twice_but_its_restart_takes_over_at_once(store):
    first = keeper(store, identity="actor:abc")
    first.acquire("service:s2")
    with pytest.raises(LeaseHeldError):
        first.acquire("service:s2")  # a second call in the same incarnation
    restarted = keeper(store, identity="actor:abc")  # same actor id, new process
    grant = restarted.acquire("service:s2")
    assert (grant.token, grant.took_over) == (2, True)
    with pytest.raises(LeaseHeldError):
        keeper(store, identity="actor:other").acquire("service:s2")


def test_a_restarted_holder_finds_the_leases_its_previous_incarnation_left(store):
    """What a restarted pre-started host resumes: the instance whose lease it still held."""
    clock = Clock()
    crashed = keeper(store, identity="actor:host-1", clock=clock)
    crashed.acquire("service:s3")
    crashed.acquire("vnf:v3")
    with crashed.hold("service:s4"):
        pass  # given back: not left over
    keeper(store, identity="actor:other", clock=clock).acquire("service:s5")
    restarted = keeper(store, identity="actor:host-1", clock=clock)
    assert restarted.left_over("service") == ["service:s3"] and restarted.left_over("vnf") == ["vnf:v3"]
    clock.now += 10.5  # expired meanwhile: the SLM's recovery re-activates it elsewhere
    assert restarted.left_over("service") == []


def test_renewal_keeps_a_lease_and_notices_its_loss(store):
    clock = Clock()
    a, b = keeper(store, clock=clock), keeper(store, clock=clock)
    a.acquire("vnf:v2")
    clock.now += 8
    a.renew_all()
    clock.now += 8  # 16 s after taking it, 8 after the renewal: still a's
    with pytest.raises(LeaseHeldError):
        b.acquire("vnf:v2")
    clock.now += 5
    b.acquire("vnf:v2")
    a.renew_all()
    assert not a.holds("vnf:v2") and store.leases.get("vnf:v2").holder == b.holder.identity


def test_a_waiting_acquire_gets_the_lease_when_it_is_given_back(store):
    a, b = keeper(store), keeper(store)
    a.acquire("vnf:v3")
    threading.Timer(0.2, a.release, args=("vnf:v3",)).start()
    assert b.acquire_within("vnf:v3", 5.0).token == 2


def test_a_lease_given_back_lingers_for_the_next_call_of_its_host_then_is_released(store):
    a, b = keeper(store, linger_s=0.3), keeper(store)
    with a.hold("vnf:v4") as token:
        assert token == 1
    rev = store.leases.get("vnf:v4").rev
    assert not a.holds("vnf:v4") and a.active("vnf:v4") is not None  # lingering: still a's in the store
    with pytest.raises(LeaseHeldError):
        b.acquire("vnf:v4")
    with a.hold("vnf:v4") as again:  # the next call of the same host: the same lease, no store write
        assert again == 1 and a.holds("vnf:v4")
    assert store.leases.get("vnf:v4").rev == rev
    grant = b.acquire_within("vnf:v4", 5.0)  # once the linger is over, a gives it back
    assert (grant.token, grant.took_over) == (2, False)
    a.close()


# --- two hosts, one service ----------------------------------------------------------------------
class BlockingPlacement(FirstFitPlacement):
    """First fit that stops in the middle of the place step until let go."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.go = threading.Event()

    def place(self, request):
        self.entered.set()
        assert self.go.wait(30)
        return super().place(request)


class CountingDeploys:
    def __init__(self, driver) -> None:
        self.ids: list[str] = []
        original = driver.deploy_vnf

        def deploy(deployment):
            self.ids.append(deployment.vnf_instance_id)
            return original(deployment)
        driver.deploy_vnf = deploy


def start(target, *args):
    outcome: dict = {}

    def run():
        try:
            outcome["value"] = target(*args)
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            outcome["error"] = exc
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def controller(harness: Harness, service_id: str, placement, leases) -> ServiceController:
    return ServiceController(service_id, harness.store, harness.functions, harness.vim, placement, leases=leases)


def test_two_hosts_running_one_service_only_one_makes_progress(harness, demo, store):
    deploys = CountingDeploys(harness.vim_driver)
    op = harness.slm.instantiate(demo)
    placement = BlockingPlacement()
    host_a = controller(harness, op.service_id, placement, keeper(store))
    host_b = controller(harness, op.service_id, FirstFitPlacement(), keeper(store))
    thread, outcome = start(host_a.run, op.id)
    assert placement.entered.wait(30)
    before = store.operations.get(op.id)

    with pytest.raises(LeaseHeldError, match=f"service:{op.service_id} is run by"):
        host_b.run(op.id)
    assert store.operations.get(op.id) == before  # the loser wrote nothing
    assert deploys.ids == []

    placement.go.set()
    thread.join(30)
    assert outcome["value"].state == OperationState.COMPLETED
    assert sorted(deploys.ids) == sorted({i for i in deploys.ids})  # each VNF deployed once
    assert len(deploys.ids) == len(store.vnfr.for_service(op.service_id)) == 3
    assert store.services.get(op.service_id).state == ServiceState.READY


def test_a_host_that_stalled_past_its_lease_is_fenced_out(harness, demo, store):
    op = harness.slm.instantiate(demo)
    placement = BlockingPlacement()
    stalled = keeper(store, ttl_s=0.3)
    stalled.close()  # it never renews: as a process paused (or cut off) for longer than the lease
    host_a = controller(harness, op.service_id, placement, stalled)
    thread, outcome = start(host_a.run, op.id)
    assert placement.entered.wait(30)

    successor = keeper(store)
    host_b = controller(harness, op.service_id, FirstFitPlacement(), successor)
    done = None
    for _ in range(100):  # the lease expires 0.3 s after host a took it
        try:
            done = host_b.run(op.id)
            break
        except LeaseHeldError:
            threading.Event().wait(0.05)
    assert done is not None and done.state == OperationState.COMPLETED
    token = store.leases.get(service_key(op.service_id)).token
    assert token == 2
    settled = {"op": store.operations.get(op.id), "service": store.services.get(op.service_id),
               "nsr": store.nsr.get(op.service_id)}

    placement.go.set()  # host a wakes up and carries on where it stopped
    thread.join(30)
    assert isinstance(outcome.get("error"), FencedOutError), outcome
    assert store.operations.get(op.id) == settled["op"]
    assert store.services.get(op.service_id) == settled["service"]
    assert store.nsr.get(op.service_id) == settled["nsr"]
    assert all(r.fence == token for r in settled.values())


# --- two hosts, one VNF ---------------------------------------------------------------------------
def deployment(harness: Harness, demo, service_id: str, vnf_instance_id: str) -> FunctionDeployment:
    vnfd = next(iter(demo.vnfds.values()))
    return FunctionDeployment(service_id=service_id, vnf_id="vnf_firewall", vnf_instance_id=vnf_instance_id,
                              vnfd=vnfd.model_dump(mode="json", by_alias=True, exclude_none=True),
                              vim="emulated", pop="pop-0", networks={})


class BlockingVim:
    """The in-process VIM with a deploy that waits until let go (the first one only)."""

    def __init__(self, vim) -> None:
        self._vim = vim
        self.entered = threading.Event()
        self.go = threading.Event()
        self.deploys = 0

    def __getattr__(self, name):
        return getattr(self._vim, name)

    def deploy_vnf(self, vim, request):
        self.deploys += 1
        if self.deploys == 1:
            self.entered.set()
            assert self.go.wait(30)
        return self._vim.deploy_vnf(vim, request)


def test_two_hosts_acting_on_one_vnf_take_turns(harness, demo, store):
    vim = BlockingVim(harness.vim)
    host_a = VnfController("v-1", store, vim, leases=keeper(store))
    host_b = VnfController("v-1", store, vim, leases=keeper(store), wait_s=0.3)
    request = deployment(harness, demo, "s-1", "v-1")
    thread, outcome = start(host_a.deploy, request)
    assert vim.entered.wait(30)
    with pytest.raises(LeaseHeldError, match="vnf:v-1"):
        host_b.start(FunctionAction("s-1", "v-1"))
    assert vim.deploys == 1 and store.vnfr.find_one("v-1") is None
    vim.go.set()
    thread.join(30)
    assert outcome["value"]["id"] == "v-1"
    host_b.start(FunctionAction("s-1", "v-1"))  # its turn now
    assert store.vnfr.get("v-1").vnf_state == VnfState.RUNNING


def test_a_vnf_host_that_stalled_past_its_lease_is_fenced_out(harness, demo, store):
    vim = BlockingVim(harness.vim)
    stalled = keeper(store, ttl_s=0.3)
    stalled.close()
    host_a = VnfController("v-2", store, vim, leases=stalled)
    host_b = VnfController("v-2", store, vim, leases=keeper(store), wait_s=10)
    request = deployment(harness, demo, "s-2", "v-2")
    thread, outcome = start(host_a.deploy, request)
    assert vim.entered.wait(30)
    host_b.deploy(request)  # waits for the stalled lease to expire, then deploys
    host_b.start(FunctionAction("s-2", "v-2"))
    settled = store.vnfr.get("v-2")
    assert settled.fence == store.leases.get(vnf_key("v-2")).token == 3

    vim.go.set()
    thread.join(30)
    assert isinstance(outcome.get("error"), FencedOutError), outcome
    assert store.vnfr.get("v-2") == settled  # still RUNNING, as host b left it


def test_the_in_process_flm_serialises_calls_on_one_vnf(harness, demo, store):
    """Two threads of one host (the FLM) on one VNF: the second waits, nothing is lost."""
    functions = LocalFunctions(store, harness.vim)
    request = deployment(harness, demo, "s-3", "v-3")
    functions.deploy([request])
    results = []
    threads = [threading.Thread(target=lambda: results.append(functions.start([FunctionAction("s-3", "v-3")])))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 4 and store.vnfr.get("v-3").vnf_state == VnfState.RUNNING


# --- what a host keeps while it holds a lease ----------------------------------------------------
class CountingReads:
    """Counts the store reads of one collection's records (find_one, through every fenced view)."""

    def __init__(self, monkeypatch, collection: str) -> None:
        from mano.store.repository import Repository
        self.count = 0
        original = Repository.find_one

        def find_one(repo, record_id):
            if repo.collection_name == collection:
                self.count += 1
            return original(repo, record_id)
        monkeypatch.setattr(Repository, "find_one", find_one)


class CountingRemovals:
    def __init__(self, vim) -> None:
        self._vim, self.removed = vim, []

    def __getattr__(self, name):
        return getattr(self._vim, name)

    def remove_vnf(self, vim, service_id, vnf_instance_id):
        self.removed.append(vnf_instance_id)
        return self._vim.remove_vnf(vim, service_id, vnf_instance_id)


def test_a_host_acts_on_the_vnfr_it_keeps_under_its_lease_until_another_host_had_the_lease(
        harness, demo, store, monkeypatch):
    clock = Clock()
    vim = CountingRemovals(harness.vim)
    host_a = VnfController("v-5", store, vim, leases=keeper(store, clock=clock, linger_s=60))
    reads = CountingReads(monkeypatch, "vnfr")
    host_a.deploy(deployment(harness, demo, "s-5", "v-5"))
    assert reads.count == 1  # a new lease: is the VNF deployed already?
    host_a.start(FunctionAction("s-5", "v-5"))
    host_a.configure(FunctionAction("s-5", "v-5"))
    host_a.stop(FunctionAction("s-5", "v-5"))
    assert reads.count == 1  # the same lease all along: its own copy is the VNFR
    assert store.vnfr.get("v-5").vnf_state == VnfState.STOPPED

    clock.now += 11  # host a's lease expires (it is not renewed in this test's time) ...
    host_b = VnfController("v-5", store, vim, leases=keeper(store, clock=clock))
    host_b.remove(FunctionAction("s-5", "v-5"))  # ... host b takes it over and removes the VNF
    assert store.vnfr.get("v-5").vnf_state == VnfState.TERMINATED and vim.removed == ["v-5"]

    host_a.remove(FunctionAction("s-5", "v-5"))  # its copy (STOPPED) is not the VNFR any more
    assert vim.removed == ["v-5"]  # it read the store, saw the removal and did nothing
    assert store.vnfr.get("v-5").vnf_state == VnfState.TERMINATED


def test_a_service_operation_is_read_once_under_the_lease(harness, demo, store, monkeypatch):
    op = harness.slm.instantiate(demo)
    reads = CountingReads(monkeypatch, "operations")
    done = controller(harness, op.service_id, FirstFitPlacement(), keeper(store)).run(op.id)
    assert done.state == OperationState.COMPLETED and reads.count == 1


def test_a_finished_operation_is_answered_while_another_host_holds_the_service(harness, demo, store):
    op = harness.slm.instantiate(demo)
    assert controller(harness, op.service_id, FirstFitPlacement(), keeper(store)).run(op.id).state \
        == OperationState.COMPLETED
    other = keeper(store)
    other.acquire(service_key(op.service_id))  # the service's next operation runs elsewhere
    host = ServiceController(op.service_id, harness.store, harness.functions, harness.vim, FirstFitPlacement(),
                             leases=keeper(store), lease_wait_s=30)
    started = time.monotonic()
    assert host.run(op.id).state == OperationState.COMPLETED  # a repeated request: its answer, at once
    assert time.monotonic() - started < 10
