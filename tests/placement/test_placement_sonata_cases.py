"""The 10 SONATA placement cases (every solver), the case runner CLI, and SONATA's weight calibration."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from placement_checks import REPO, load_cases

import placement
from placement import cases

CASES = load_cases()


@pytest.mark.parametrize("solver", ["exact", "fast", "exhaustive"])
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_sonata_case_maps_every_vnf_to_the_expected_pop(cases_file: Path, case: dict, solver: str):
    result = cases.run_case(case, cases_file.parent, solver=solver)
    assert result.error is None
    assert result.mapping == result.expected


def test_all_ten_cases_are_present(cases_file: Path):
    assert len(CASES) == 10
    assert all(c["expected"] for c in CASES)


def test_cli_reports_every_case_and_exits_zero(cases_file: Path):
    done = subprocess.run(
        [sys.executable, "-m", "placement.cases", str(cases_file), "--json"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["passed"] == report["total"] == 10
    assert all(c["matches"] and c["mapping"] == c["expected"] for c in report["cases"])


def test_cli_exits_non_zero_on_a_mismatch(cases_file: Path, tmp_path: Path, capsys):
    wrong = [dict(CASES[0], expected={"vnf_1": "1111-22222222-33333333-4444"})]
    for key in ("nsd", "topology"):
        wrong[0][key] = str(cases_file.parent / CASES[0][key])
    wrong[0]["vnfds"] = [str(cases_file.parent / v) for v in CASES[0]["vnfds"]]
    path = tmp_path / "cases.yml"
    path.write_text(yaml.safe_dump(wrong))
    assert cases.main([str(path)]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "expected: vnf_1→1111-22222222-33333333-4444" in out


def test_cli_exits_two_on_unreadable_input(tmp_path: Path):
    assert cases.main([str(tmp_path / "missing.yml")]) == 2


def test_mixed_weights_are_normalised_by_single_objective_optima(cases_file: Path):
    """SONATA's calibrated 0.5/0.5 case (its test 20): load balanced + proximity to the egress.

    Single optima: load dispersion 0.56 (both VNFs on Athens), proximity 4 (vnf 1 next to the
    egress nap in Aveiro). Normalised 0.5/0.5 picks vnf 1 on Aveiro and vnf 2 on Athens.
    """
    base = cases_file.parent
    nsd = yaml.safe_load((base / "nsd_16.yml").read_text())
    nsd["soft_constraints"] = [
        {"objective": "proximity", "involved_actors": ["destination", "vforward_vnf_1_2"]}
    ]
    topology = yaml.safe_load((base / "infrastructure_16.yml").read_text())
    for vim, (used, endpoint) in zip(topology, [(20, "10.100.32.200"), (30, "10.1.10.1"), (40, "8.8.8.8")]):
        vim.update(core_used=used, memory_used=used, vim_endpoint=endpoint)
    vnfds = [yaml.safe_load((base / name).read_text()) for name in ("vnfd_1_16.yml", "vnfd_2_16.yml")]
    for solver in ("exact", "fast"):
        mapping = placement.place_sonata_mapping(
            nsd,
            vnfds,
            topology,
            {"policy": "load balanced"},
            {},
            [{"nap": "10.100.10.100", "location": "foo"}],
            [{"nap": "10.1.10.1", "location": "foo"}],
            operator_weight=0.5,
            developer_weight=0.5,
            solver=solver,
        )
        assert mapping.vnfs == {
            "vforward_vnf_1_2": "1111-22222222-33333333-5555",
            "vforward_vnf_2_2": "1111-22222222-33333333-4444",
        }
        assert mapping.stats["normalisation"] == pytest.approx((0.56, 4.0))
