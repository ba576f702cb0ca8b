"""``mano``: validate descriptors, run the demo, and drive services on a local runtime.

Without ``mano up``, each command that needs the runtime starts an embedded one for its own
duration (services then live as long as the command). ``mano up`` starts a Ray head (or, with
``--address``, joins a Ray cluster) and the embedded store in the background, and later
commands attach to them until ``mano down``.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

import click

from mano.cli import render
from mano.cli.render import console, errors, lit
from mano.errors import ManoError
from mano.settings import Settings


def _fail(exc: BaseException, code: int = 1) -> None:
    errors.print(f"[red]error:[/red] {lit(exc)}", markup=True, highlight=False)
    sys.exit(code)


@click.group()
@click.version_option(package_name="mano")
def main() -> None:
    """mano: NFV service orchestration on Ray (SONATA-compatible)."""
    # stdout carries the command's output only (``--json`` must parse): Ray's driver prints
    # cluster messages (e.g. raylet warnings) to sys.stdout from a thread, so those go to stderr.
    console.file = sys.stdout
    sys.stdout = sys.stderr


# --- descriptors ---------------------------------------------------------------------------
@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def validate(paths: tuple[Path, ...], as_json: bool) -> None:
    """Validate NSDs/VNFDs (files, or directories holding a service)."""
    from mano.cli.validate import validate_paths
    ok = validate_paths(paths, as_json)
    sys.exit(0 if ok else 1)


# --- runtime -------------------------------------------------------------------------------
@main.command()
@click.option("--gateway", is_flag=True, help="also start the AMQP gateway")
@click.option("--api", is_flag=True, help="also serve the SOL005 HTTP API (MANO_API_ADDR, 127.0.0.1:8080)")
@click.option("--address", metavar="HOST:PORT", default=None,
              help="run on this Ray cluster (its head's GCS address) instead of an embedded Ray; "
                   "default: MANO_RAY_ADDRESS")
def up(gateway: bool, api: bool, address: str | None) -> None:
    """Start a runtime (Ray, store, plugin actors) that later commands attach to."""
    from mano.cli import local_runtime
    try:
        info = local_runtime.up(Settings.from_env(**({"ray_address": address} if address else {})), gateway=gateway,
                                api=api)
    except ManoError as exc:
        _fail(exc)
    joined = f" (the cluster at {lit(info['attached_to'])})" if info.get("attached_to") else ""
    console.print(f"runtime up: Ray at {lit(info['ray_address'])}{joined}, store at {lit(info['mongo_url'])}")
    if info.get("attached_to") and info.get("store_node_only"):
        console.print("note: the store listens on loopback: mano actors on the cluster's other nodes refuse to "
                      "start; MANO_STORE_BIND or MANO_MONGO_URL gives the cluster a store they reach",
                      markup=False, highlight=False)
    if info.get("api"):
        console.print(f"SOL005 API at {lit(info['api'] + '/nslcm/v1')} (OpenAPI: {lit(info['api'] + '/openapi.json')})")
    elif api:
        console.print("note: a runtime was up already, without the HTTP API: `mano down`, then `mano up --api`",
                      markup=False, highlight=False)
    dashboard = local_runtime.dashboard_from_info(info)
    if dashboard is not None:
        console.print(render.dashboard_line(dashboard), highlight=False)


@main.command()
def gateway() -> None:
    """Serve SONATA's AMQP topics (MANO_BROKER_URL) until interrupted."""
    import time

    from mano.gateway.actor import start_gateway
    rt = _connect()
    try:
        start_gateway(rt.settings)
    except ManoError as exc:
        _fail(exc)
    console.print(f"gateway serving exchange {lit(repr(rt.settings.exchange))} on the broker; "
                  "Ctrl-C stops it")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


@main.command()
def down() -> None:
    """Stop the runtime started by ``mano up`` (records are kept; a joined Ray cluster keeps running)."""
    from mano.cli import local_runtime
    local_runtime.down(Settings.from_env())
    console.print("runtime down")


def _read(model: Any, path: str, through_ray: Callable[[Any], Any]) -> Any:
    """Records of type ``model`` (one, or a list) as the ``mano up --api`` runtime's HTTP API
    answers ``path``, without starting a Ray driver; when no runtime serves the API,
    ``through_ray(mano)`` on an attached runtime. Either's refusal is this command's error."""
    from mano.cli import local_runtime
    try:
        found = local_runtime.api_get(Settings.from_env(), path)
        if found is not None:
            return [model.model_validate(r) for r in found] if isinstance(found, list) else model.model_validate(found)
        import mano
        _connect()
        return through_ray(mano)
    except ManoError as exc:
        _fail(exc)


def _connect() -> Any:
    from mano.cli import local_runtime
    try:
        return local_runtime.attach_or_start(Settings.from_env())
    except ManoError as exc:
        _fail(exc)


@main.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--vim", default=None, help="VIM driver (emulated, docker or sonata-ia)")
@click.option("--json", "as_json", is_flag=True)
@click.option("--no-wait", is_flag=True, help="return once the request is accepted")
@click.option("--policy", default=None,
              help="placement policy: load balanced, fill first, priority, none (default: MANO_PLACEMENT_POLICY)")
@click.option("--priority", "policy_list", multiple=True, help="for --policy priority: a PoP, most preferred first")
@click.option("--blacklist", multiple=True, help="a PoP name or city to avoid (repeat for more)")
def instantiate(path: Path, vim: str | None, as_json: bool, no_wait: bool, policy: str | None,
                policy_list: tuple[str, ...], blacklist: tuple[str, ...]) -> None:
    """Instantiate the service at PATH (an NSD file or a directory with its VNFDs)."""
    import mano
    rt = _connect()
    try:
        with console.status(f"instantiating {lit(path)} …", spinner="dots") if not as_json else _Null():
            preferences = {k: v for k, v in {"policy": policy, "policy_list": list(policy_list),
                                             "blacklist": list(blacklist)}.items() if v}
            service = mano.instantiate(path, vim=vim, wait=not no_wait, **preferences)
    except mano.OperationFailedError as exc:
        if as_json:
            render.print_json(exc.operation.model_dump(mode="json"))
        else:
            console.print(render.steps_table(exc.operation))
        _fail(exc)
    except ManoError as exc:
        _fail(exc)
    _show(rt, service.id, as_json)


class _Null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _show(rt: Any, service_id: str, as_json: bool) -> None:
    import mano
    service = mano.get(service_id)
    record = service.record
    if as_json:
        render.print_json({"service": record.model_dump(mode="json"), "nsr": service.nsr, "vnfrs": service.vnfrs})
        return
    pops = {p.vim_uuid: p.name for p in rt.call("infrastructure-adaptor", "list_pops", record.vim)}
    console.print(render.service_table(record, pops, service.vnf_states))


@main.command(name="ls")
@click.option("--json", "as_json", is_flag=True)
@click.option("--state", default=None, help="only services in this state")
def list_services(as_json: bool, state: str | None) -> None:
    """List service instances."""
    from urllib.parse import quote

    from mano.records import ServiceRecord
    records = _read(ServiceRecord, "/mano/v1/services" + (f"?state={quote(state)}" if state else ""),
                    lambda mano: [s.record for s in mano.services(state)])
    if as_json:
        render.print_json([r.model_dump(mode="json") for r in records])
    else:
        console.print(render.services_table(records))


@main.command()
@click.argument("service_id")
@click.option("--json", "as_json", is_flag=True)
def show(service_id: str, as_json: bool) -> None:
    """Show one service instance with its VNF instances."""
    rt = _connect()
    try:
        _show(rt, service_id, as_json)
    except ManoError as exc:
        _fail(exc)


@main.command()
@click.argument("service_id")
@click.option("--json", "as_json", is_flag=True)
def ops(service_id: str, as_json: bool) -> None:
    """Show the operation history of a service."""
    from urllib.parse import quote

    from mano.records import OperationRecord
    operations = _read(OperationRecord, f"/mano/v1/services/{quote(service_id, safe='')}/operations",
                       lambda mano: mano.get(service_id).operations)
    if as_json:
        render.print_json([o.model_dump(mode="json") for o in operations])
    else:
        console.print(render.operations_table(operations))


@main.group(name="op")
def operation_commands() -> None:
    """One operation: show it, cancel it while it runs, or decide on one left FAILED_TEMP (retry
    it, roll it back)."""


@operation_commands.command(name="show")
@click.argument("operation_id")
@click.option("--json", "as_json", is_flag=True)
def show_operation(operation_id: str, as_json: bool) -> None:
    """Show an operation with its steps."""
    from urllib.parse import quote

    from mano.records import OperationRecord
    op = _read(OperationRecord, f"/mano/v1/operations/{quote(operation_id, safe='')}",
               lambda mano: mano.operation(operation_id))
    if as_json:
        render.print_json(op.model_dump(mode="json"))
    else:
        console.print(render.steps_table(op))
        if op.error:
            console.print(lit(op.error))


def _waiting(call: Any) -> None:
    """Run an API call that waits for an operation; when it fails, show its steps and exit 1."""
    import mano
    _connect()
    try:
        call(mano)
    except mano.OperationFailedError as exc:
        console.print(render.steps_table(exc.operation))
        _fail(exc)
    except ManoError as exc:
        _fail(exc)


def _operator_decision(command: str, function: str, outcome: str, help_text: str) -> None:
    @operation_commands.command(name=command, help=help_text)
    @click.argument("operation_id")
    def decide(operation_id: str) -> None:
        _waiting(lambda mano: getattr(mano, function)(operation_id))
        console.print(f"operation {lit(operation_id)}: {render.styled(outcome)}")


_operator_decision("retry", "retry", "COMPLETED",
                   "Resume a FAILED_TEMP operation at the step that failed.")
_operator_decision("rollback", "rollback", "ROLLED_BACK",
                   "Undo what a FAILED_TEMP operation did (its service as after a failure).")


@operation_commands.command(name="cancel")
@click.argument("operation_id")
@click.option("--reason", default=None, help="why, for the operation's record")
def cancel_operation(operation_id: str, reason: str | None) -> None:
    """Stop a running operation once its current step is done (it waits FAILED_TEMP for retry
    or rollback)."""
    import mano
    _connect()
    try:
        op = mano.cancel(operation_id, reason=reason)
    except ManoError as exc:
        _fail(exc)
    console.print(render.steps_table(op))
    if op.state.value != "FAILED_TEMP":  # it ended before its next step boundary
        _fail(ManoError(f"operation {operation_id} ended {op.state.value} before the cancel took effect"))
    console.print(f"operation {lit(operation_id)}: {render.styled('FAILED_TEMP')} (cancelled; "
                  f"mano op retry|rollback {operation_id})")


def _operate(service_id: str, action: str, **kwargs: Any) -> None:
    _waiting(lambda mano: getattr(mano.get(service_id), action)(**kwargs))
    console.print(f"{action.replace('_', ' ')} of {lit(service_id)}: {render.styled('COMPLETED')}")


@main.command()
@click.argument("service_id")
def terminate(service_id: str) -> None:
    """Terminate a service instance."""
    _operate(service_id, "terminate")


@main.command()
@click.argument("service_id")
@click.option("--vnf", "vnf_id", required=True, help="the NSD vnf_id to scale")
@click.option("--out", "out_", type=int, default=None, help="add N instances")
@click.option("--in", "in_", type=int, default=None, help="remove N instances")
def scale(service_id: str, vnf_id: str, out_: int | None, in_: int | None) -> None:
    """Scale one network function of a service out or in."""
    if (out_ is None) == (in_ is None):
        _fail(click.UsageError("give exactly one of --out N or --in N"), 2)
    if out_ is not None:
        _operate(service_id, "scale_out", vnf_id=vnf_id, n=out_)
    else:
        _operate(service_id, "scale_in", vnf_id=vnf_id, n=in_)


@main.command()
@click.argument("service_id")
@click.argument("vnf_instance_id")
def heal(service_id: str, vnf_instance_id: str) -> None:
    """Re-deploy a VNF instance whose VIM instance failed."""
    _operate(service_id, "heal", vnf_instance_id=vnf_instance_id)


@main.command()
@click.argument("service_id")
@click.option("--env", "envs", multiple=True, metavar="KEY=VALUE", help="an environment value (repeatable)")
@click.option("--vnf", "vnf_id", default=None, help="give --env to this vnf_id (or VNF instance id) only")
@click.option("--payload", "payload_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="a YAML/JSON reconfiguration_payload (envs, functions)")
def reconfigure(service_id: str, envs: tuple[str, ...], vnf_id: str | None, payload_file: Path | None) -> None:
    """Reconfigure a service: give its VNFs environment values (SONATA's env injection)."""
    from mano.descriptors.loader import parse_yaml  # the bounded, safe reader of untrusted YAML
    payload: dict[str, Any] = {}
    if payload_file is not None:
        try:
            payload = dict(parse_yaml(payload_file.read_bytes(), str(payload_file)))
        except ManoError as exc:
            _fail(click.UsageError(str(exc)), 2)
    values = {}
    for item in envs:
        key, sep, value = item.partition("=")
        if not sep or not key:
            _fail(click.UsageError(f"--env {item!r}: expected KEY=VALUE"), 2)
        values[key] = value
    if vnf_id and not values:
        _fail(click.UsageError("--vnf needs at least one --env"), 2)
    if values:  # merged into the payload's envs: the whole service's, or one VNF's entry
        target = payload
        if vnf_id:
            functions = payload["functions"] = _mapping(payload.get("functions"), "functions")
            target = functions[vnf_id] = _mapping(functions.get(vnf_id), f"functions.{vnf_id}")
        target["envs"] = {**_mapping(target.get("envs"), "envs"), **values}
    if not payload:
        _fail(click.UsageError("give --env KEY=VALUE or --payload FILE"), 2)
    _operate(service_id, "reconfigure", payload=payload)


def _mapping(value: Any, where: str) -> dict[str, Any]:
    """A copy of a payload entry that --env adds to (none yet: empty); not a mapping: usage error."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        _fail(click.UsageError(f"--payload: {where} is not a mapping, so --env cannot add to it"), 2)
    return dict(value)


@main.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def plugins(ctx: click.Context, as_json: bool) -> None:
    """List the registered plugins and their states; start, pause or stop one."""
    if ctx.invoked_subcommand is not None:
        return
    rt = _connect()
    records = rt.call("plugin-manager", "list")
    if as_json:
        render.print_json(records)
        return
    from rich.table import Table
    table = Table(title="plugins")
    for column in ("uuid", "name", "version", "state", "last heartbeat"):
        table.add_column(column)
    for r in records:
        table.add_row(lit(r["id"]), lit(r["name"]), lit(r["version"]), render.styled(r["state"]),
                      lit(r["last_heartbeat_at"]))
    console.print(table)


def _plugin_command(command: str):
    @plugins.command(name=command, help=f"Send lifecycle.{command} to a plugin (its name or uuid).")
    @click.argument("plugin")
    def send(plugin: str) -> None:
        rt = _connect()
        try:
            record = rt.call("plugin-manager", "command", plugin, command)
        except ManoError as exc:  # unknown plugin, a command its state does not allow
            _fail(exc)
        console.print(f"{lit(record['name'])} ({lit(record['id'])}): {render.styled(record['state'])}")
    return send


for _command in ("start", "pause", "stop"):
    _plugin_command(_command)


@main.command()
@click.option("--watch", is_flag=True, help="refresh every 2 s until interrupted")
def top(watch: bool) -> None:
    """Live metrics per service and VNF instance (from the monitoring actor)."""
    import time

    from rich.live import Live
    from rich.table import Table
    import mano
    rt = _connect()

    def table() -> Table:
        rt.call("monitoring", "tick")
        metrics = rt.call("monitoring", "metrics")
        t = Table(title="mano top")
        for column in ("service", "vnf", "instance", "state", "cpu %", "mem %", "rx MB", "tx MB"):
            t.add_column(column)
        for svc in mano.services("READY"):
            states = svc.vnf_states
            for v in svc.record.vnf_instances:
                m = metrics.get(v.id, {})
                t.add_row(lit(svc.name), lit(v.vnf_id), lit(v.id[:8]), render.styled(states.get(v.id, "DEPLOYING")),
                          *(f"{m[k]:.1f}" if k in m else "" for k in
                            ("vm_cpu_perc", "vm_mem_perc", "vm_net_rx_MB", "vm_net_tx_MB")))
        return t
    if not watch:
        console.print(table())
        return
    with Live(table(), console=console, refresh_per_second=1) as live:
        try:
            while True:
                time.sleep(2)
                live.update(table())
        except KeyboardInterrupt:
            pass


@main.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path), required=False)
@click.option("--keep", is_flag=True, help="leave the service running (with mano up)")
def demo(path: Path | None, keep: bool) -> None:
    """The main job: instantiate the demo service (PATH, default: the packaged sonata-demo), show it,
    scale it, terminate it."""
    from mano.cli.demo import DEMO_SERVICE, run_demo
    try:
        run_demo(path or DEMO_SERVICE, keep=keep)
    except ManoError as exc:
        _fail(exc)


if __name__ == "__main__":  # pragma: no cover
    main()
