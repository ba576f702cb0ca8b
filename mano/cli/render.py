"""How records look to a person (rich tables) and to a program (``--json``).

Rich reads ``[...]`` in a string as markup: every string mano did not write itself (records,
descriptors, ids, exception texts, user input) goes through :func:`lit` before it reaches a
rich print, table or status, so e.g. ``pip install 'mano[docker]'`` keeps its ``[docker]``.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mano.records import OperationRecord, ServiceRecord

if TYPE_CHECKING:
    from mano.cli.local_runtime import Dashboard

# emoji=False: a foreign ``:name:`` (e.g. in an id or a message) is never turned into an emoji.
console = Console(emoji=False)
errors = Console(stderr=True, emoji=False)

_STATE_STYLE = {"READY": "green", "COMPLETED": "green", "TERMINATED": "dim", "FAILED": "red", "ROLLED_BACK": "red",
                "RUNNING": "green", "DONE": "green", "PENDING": "dim", "FAILED_TEMP": "magenta"}


def lit(value: object) -> str:
    """``value`` as markup that rich prints literally (its ``[...]`` escaped)."""
    return escape(str(value))


def styled(value: str) -> str:
    style = _STATE_STYLE.get(value, "yellow")
    return f"[{style}]{lit(value)}[/{style}]"


def dashboard_line(dashboard: Dashboard) -> str:
    """How ``mano up`` and ``mano demo`` announce the Ray dashboard (see ``local_runtime.dashboard``)."""
    return f"Ray dashboard: {lit(dashboard.url)} ({lit(dashboard.auth)})"


def print_json(data: Any) -> None:
    console.print_json(json.dumps(data, default=str))


def services_table(records: Iterable[ServiceRecord]) -> Table:
    table = Table(title="services")
    for column in ("id", "name", "state", "vnfs", "vim", "updated"):
        table.add_column(column)
    for r in records:
        live = [v for v in r.vnf_instances if v.live]
        table.add_row(lit(r.id), lit(r.name), styled(r.state.value), str(len(live)), lit(r.vim),
                      r.updated_at.strftime("%Y-%m-%d %H:%M:%S"))
    return table


def service_table(record: ServiceRecord, pop_names: dict[str, str], vnf_states: Mapping[str, str]) -> Table:
    """``vnf_states``: each VNF instance's state, from its VNFR (the one place it is kept)."""
    table = Table(title=f"service {lit(record.name)} ({lit(record.id)}): {styled(record.state.value)}")
    for column in ("vnf instance", "network function", "vnfd", "pop", "state"):
        table.add_column(column)
    for v in record.vnf_instances:
        state = vnf_states.get(v.id, "TERMINATED" if v.terminated else "DEPLOYING")
        table.add_row(lit(v.id), lit(v.vnf_id), lit(f"{v.vnfd_name} {v.vnfd_version}"),
                      lit(pop_names.get(v.pop, v.pop)), styled(state))
    return table


def operations_table(ops: Iterable[OperationRecord]) -> Table:
    table = Table(title="operations")
    for column in ("id", "type", "state", "steps", "took (s)", "error"):
        table.add_column(column)
    for op in ops:
        done = sum(s.state.value == "DONE" for s in op.steps)
        took = (op.finished_at - op.created_at).total_seconds() if op.finished_at else None
        table.add_row(lit(op.id), lit(op.type.value), styled(op.state.value), f"{done}/{len(op.steps)}",
                      f"{took:.3f}" if took is not None else "", lit(op.error or ""))
    return table


def steps_table(op: OperationRecord) -> Table:
    table = Table(title=f"{lit(op.type.value)} {lit(op.id)}: {styled(op.state.value)}")
    for column in ("step", "state", "attempts", "took (s)", "message"):
        table.add_column(column)
    for s in op.steps:
        took = (s.finished_at - s.started_at).total_seconds() if s.finished_at and s.started_at else None
        table.add_row(lit(s.name), styled(s.state.value), str(s.attempts),
                      f"{took:.3f}" if took is not None else "", lit(s.message or ""))
    return table
