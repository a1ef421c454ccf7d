"""bench/credentials.py --quick issues credentials three ways, imports phones, and carries
every rate to 25 million voters. Speed is never asserted (bench/ is where it is read)."""

from __future__ import annotations

import pytest

from .runner import run_bench


def test_the_credentials_benchmark_reports_every_rate_and_its_extrapolation() -> None:
    report = run_bench("credentials.py", "--quick", "--store", "sqlite")
    issuing = report["issuing"]
    assert set(issuing) == {"in_process", "issuer_1_workers", "issuer_2_workers"}
    assert (issuing["issuer_1_workers"]["workers"], issuing["issuer_2_workers"]["workers"]) == (1, 2)
    imported = report["import"]["sqlite"]
    assert imported["voters"] == 6000 and imported["workers"] >= 1
    rates = {**issuing, "import_sqlite": imported}
    for figures in rates.values():
        per_s = figures["per_s"]
        assert 0 < per_s["min"] <= per_s["median"] <= per_s["max"] and per_s["repeats"] == 1
        assert figures["us_per_voter"] > 0 and figures["cpus_busy"] > 0 and figures["cpu_us_per_voter"] > 0
    steps = report["steps_us_per_voter"]
    assert set(steps) == {"new_code", "credential_secret", "public_credential", "seal"}
    assert all(0 < step["median"] and step["unit"] == "us/voter" for step in steps.values())
    future = report["extrapolated_25M"]
    assert "EXTRAPOLATED" in future["note"] and (future["voters"], future["target_s"]) == (25_000_000, 900)
    assert set(future["by"]) == set(rates)
    for name, figures in future["by"].items():
        assert figures["seconds"] == pytest.approx(25_000_000 / rates[name]["per_s"]["median"], rel=1e-3)
        assert figures["within_target"] == (figures["seconds"] <= 900)
        cpu_s = 25_000_000 * rates[name]["cpu_us_per_voter"] / 1e6
        assert figures["idle_cores_floor_s"] == pytest.approx(cpu_s / 2, rel=1e-3)
