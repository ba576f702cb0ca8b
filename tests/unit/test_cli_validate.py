"""``mano validate``: a summary for good descriptors, every problem for bad ones."""
from __future__ import annotations

import json

from click.testing import CliRunner

from mano.cli import main
from paths import EXAMPLES, SONATA


def test_validate_a_service_directory():
    result = CliRunner().invoke(main, ["validate", str(EXAMPLES / "sonata-demo")], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "sonata-demo" in result.output and "iperf-vnf" in result.output


def test_validate_an_nsd_whose_vnfds_are_missing_is_valid_with_a_note():
    result = CliRunner().invoke(main, ["validate", str(SONATA / "descriptors" / "sonata-demo.yml")], env={"COLUMNS": "250"})
    assert result.exit_code == 0
    assert "exists at version 0.2" in result.output


def test_validate_reports_the_field_path(tmp_path):
    bad = tmp_path / "vnfd.yml"
    bad.write_text((SONATA / "descriptors" / "iperf-vnfd.yml").read_text().replace("vcpus: 1", "vcpus: lots"))
    result = CliRunner().invoke(main, ["validate", "--json", str(bad)], env={"COLUMNS": "250"})
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["invalid"][0]["problems"] == [
        "virtual_deployment_units[0].resource_requirements.cpu.vcpus: Input should be a valid number, "
        "unable to parse string as a number (got 'lots')"]
