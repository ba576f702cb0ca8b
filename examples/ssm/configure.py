"""A configure SSM: computes each VNF's place in the service chain.

Descriptor (``examples/ssm/configure-chain/nsd.yml``)::

    service_specific_managers:
      - id: "chain-configure"
        image: "python://examples.ssm.configure:ChainConfigure"
        options:
          - {key: "type", value: "configure"}
          - {key: "log_level", value: "debug"}

For the functions of the request, in order, the answer gives each VNF (by ``vnf_id``) its
``position``, the ``next_hop`` VNF (``egress`` for the last one), the workflow it was
configured for and the ``log_level`` option. The orchestrator hands each entry to that VNF's
configure step (its FSM, or the VNF itself).

Try it::

    python -m examples.ssm.configure
"""
from __future__ import annotations

from typing import Any

from ssm import ConfigureRequest, ServiceSpecificManager


class ChainConfigure(ServiceSpecificManager):
    """Chain position, next hop and log level per VNF."""

    def configure(self, request: ConfigureRequest) -> dict[str, dict[str, Any]]:
        order = list(dict.fromkeys(f.vnf_id for f in request.functions))
        level = self.context.options.get("log_level", "info")
        return {vnf_id: {"position": i + 1, "next_hop": order[i + 1] if i + 1 < len(order) else "egress",
                         "workflow": request.workflow, "log_level": level}
                for i, vnf_id in enumerate(order)}


if __name__ == "__main__":
    from ssm import SmContext
    from ssm.runtime import SmRuntime

    sm = SmRuntime(ChainConfigure, SmContext(sm_id="chain-configure", sm_type="ssm", service_id="demo",
                                             kinds=("configure",), options={"log_level": "debug"}))
    reply = sm.handle({"ssm_type": "configure", "content": {
        "functions": [{"vnf_id": "vnf_iperf"}, {"vnf_id": "vnf_firewall"}, {"vnf_id": "vnf_tcpdump"}]}})
    print(reply["result"])
