"""How records look to a person (rich tables) and to a program (``--json``)."""
from __future__ import annotations

import json
from typing import Any, Iterable

from rich.console import Console
from rich.table import Table

from mano.records import OperationRecord, ServiceRecord

console = Console()
errors = Console(stderr=True)

_STATE_STYLE = {"READY": "green", "COMPLETED": "green", "TERMINATED": "dim", "FAILED": "red", "ROLLED_BACK": "red",
                "RUNNING": "green", "DONE": "green", "PENDING": "dim"}


def styled(value: str) -> str:
    style = _STATE_STYLE.get(value, "yellow")
    return f"[{style}]{value}[/{style}]"


def print_json(data: Any) -> None:
    console.print_json(json.dumps(data, default=str))


def services_table(records: Iterable[ServiceRecord]) -> Table:
    table = Table(title="services")
    for column in ("id", "name", "state", "vnfs", "vim", "updated"):
        table.add_column(column)
    for r in records:
        live = [v for v in r.vnf_instances if v.state.value != "TERMINATED"]
        table.add_row(r.id, r.name, styled(r.state.value), str(len(live)), r.vim,
                      r.updated_at.strftime("%Y-%m-%d %H:%M:%S"))
    return table


def service_table(record: ServiceRecord, pop_names: dict[str, str]) -> Table:
    table = Table(title=f"service {record.name} ({record.id}): {styled(record.state.value)}")
    for column in ("vnf instance", "network function", "vnfd", "pop", "state"):
        table.add_column(column)
    for v in record.vnf_instances:
        table.add_row(v.id, v.vnf_id, f"{v.vnfd_name} {v.vnfd_version}", pop_names.get(v.pop, v.pop),
                      styled(v.state.value))
    return table


def operations_table(ops: Iterable[OperationRecord]) -> Table:
    table = Table(title="operations")
    for column in ("id", "type", "state", "steps", "took (s)", "error"):
        table.add_column(column)
    for op in ops:
        done = sum(s.state.value == "DONE" for s in op.steps)
        took = (op.finished_at - op.created_at).total_seconds() if op.finished_at else None
        table.add_row(op.id, op.type.value, styled(op.state.value), f"{done}/{len(op.steps)}",
                      f"{took:.3f}" if took is not None else "", op.error or "")
    return table


def steps_table(op: OperationRecord) -> Table:
    table = Table(title=f"{op.type.value} {op.id}: {styled(op.state.value)}")
    for column in ("step", "state", "attempts", "took (s)", "message"):
        table.add_column(column)
    for s in op.steps:
        took = (s.finished_at - s.started_at).total_seconds() if s.finished_at and s.started_at else None
        table.add_row(s.name, styled(s.state.value), str(s.attempts), f"{took:.3f}" if took is not None else "",
                      s.message or "")
    return table
