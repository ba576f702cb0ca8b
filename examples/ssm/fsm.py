"""A start/stop FSM that sets environment variables and keeps configuration.

Descriptor (``examples/ssm/fsm-start-stop/firewall-vnfd.yml``)::

    function_specific_managers:
      - id: "firewall-env"
        image: "python://examples.ssm.fsm:EnvStartStop"
        options:
          - {key: "type", value: "start"}
          - {key: "type", value: "stop"}
          - {key: "type", value: "configure"}
          - {key: "type", value: "state"}
          - {key: "env", value: "FW_POLICY=drop-invalid;FW_LOG=1"}

``start`` answers ``envs`` for every deployment unit of the VNF: the ``env`` option's
variables plus ``MANO_SERVICE``, ``MANO_VNF`` and ``MANO_INSTANCE``. ``configure`` turns the
configuration it receives (``request.data['config']``, e.g. from a configure SSM) into
``CFG_<KEY>`` variables and remembers it; ``stop`` answers what it remembered under
``persist`` so it can be restored after a restart; ``state`` extracts it from an instance
that migrates and injects it into its successor (again as ``CFG_`` variables).

Try it::

    python -m examples.ssm.fsm
"""
from __future__ import annotations

from typing import Any

from ssm import CduEnvs, FsmRequest, FsmResponse, FunctionSpecificManager


def parse_env(text: str) -> dict[str, str]:
    """``"A=1;B=2"`` -> ``{"A": "1", "B": "2"}``."""
    pairs = (item.partition("=") for item in text.split(";"))
    return {k.strip(): v.strip() for k, sep, v in pairs if sep and k.strip()}


def unit_ids(vnfd: dict[str, Any]) -> list[str]:
    """The deployment unit ids of a VNFD (VM and container units)."""
    units = (vnfd.get("virtual_deployment_units") or []) + (vnfd.get("cloudnative_deployment_units") or [])
    return [u["id"] for u in units if isinstance(u, dict) and "id" in u]


class EnvStartStop(FunctionSpecificManager):
    """Sets env on start, turns configuration into env, persists it on stop."""

    def on_start(self) -> None:
        self.configured: dict[str, dict[str, Any]] = {}

    def start(self, request: FsmRequest) -> FsmResponse:
        envs = {**parse_env(self.context.options.get("env", "")), "MANO_SERVICE": self.context.service_id,
                "MANO_VNF": request.vnf_id, "MANO_INSTANCE": request.instance_id or request.vnf_id}
        return FsmResponse.done([CduEnvs(cdu_id=u, envs=envs) for u in unit_ids(request.vnfd)])

    def configure(self, request: FsmRequest) -> FsmResponse:
        config = dict(request.data.get("config") or {})
        self.configured[request.instance_id or request.vnf_id] = config
        envs = {f"CFG_{key.upper()}": str(value) for key, value in config.items()}
        return FsmResponse.done([CduEnvs(cdu_id=u, envs=envs) for u in unit_ids(request.vnfd)])

    def state(self, request: FsmRequest) -> FsmResponse:
        """Around a migration: ``extract`` answers the configuration remembered for the old
        instance; ``inject`` remembers it for the new one and sets it again as ``CFG_`` envs."""
        instance = request.instance_id or request.vnf_id
        if request.data.get("action") == "inject":
            config = dict(request.data.get("state") or {})
            self.configured[instance] = config
            envs = {f"CFG_{key.upper()}": str(value) for key, value in config.items()}
            return FsmResponse.done([CduEnvs(cdu_id=u, envs=envs) for u in unit_ids(request.vnfd)])
        return FsmResponse.done(content=self.configured.get(instance, {}))

    def stop(self, request: FsmRequest) -> FsmResponse:
        instance = request.instance_id or request.vnf_id
        return FsmResponse.done(persist={"instance": instance, "config": self.configured.pop(instance, {})})


if __name__ == "__main__":
    from ssm import SmContext
    from ssm.runtime import SmRuntime

    context = SmContext(sm_id="vnf_firewall/firewall-env", sm_type="fsm", service_id="demo",
                        vnf_id="vnf_firewall", kinds=("start", "stop", "configure"),
                        options={"env": "FW_POLICY=drop-invalid"})
    sm = SmRuntime(EnvStartStop, context)
    vnfd = {"virtual_deployment_units": [{"id": "vdu01"}]}
    for kind, data in (("start", {}), ("configure", {"config": {"next_hop": "vnf_tcpdump"}}), ("stop", {})):
        reply = sm.handle({"fsm_type": kind, "content": {"vnf_id": "vnf_firewall", "instance_id": "i-1",
                                                         "vnfd": vnfd, "data": data}})
        print(kind, reply["result"])
