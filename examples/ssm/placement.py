"""A placement SSM that pins VNFs to PoPs by a rule from its descriptor.

Descriptor (``examples/ssm/placement-pinning/nsd.yml``)::

    service_specific_managers:
      - id: "pin-by-rule"
        image: "python://examples.ssm.placement:PinByRule"
        options:
          - {key: "type", value: "placement"}
          - {key: "rules", value: "vnf_firewall=Athens, vnf_*=Ghent"}

A rule ``pattern=target`` sends every VNF whose ``vnf_id`` matches the shell-style pattern to
the PoP whose id, name or city is ``target``; the first matching rule wins. VNFs no rule
matches (or whose target is absent or blacklisted) go to the allowed PoP with the most free
cores. Pins in the request (a scale-out constraint, a migration target) always win.

Try it::

    python -m examples.ssm.placement
"""
from __future__ import annotations

import fnmatch

from ssm import PlacementRequest, PlacementResponse, Pop, ServiceSpecificManager


def parse_rules(text: str) -> list[tuple[str, str]]:
    """``"a=x, b*=y"`` -> ``[("a", "x"), ("b*", "y")]``."""
    rules = []
    for part in text.split(","):
        pattern, sep, target = part.partition("=")
        if sep and pattern.strip() and target.strip():
            rules.append((pattern.strip(), target.strip()))
    return rules


class PinByRule(ServiceSpecificManager):
    """Pins VNFs by the ``rules`` option (see the module doc)."""

    def placement(self, request: PlacementRequest) -> PlacementResponse:
        rules = parse_rules(self.context.options.get("rules", ""))
        allowed = request.allowed_pops()
        roomiest = max(allowed, key=lambda p: (p.cores_free, p.memory_free))
        mapping: dict[str, str] = {}
        for function in request.functions:
            pinned = request.pinned.get(function.instance_id)
            by_rule = self._by_rule(function.vnf_id, rules, allowed)
            mapping[function.instance_id] = pinned or by_rule or roomiest.id
        return PlacementResponse(mapping=mapping)

    @staticmethod
    def _by_rule(vnf_id: str, rules: list[tuple[str, str]], pops: list[Pop]) -> str | None:
        for pattern, target in rules:
            if fnmatch.fnmatchcase(vnf_id, pattern):
                pop = next((p for p in pops if target in (p.id, p.name, p.city)), None)
                if pop is not None:
                    return pop.id
        return None


if __name__ == "__main__":
    from ssm import SmContext
    from ssm.runtime import SmRuntime

    context = SmContext(sm_id="pin-by-rule", sm_type="ssm", service_id="demo", kinds=("placement",),
                        options={"rules": "vnf_firewall=Athens, vnf_*=Ghent"})
    sm = SmRuntime(PinByRule, context)
    reply = sm.handle({"ssm_type": "placement", "content": {
        "functions": [{"vnf_id": "vnf_firewall"}, {"vnf_id": "vnf_iperf"}, {"vnf_id": "vnf_tcpdump"}],
        "pops": [{"id": "pop-athens", "name": "Athens", "core_total": 8},
                 {"id": "pop-ghent", "name": "Ghent", "core_total": 4}]}})
    print(reply["result"])
