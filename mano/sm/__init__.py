"""Specific managers (SSMs/FSMs) on the orchestrator side: discovery, the registry, the port.

* :mod:`mano.lifecycle.sm_port` – the port the workflows call (:class:`SpecificManagers`, :class:`SmOutcome`),
  owned by the lifecycle core and re-exported here;
* :mod:`mano.sm.discovery` – which SMs a service declares (SONATA's rules);
* :mod:`mano.sm.validation` – checking payloads and answers;
* :mod:`mano.sm.registry` – the registry core (records, runners, fallbacks, clean-up);
* :mod:`mano.sm.local` – the in-process port (tests);
* adapters: :mod:`mano.sm.container` (Docker + AMQP runner), :mod:`mano.sm.broker` (per-SM
  broker users, the AMQP gate), :mod:`mano.sm.image` (the local SM base image).

The workflows build the payloads from their own objects with :mod:`mano.lifecycle.sm_payloads`:
this package does not import the lifecycle. The SM developer's side is the ``ssm`` package. The
in-Ray runner and the SMR actor are in ``actors/smr.py``; the Ray port in ``actors/smr_port.py``.
"""
from mano.lifecycle.sm_port import (
    FSM_KINDS,
    SSM_KINDS,
    SmError,
    SmOutcome,
    SmRequestError,
    SmUpdateError,
    SpecificManagers,
    UnknownSmError,
)

__all__ = ["FSM_KINDS", "SSM_KINDS", "SmError", "SmOutcome", "SmRequestError", "SmUpdateError",
           "SpecificManagers", "UnknownSmError"]
