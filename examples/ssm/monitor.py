"""A monitoring SSM that asks for a scale-out when an alert crosses a threshold.

Descriptor (``examples/ssm/monitor-scale/nsd.yml``)::

    service_specific_managers:
      - id: "scale-on-load"
        image: "python://examples.ssm.monitor:ScaleOnThreshold"
        options:
          - {key: "type", value: "monitor"}
          - {key: "metric", value: "vm_cpu_perc"}
          - {key: "scale_out_above", value: "80"}
          - {key: "scale_in_below", value: "10"}
          - {key: "cooldown_s", value: "30"}

When an alert on ``metric`` reports a value above ``scale_out_above`` the answer is
``{workflow: scale_out, params: {vnf_id, count: 1}}``; below ``scale_in_below``, a
``scale_in`` of one instance; otherwise nothing. After asking for a workflow on a VNF it
stays quiet for that VNF for ``cooldown_s`` seconds, so a burst of alerts asks once.

Try it::

    python -m examples.ssm.monitor
"""
from __future__ import annotations

import time

from ssm import MonitorAlert, ServiceSpecificManager, Workflow, WorkflowRequest


class ScaleOnThreshold(ServiceSpecificManager):
    """Scale out above, scale in below, with a cool-down per VNF."""

    def on_start(self) -> None:
        options = self.context.options
        self.metric = options.get("metric")
        self.high = float(options.get("scale_out_above", "80"))
        self.low = float(options["scale_in_below"]) if "scale_in_below" in options else None
        self.cooldown_s = float(options.get("cooldown_s", "0"))
        self.last_action: dict[str, float] = {}

    def monitor(self, alert: MonitorAlert) -> WorkflowRequest | None:
        event = alert.alert
        if event.value is None or (self.metric and event.metric != self.metric) or not event.vnf_id:
            return None
        high = event.threshold if event.threshold is not None else self.high
        if event.value > high:
            workflow = Workflow.SCALE_OUT
        elif self.low is not None and event.value < self.low:
            workflow = Workflow.SCALE_IN
        else:
            return None
        now = time.monotonic()
        if now - self.last_action.get(event.vnf_id, -float("inf")) < self.cooldown_s:
            return None
        self.last_action[event.vnf_id] = now
        return WorkflowRequest(workflow=workflow, params={"vnf_id": event.vnf_id, "count": 1,
                                                          "reason": f"{event.metric}={event.value:g}"})


if __name__ == "__main__":
    from ssm import SmContext
    from ssm.runtime import SmRuntime

    sm = SmRuntime(ScaleOnThreshold, SmContext(sm_id="scale-on-load", sm_type="ssm", service_id="demo",
                                               kinds=("monitor",), options={"metric": "vm_cpu_perc",
                                                                            "scale_out_above": "80"}))
    for value in (42.0, 93.5):
        reply = sm.handle({"ssm_type": "monitor", "content": {"alert": {
            "name": "cpu", "metric": "vm_cpu_perc", "value": value, "vnf_id": "vnf_iperf"}}})
        print(value, reply["result"])
