"""mano: an actor-model NFV MANO runtime on Ray, wire-compatible with SONATA.

    import mano
    svc = mano.instantiate("examples/sonata-demo")   # NSD dir, NSD file, dict or package
    svc.status, svc.nsr, svc.vnfrs
    svc.scale_out("vnf_iperf", 2); svc.scale_in("vnf_iperf", 1)
    svc.terminate()
    mano.cancel(op_id)                               # stop a running operation: FAILED_TEMP
    mano.retry(op_id); mano.rollback(op_id)          # an operation left FAILED_TEMP
"""
from mano.api import (OperationFailedError, Runtime, Service, cancel, get, init, instantiate, operation, retry,
                      rollback, runtime, services, shutdown)
from mano.errors import DescriptorError, LifecycleError, ManoError
from mano.settings import Settings

__all__ = ["DescriptorError", "LifecycleError", "ManoError", "OperationFailedError", "Runtime", "Service",
           "Settings", "cancel", "get", "init", "instantiate", "operation", "retry", "rollback", "runtime", "services",
           "shutdown"]
__version__ = "0.1.0"
