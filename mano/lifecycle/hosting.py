"""Where an instance's work runs: the one hosting decision (DESIGN decision 10).

Service and VNF instances are virtual actors. Their work always runs through the same code
(:class:`~mano.lifecycle.service.ServiceController`, :class:`~mano.lifecycle.vnf.VnfController`)
under the instance's lease (:mod:`mano.lifecycle.lease`), so it is correct wherever it runs; the
host only decides what it costs. Two hosts exist:

* ``ACTOR``: an actor that is the instance's activation: a pre-started host it was given as a
  new instance (``service-host-<hex>``, ``vnf-host-<hex>``, :mod:`mano.lifecycle.host_pool`),
  or its own actor (``service:<id>``, ``vnf:<id>``), activated if it is not up. Its state stays
  warm between requests and it passivates when idle.
* ``MANAGER``: a thread of the manager that received the work (the SLM for a service operation,
  the FLM for a VNF call), in a process that is already running.

Activating an actor that is not up starts a worker process, which costs ~0.6 CPU-s here:
several times the workflow it would run. So work goes to the instance's actor when that actor
is up, or when the machine can start one without making a queue; under a burst (no pre-started
host left, or a CPU's worth of actors already starting) it runs in the manager instead, and the
instance's actor is activated by a later request. VNF batch work never starts a process: a VNF
without a live actor is handled in the FLM; only work on the VNF's own state (heal) activates it.

Pure functions of what the caller observed, so the policy is unit-tested without Ray
(``tests/lifecycle/test_hosting.py``); the actor shells only observe and obey.
"""
from __future__ import annotations

import dataclasses
import enum
from typing import Callable


class Host(str, enum.Enum):
    ACTOR = "actor"
    MANAGER = "manager"


@dataclasses.dataclass(frozen=True)
class ServiceLoad:
    """What the SLM sees of the machine when a request arrives.

    ``spares_ready``: pre-started service hosts left (after one was taken for this request);
    ``actors_starting``: service actors started and not answering yet; ``cpus``: the CPUs that
    start them (process starts are CPU-bound: more than one per CPU only slows each one down).
    """

    spares_ready: int
    actors_starting: int
    cpus: int

    @property
    def in_burst(self) -> bool:
        return self.spares_ready == 0 or self.actors_starting >= max(1, self.cpus)


def host_service_operation(*, has_actor: Callable[[], bool], new_operation: Callable[[], bool],
                           load: ServiceLoad, manager_may_host: bool = True) -> Host:
    """Where the SLM runs a service operation it admitted.

    ``has_actor()``: the service's activation is an actor that is up (a pre-started host the
    new service was given counts); ``new_operation()``: the request is not a retry of a recorded operation (a retry
    goes to the actor, which resumes it or finds it running); ``manager_may_host``:
    ``Settings.burst_in_slm``. The two observations cost a lookup each (Ray's actor directory,
    the store), so they are asked only when the load leaves the choice open: outside a burst,
    every request goes to the actor without them.
    """
    if not manager_may_host or not load.in_burst or has_actor() or not new_operation():
        return Host.ACTOR
    return Host.MANAGER


def host_vnf_call(*, has_actor: bool, needs_actor: bool = False) -> Host:
    """Where the FLM runs one VNF's call: on its actor if that is up or the call works on the
    VNF's own state (``needs_actor``: heal), else in the FLM, so batch work starts no process."""
    return Host.ACTOR if has_actor or needs_actor else Host.MANAGER
