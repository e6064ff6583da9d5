"""The dependency audit that .ci/run runs: pip-audit against the public OSV database, or offline
against the advisory snapshot served over the same API. It must fail on the pins that issue #10
found vulnerable and pass on today's."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("dependency_audit", ROOT / "scripts" / "dependency_audit.py")
assert _spec and _spec.loader
audit = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(audit)


def _ids(name: str, version: str) -> set[str]:
    answer = audit.osv_query_answer(
        audit._load_snapshot(audit.SNAPSHOT), {"package": {"name": name, "ecosystem": "PyPI"}, "version": version}
    )
    return {v["id"] for v in answer.get("vulns", [])}


def test_the_snapshot_knows_the_vulnerabilities_of_the_old_pins() -> None:
    assert "CVE-2025-13372" in _ids("Django", "5.2.8")  # FilteredRelation SQL injection, fixed in 5.2.9
    assert "CVE-2026-33033" in _ids("django", "5.2.8")  # multipart base64 DoS, fixed in 5.2.13
    assert {"CVE-2026-44545", "CVE-2026-44546"} <= _ids("daphne", "4.2.1")
    assert len(_ids("pypdf", "6.1.3")) >= 20  # crafted-PDF denial-of-service fixes since


def test_the_snapshot_finds_nothing_in_the_current_pins() -> None:
    assert _ids("django", "5.2.19") == set()
    assert _ids("daphne", "4.2.3") == set()
    assert _ids("pypdf", "7.1.1") == set()


def test_a_fix_in_another_series_does_not_flag_a_later_series() -> None:
    # 4.2.x fixes are ranged within 4.2: they say nothing about 5.2.19.
    assert _ids("django", "4.2.0") and not _ids("django", "5.2.19")


def test_pip_audit_fails_on_a_vulnerable_requirement(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("django==5.2.8\ndaphne==4.2.1\npypdf==6.1.3\n")
    with audit.osv_server(audit.SNAPSHOT) as url:
        result = subprocess.run(
            [sys.executable, "-m", "pip_audit", "-r", str(requirements), "--no-deps", "--disable-pip",
             "--progress-spinner", "off", "-s", "osv", "--osv-url", url],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
    assert result.returncode == 1
    assert "CVE-2025-13372" in result.stdout and "CVE-2026-44545" in result.stdout


def test_the_installed_environment_passes_the_offline_audit() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "dependency_audit.py"), "--offline"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No known vulnerabilities found" in result.stdout + result.stderr
