"""The CLI prints foreign text literally: rich markup in errors, records and descriptors is not parsed.

Rich reads ``[docker]`` or ``[bold]x[/bold]`` in a printed string as markup (and drops it); every
string mano did not write itself must reach rich escaped (``mano.cli.render.lit``).
"""
from __future__ import annotations

import importlib
import sys
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

import mano
from mano.cli import main
from mano.errors import ManoError
from mano.lifecycle.states import OperationType
from mano.lifecycle.workflow import Step, WorkflowRunner
from mano.records import OperationRecord, ServiceRecord, VnfInstanceRef
from paths import EXAMPLES, SONATA

cli_main = importlib.import_module("mano.cli.main")  # the module (``mano.cli.main`` is the command)

MARKUP = "[bold]x[/bold] pip install 'mano[docker]' :smile:"
ENV = {"COLUMNS": "400"}


def _invoke(args):
    return CliRunner().invoke(main, args, env=ENV)


class _FakeRuntime:
    """What the commands use of a runtime, answering with foreign text."""

    def __init__(self, plugins=()):
        self.plugins = list(plugins)

    def call(self, actor, method, *args, **kwargs):
        return self.plugins if method == "list" else []


@pytest.fixture
def fake_runtime(monkeypatch):
    rt = _FakeRuntime()
    monkeypatch.setattr(cli_main, "_connect", lambda: rt)
    return rt


def _operation_from_a_failing_step(message_source):
    """An instantiate operation that the real workflow runner failed and rolled back."""
    op = OperationRecord(id=f"op-{MARKUP}", type=OperationType.INSTANTIATE, service_id="svc-1")
    steps = [Step("validate", lambda ctx: {}), Step(f"place {MARKUP}", lambda ctx: message_source())]
    return WorkflowRunner(save=lambda o: o, sleep=lambda s: None).run(op, steps)


def test_the_missing_docker_sdk_message_keeps_its_extra(monkeypatch, fake_runtime):
    """``mano instantiate --vim docker`` without the docker SDK printed ``pip install 'mano'``."""
    from mano.vim import make_driver
    monkeypatch.setitem(sys.modules, "docker", None)  # ``import docker`` raises ImportError
    monkeypatch.delitem(sys.modules, "mano.vim.docker", raising=False)
    with pytest.raises(ImportError, match=r"mano\[docker\]"):
        make_driver("docker", [])
    op = _operation_from_a_failing_step(lambda: make_driver("docker", []))
    assert op.state.value == "ROLLED_BACK" and "pip install 'mano[docker]'" in op.error

    def instantiate(path, vim=None, wait=True):
        assert vim == "docker"
        raise mano.OperationFailedError(op)
    monkeypatch.setattr(mano, "instantiate", instantiate)
    result = _invoke(["instantiate", str(EXAMPLES / "sonata-demo"), "--vim", "docker"])
    assert result.exit_code == 1, result.output
    # once in the step table (the step's message), once in the error line (the operation's error)
    assert result.output.count("the docker VIM needs the docker SDK: pip install 'mano[docker]'") == 2, \
        result.output
    assert "'mano'" not in result.output
    assert f"place {MARKUP}" in result.output and f"op-{MARKUP}" in result.output


def test_an_error_message_with_markup_is_printed_literally(monkeypatch, fake_runtime):
    def get(service_id):
        raise ManoError(f"no service instance {service_id!r}: {MARKUP}")
    monkeypatch.setattr(mano, "get", get)
    result = _invoke(["show", "[bold]id[/bold]"])
    assert result.exit_code == 1
    assert f"error: no service instance '[bold]id[/bold]': {MARKUP}" in result.output


def _service():
    vnf = VnfInstanceRef(id=f"vnf-{MARKUP}", vnf_id="[docker]", vnfd_name="[bold]x[/bold]", vnfd_vendor="v",
                         vnfd_version="[red]1[/red]", pop="[pop]")
    return ServiceRecord(id="[bold]svc[/bold]", name=MARKUP, nsd={}, vim="[docker]", vnf_instances=(vnf,))


def test_records_with_markup_are_printed_literally(monkeypatch, fake_runtime):
    record = _service()
    def fail():
        raise ManoError(MARKUP)
    op = _operation_from_a_failing_step(fail)
    service = SimpleNamespace(id=record.id, record=record, operations=[op], vnf_states={f"vnf-{MARKUP}": "RUNNING"})
    monkeypatch.setattr(mano, "services", lambda state=None: [service])
    monkeypatch.setattr(mano, "get", lambda service_id: service)

    listed = _invoke(["ls"])
    assert listed.exit_code == 0, listed.output
    assert MARKUP in listed.output and "[bold]svc[/bold]" in listed.output and "[docker]" in listed.output

    shown = _invoke(["show", record.id])
    assert shown.exit_code == 0, shown.output
    for text in (f"service {MARKUP} ([bold]svc[/bold])", f"vnf-{MARKUP}", "[bold]x[/bold] [red]1[/red]", "[pop]"):
        assert text in shown.output, text

    ops = _invoke(["ops", record.id])
    assert ops.exit_code == 0, ops.output
    assert f"op-{MARKUP}" in ops.output and f"step place {MARKUP} failed: {MARKUP}" in ops.output


def test_plugin_records_with_markup_are_printed_literally(fake_runtime):
    fake_runtime.plugins = [{"id": "[bold]p[/bold]", "name": "[docker]", "version": "[i]1[/i]",
                             "state": "[blink]odd[/blink]", "last_heartbeat_at": MARKUP}]
    result = _invoke(["plugins"])
    assert result.exit_code == 0, result.output
    for text in ("[bold]p[/bold]", "[docker]", "[i]1[/i]", "[blink]odd[/blink]", MARKUP):
        assert text in result.output, text


def test_descriptor_problems_with_markup_are_printed_literally(tmp_path):
    folder = tmp_path / "[docker]"
    folder.mkdir()
    bad = folder / "vnfd.yml"
    bad.write_text((SONATA / "descriptors" / "iperf-vnfd.yml").read_text()
                   .replace("vcpus: 1", "vcpus: '[bold]x[/bold]'"))
    result = _invoke(["validate", str(bad)])
    assert result.exit_code == 1
    assert str(folder) in result.output and "(got '[bold]x[/bold]')" in result.output, result.output


def test_instantiate_passes_placement_preferences_to_the_api(monkeypatch, fake_runtime):
    seen = {}

    def instantiate(path, vim=None, wait=True, **preferences):
        seen.update(preferences)
        raise mano.OperationFailedError(_operation_from_a_failing_step(lambda: 1 / 0))
    monkeypatch.setattr(mano, "instantiate", instantiate)
    _invoke(["instantiate", str(EXAMPLES / "sonata-demo"), "--policy", "priority", "--priority", "Ghent",
             "--priority", "Athens", "--blacklist", "Aveiro"])
    assert seen == {"policy": "priority", "policy_list": ["Ghent", "Athens"], "blacklist": ["Aveiro"]}
