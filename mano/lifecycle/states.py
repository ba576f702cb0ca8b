"""The lifecycle's state machines, under the name they have always been imported by.

They are defined in :mod:`mano.states`, beside the data model that stores them (records are
data, and do not depend on the lifecycle package); this module re-exports the same objects.
"""
from mano.states import (
    OPERATION_TRANSITIONS,
    PLUGIN_TRANSITIONS,
    SERVICE_TRANSITIONS,
    VNF_TRANSITIONS,
    OperationState,
    OperationType,
    PluginState,
    ServiceState,
    StepState,
    VnfState,
    transition,
)

__all__ = ["OPERATION_TRANSITIONS", "PLUGIN_TRANSITIONS", "SERVICE_TRANSITIONS", "VNF_TRANSITIONS",
           "OperationState", "OperationType", "PluginState", "ServiceState", "StepState", "VnfState",
           "transition"]
