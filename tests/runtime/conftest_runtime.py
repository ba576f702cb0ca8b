"""One real runtime per test session: embedded Ray, the session's store, all plugin actors."""
from __future__ import annotations

import uuid

import pytest

import mano
from mano.settings import Settings
from mano.lifecycle.vim_port import Pop
from polling import wait_until  # noqa: F401  (re-exported for the runtime tests)

# Instance actors passivate after this long without work. Tests that look at an instance's actor
# right after an operation need it still up: with one core busy elsewhere, 3 s was too short.
IDLE_S = 6.0


@pytest.fixture(scope="session")
def rt(mongo_url, tmp_path_factory):
    settings = Settings(home=tmp_path_factory.mktemp("runtime-home"), mongo_url=mongo_url,
                        mongo_db=f"rt{uuid.uuid4().hex[:8]}", dashboard=False, idle_passivate_s=IDLE_S,
                        heartbeat_s=0.5, step_timeout_s=30, monitoring_period_s=0)
    pops = [Pop(vim_uuid=f"pop-{i}", name=f"pop{i}", city=f"city{i}", core_total=32, memory_total=64)
            for i in range(3)]
    runtime = mano.init(settings, pops=pops)
    yield runtime
    mano.shutdown()


def used_cores(rt):
    return sum(p.core_used for p in rt.call("infrastructure-adaptor", "list_pops", "emulated"))


@pytest.fixture(scope="module")
def docker_client():
    """A client of the machine's dockerd (``.ci/services`` starts it); skip without one."""
    docker = pytest.importorskip("docker")
    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"dockerd is not running ({exc}); .ci/services starts it")
    return client


def activation(rt, service_id):
    """The name of the actor that is the service's activation now (a pre-started host or
    ``service:<id>``), or None."""
    return rt.call("slm", "activation_of", service_id)


def vnf_activation(rt, vnf_instance_id):
    return rt.call("flm", "activation_of", vnf_instance_id)


def full_spare_pools(rt):
    """Fill the SLM's and the FLM's pools of pre-started hosts and return their names once both
    are full, else None.

    Filled on request, not awaited: the runtime refills a pool only while the CPUs are idle
    enough, and beside a neighbour that keeps a core busy they never are (by design: operations
    then run warm in the SLM and FLM, which is faster than starting processes on one core).
    """
    service, vnf = rt.call("slm", "fill_spares"), rt.call("flm", "fill_spares")
    full = len(service) == rt.settings.spare_service_actors and len(vnf) == rt.settings.spare_vnf_actors
    return (service, vnf) if full else None
