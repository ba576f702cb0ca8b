"""The lifecycle core wired in-process for tests: SLM admission + a controller per service."""
from __future__ import annotations

from mano.lifecycle.local import FirstFitPlacement, LocalFunctions, LocalVim
from mano.lifecycle.service import ServiceController
from mano.lifecycle.slm import ServiceLifecycleManager
from mano.lifecycle.vim_port import Pop
from mano.vim.emulated import EmulatedVim


class Harness:
    """The lifecycle core wired in-process: SLM admission + a controller per service."""

    def __init__(self, store, pops):
        self.store = store
        self.vim_driver = EmulatedVim(pops, seed=1)
        self.vim = LocalVim({"emulated": self.vim_driver})
        self.functions = LocalFunctions(store, self.vim)
        self.placement = FirstFitPlacement()
        self.slm = ServiceLifecycleManager(store)
        self.sms = None  # a SpecificManagers port, for the SSM/FSM tests

    def controller(self, service_id):
        # every step boundary asks for cancel requests: in-process, operations take milliseconds
        return ServiceController(service_id, self.store, self.functions, self.vim, self.placement, sms=self.sms,
                                 cancel_check_s=0.0)

    def run(self, op):
        return self.controller(op.service_id).run(op.id)

    def instantiate(self, package, **kwargs):
        return self.run(self.slm.instantiate(package, **kwargs))

    def used(self):
        return {p.vim_uuid: (p.core_used, p.memory_used) for p in self.vim_driver.list_pops()}


def small_pops(cores=8, memory=16, count=2):
    return [Pop(vim_uuid=f"pop-{i}", name=f"pop{i}", city=f"city{i}", core_total=cores, memory_total=memory)
            for i in range(count)]
