"""The main job: the SONATA demo service end to end on embedded defaults."""
from __future__ import annotations

import time
from importlib import resources
from pathlib import Path

from rich.table import Table

import mano
import mano.descriptors
from mano.cli import local_runtime, render
from mano.cli.render import console, lit
from mano.settings import Settings

#: The SONATA demo service (iperf -> firewall -> tcpdump), shipped inside the package so that
#: ``mano demo`` runs from any directory after a plain ``pip install``.
DEMO_SERVICE = Path(str(resources.files("mano") / "data" / "sonata-demo"))


def run_demo(path: Path, *, keep: bool = False) -> None:
    settings = Settings.from_env()
    started = time.monotonic()
    with console.status("starting the runtime (Ray, record store, plugin actors) …", spinner="dots"):
        rt = local_runtime.attach_or_start(settings)
    dashboard = local_runtime.dashboard()
    if dashboard is not None:
        console.print(render.dashboard_line(dashboard), highlight=False)
    console.print(f"runtime ready in {time.monotonic() - started:.1f} s; plugins:")
    console.print(", ".join(lit(f"{p['name']} [{p['state']}]") for p in rt.call("plugin-manager", "list"))
                  or "(registering)")
    package = mano.descriptors.load_service(path)
    console.print(f"service [bold]{lit(package.nsd.name)}[/bold] {lit(package.nsd.version)}: "
                  + lit(", ".join(f"{k} → {v.name} {v.version}" for k, v in package.vnfds.items())))

    t0 = time.monotonic()
    with console.status("instantiating …", spinner="dots"):
        service = mano.instantiate(package)
    console.print(f"instantiated in {time.monotonic() - t0:.2f} s")
    pops = {p.vim_uuid: p.name for p in rt.call("infrastructure-adaptor", "list_pops", service.record.vim)}
    console.print(render.service_table(service.record, pops, service.vnf_states))
    console.print(render.steps_table(service.operations[-1]))

    t0 = time.monotonic()
    service.scale_out("vnf_iperf", 2)
    console.print(f"scaled vnf_iperf out by 2 in {time.monotonic() - t0:.2f} s; NSR version "
                  f"{lit(service.nsr['version'])}, {len(service.nsr['network_functions'])} VNFRs")
    service.scale_in("vnf_iperf", 2)
    console.print(f"scaled back in; NSR version {lit(service.nsr['version'])}")

    usage = Table(title="PoP usage")
    for column in ("pop", "cores used/total", "memory used/total (GB)"):
        usage.add_column(column)
    for p in rt.call("infrastructure-adaptor", "list_pops", service.record.vim):
        usage.add_row(lit(p.name), f"{p.core_used:g}/{p.core_total:g}",
                      f"{p.memory_used:g}/{p.memory_total:g}")
    console.print(usage)

    if keep:
        console.print(f"service {lit(service.id)} left running")
        return
    t0 = time.monotonic()
    service.terminate()
    console.print(f"terminated in {time.monotonic() - t0:.2f} s; NSR status: {lit(service.nsr['status'])}")
    console.print(render.operations_table(service.operations))
    local_runtime.release(rt)
