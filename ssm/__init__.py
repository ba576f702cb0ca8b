"""SDK for service- and function-specific managers (SSMs / FSMs).

Subclass :class:`ServiceSpecificManager` or :class:`FunctionSpecificManager`, override the
hooks your SM declares in its descriptor, and name the class in the descriptor::

    service_specific_managers:
      - id: "placement-by-rule"
        image: "python://examples.ssm.placement:PinByRule"   # in-Ray runner
        options: [{key: type, value: placement}]

or build a container image whose command is ``python -m ssm.container pkg.module:Class``
and name the image instead (container runner, AMQP on ``generic.ssm.<service_id>``). The same
class runs unchanged in both. Hooks and their models: :mod:`ssm.base`, :mod:`ssm.models`;
the request/reply contract: :mod:`ssm.runtime`; runnable examples: ``examples/ssm/``.
"""
from ssm.base import FunctionSpecificManager, HookNotImplementedError, ServiceSpecificManager, SpecificManager
from ssm.models import (
    Alert,
    CduEnvs,
    ConfigureFunction,
    ConfigureRequest,
    ConfigureResponse,
    FsmKind,
    FsmRequest,
    FsmResponse,
    ManagerType,
    MonitorAlert,
    PlacementFunction,
    PlacementRequest,
    PlacementResponse,
    Pop,
    SmContext,
    SsmKind,
    StateRequest,
    StateResponse,
    TaskRequest,
    TaskResponse,
    Workflow,
    WorkflowRequest,
)

__all__ = [
    "Alert", "CduEnvs", "ConfigureFunction", "ConfigureRequest", "ConfigureResponse", "FsmKind", "FsmRequest",
    "FsmResponse", "FunctionSpecificManager", "HookNotImplementedError", "ManagerType", "MonitorAlert",
    "PlacementFunction", "PlacementRequest", "PlacementResponse", "Pop", "ServiceSpecificManager",
    "SmContext", "SpecificManager", "SsmKind", "StateRequest", "StateResponse", "TaskRequest", "TaskResponse",
    "Workflow", "WorkflowRequest",
]
