"""A task SSM that reorders the workflow's schedule.

Descriptor (``examples/ssm/task-reorder/nsd.yml``)::

    service_specific_managers:
      - id: "configure-before-start"
        image: "python://examples.ssm.task:MoveBefore"
        options:
          - {key: "type", value: "task"}
          - {key: "move", value: "configure_vnfs<start_vnfs"}

``move: a<b`` puts step ``a`` right before step ``b`` when both are in the schedule (here:
configure the VNFs before they are started). ``drop: x, y`` removes optional steps; steps the
orchestrator marks required are never dropped, whatever the option says.

Try it::

    python -m examples.ssm.task
"""
from __future__ import annotations

from ssm import ServiceSpecificManager, TaskRequest, TaskResponse


class MoveBefore(ServiceSpecificManager):
    """Reorders (and optionally shortens) the schedule by its ``move``/``drop`` options."""

    def task(self, request: TaskRequest) -> TaskResponse:
        schedule = list(request.schedule)
        droppable = {s.strip() for s in self.context.options.get("drop", "").split(",") if s.strip()}
        schedule = [s for s in schedule if s not in droppable or s in request.required]
        step, sep, anchor = self.context.options.get("move", "").partition("<")
        if sep and step in schedule and anchor in schedule:
            schedule.remove(step)
            schedule.insert(schedule.index(anchor), step)
        return TaskResponse(schedule=schedule)


if __name__ == "__main__":
    from ssm import SmContext
    from ssm.runtime import SmRuntime

    sm = SmRuntime(MoveBefore, SmContext(sm_id="configure-before-start", sm_type="ssm", service_id="demo",
                                         kinds=("task",), options={"move": "configure_vnfs<start_vnfs"}))
    reply = sm.handle({"ssm_type": "task", "content": {
        "schedule": ["validate", "place", "create_networks", "deploy_vnfs", "start_vnfs", "configure_vnfs",
                     "store_records"]}})
    print(reply["result"])
