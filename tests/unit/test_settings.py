"""Every tunable is a Settings field, read from its MANO_* variable and documented in the table."""
from __future__ import annotations

import dataclasses

import pytest

import mano.settings
from mano.settings import Settings


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(Settings)])
def test_every_setting_is_documented_in_the_table(field):
    assert f"| MANO_{field.upper()} " in mano.settings.__doc__


def test_runtime_tunables_come_from_the_environment():
    settings = Settings.from_env({"MANO_SLM_THREADS": "4", "MANO_FLM_THREADS": "8", "MANO_RECOVERY_PERIOD_S": "0.5",
                                  "MANO_SPARE_REFILL_DELAY_S": "3", "MANO_SPARE_IDLE_CPU_PERCENT": "80",
                                  "MANO_LEASE_TTL_S": "2.5"})
    assert (settings.slm_threads, settings.flm_threads, settings.recovery_period_s) == (4, 8, 0.5)
    assert (settings.spare_refill_delay_s, settings.spare_idle_cpu_percent, settings.lease_ttl_s) == (3.0, 80.0, 2.5)


def test_the_placement_solver_is_auto_unless_forced_and_a_typo_is_refused_by_name():
    from mano.lifecycle.sonata_placement import placement_solver
    assert placement_solver(Settings()) == "auto"
    assert placement_solver(Settings.from_env({"MANO_PLACEMENT_SOLVER": "Exact"})) == "exact"
    with pytest.raises(ValueError, match="MANO_PLACEMENT_SOLVER='milp': expected one of exact, fast, exhaustive, auto"):
        placement_solver(Settings(placement_solver="milp"))
