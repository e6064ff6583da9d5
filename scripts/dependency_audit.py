"""Dependency audit: pip-audit over the installed environment; exit 1 on a known vulnerability.

Usage (from the project root, with the project's virtualenv):

    .venv/bin/python scripts/dependency_audit.py            # audit (CI runs this)
    .venv/bin/python scripts/dependency_audit.py --refresh  # rebuild the offline advisory snapshot

Where the public OSV database (https://api.osv.dev) answers, pip-audit queries it. Where it does not
(CI and development machines here have no internet, only a package index), pip-audit queries a
loopback server that speaks the same OSV query API over ``security/advisories/*.json``: advisories
in OSV format, built by ``--refresh`` from the release notes that ship inside the packages' own
source distributions (Django's ``docs/releases``, daphne's ``CHANGELOG.txt``, pypdf's
``CHANGELOG.md``), which the package index does serve. Both paths run the same pip-audit, so a
vulnerable pin fails CI either way; the snapshot covers only the packages listed in
``SNAPSHOT_PACKAGES`` (the ones that parse untrusted input or face the network), the public
database covers everything.
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = ROOT / "security" / "advisories"
PUBLIC_OSV_HOST = "api.osv.dev"
SNAPSHOT_PACKAGES = ("django", "daphne", "pypdf")


# --------------------------------------------------------------------------- the offline OSV API


def _load_snapshot(folder: Path) -> dict[str, list[dict[str, Any]]]:
    by_package: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(p for p in folder.glob("*.json") if p.name != "README.json"):
        for vuln in json.loads(path.read_text())["vulns"]:
            for affected in vuln["affected"]:
                by_package.setdefault(affected["package"]["name"].lower(), []).append(vuln)
    return by_package


def _affects(vuln: dict[str, Any], name: str, version: Version) -> bool:
    """OSV semantics for ECOSYSTEM ranges: introduced <= version < fixed."""
    for affected in vuln["affected"]:
        if affected["package"]["name"].lower() != name:
            continue
        for one_range in affected.get("ranges", []):
            introduced, fixed = Version("0"), None
            for event in one_range["events"]:
                if "introduced" in event:
                    introduced = Version(event["introduced"])
                if "fixed" in event:
                    fixed = Version(event["fixed"])
            if introduced <= version and (fixed is None or version < fixed):
                return True
    return False


def osv_query_answer(snapshot: dict[str, list[dict[str, Any]]], query: dict[str, Any]) -> dict[str, Any]:
    """What api.osv.dev's /v1/query answers for one package version: the advisories affecting it
    (an empty object when there are none)."""
    name = str(query["package"]["name"]).lower()
    try:
        version = Version(str(query["version"]))
    except InvalidVersion:
        return {}
    vulns = [v for v in snapshot.get(name, []) if _affects(v, name, version)]
    return {"vulns": vulns} if vulns else {}


@contextmanager
def osv_server(folder: Path) -> Iterator[str]:
    snapshot = _load_snapshot(folder)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            return None

        def do_POST(self) -> None:  # noqa: N802
            query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            data = json.dumps(osv_query_answer(snapshot, query)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1/query"
    finally:
        httpd.shutdown()
        httpd.server_close()


# --------------------------------------------------------------------------- the audit


def public_osv_reachable(timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection((PUBLIC_OSV_HOST, 443), timeout=timeout):
            return True
    except OSError:
        return False


def pip_audit(osv_url: str | None) -> int:
    command = [sys.executable, "-m", "pip_audit", "--local", "--progress-spinner", "off", "-s", "osv", "--desc", "on"]
    if osv_url:
        command += ["--osv-url", osv_url]
    return subprocess.run(command, check=False).returncode  # noqa: S603


def audit(*, offline: bool) -> int:
    if not offline and public_osv_reachable():
        print(f"[audit] pip-audit against the public OSV database ({PUBLIC_OSV_HOST})", flush=True)
        return pip_audit(None)
    taken = json.loads((SNAPSHOT / "README.json").read_text())["taken"]
    print(
        f"[audit] {PUBLIC_OSV_HOST} is not reachable: pip-audit against the advisory snapshot in "
        f"{SNAPSHOT.relative_to(ROOT)} (taken {taken}; packages {', '.join(SNAPSHOT_PACKAGES)})",
        flush=True,
    )
    with osv_server(SNAPSHOT) as url:
        return pip_audit(url)


# --------------------------------------------------------------------------- the snapshot


def _advisory(package: str, ident: str, summary: str, fixed: str, introduced: str, source: str) -> dict[str, Any]:
    return {
        "schema_version": "1.6.0",
        "id": ident,
        "summary": summary,
        "details": f"Fixed in {package} {fixed} (from {source}).",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": package},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": introduced}, {"fixed": fixed}]}],
            }
        ],
    }


def django_advisories(root: Path) -> list[dict[str, Any]]:
    """Every ``CVE-...: title`` heading in the release notes of the installed feature series."""
    vulns: list[dict[str, Any]] = []
    for notes in sorted((root / "docs" / "releases").glob("*.txt")):
        fixed = notes.stem
        try:
            release = Version(fixed)
        except InvalidVersion:
            continue
        if release.micro == 0:
            continue
        series = f"{release.major}.{release.minor}"
        for ident, title in re.findall(r"^(CVE-\d{4}-\d+): (.+)$", notes.read_text(), flags=re.M):
            vulns.append(
                _advisory("django", ident, title.replace("``", ""), fixed, series, f"docs/releases/{fixed}.txt")
            )
    return vulns


def daphne_advisories(root: Path) -> list[dict[str, Any]]:
    text = (root / "CHANGELOG.txt").read_text()
    vulns: list[dict[str, Any]] = []
    for version, body in re.findall(
        r"^(\d+\.\d+\.\d+) \([^)]*\)\n-+\n(.*?)(?=^\d+\.\d+\.\d+ \(|\Z)", text, re.M | re.S
    ):
        for item in re.split(r"\n(?=\* )", body):
            for ident in dict.fromkeys(re.findall(r"CVE-\d{4}-\d+", item)):
                summary = " ".join(item.lstrip("* ").split())[:200]
                vulns.append(_advisory("daphne", ident, summary, version, "0", "CHANGELOG.txt"))
    return vulns


def pypdf_advisories(root: Path) -> list[dict[str, Any]]:
    """pypdf lists its security fixes under "Security (SEC)" without ids: each gets a local id."""
    text = (root / "CHANGELOG.md").read_text()
    vulns: list[dict[str, Any]] = []
    for version, body in re.findall(r"^## Version (\d+\.\d+\.\d+)[^\n]*\n(.*?)(?=^## Version |\Z)", text, re.M | re.S):
        section = re.search(r"### Security \(SEC\)\n(.*?)(?=\n### |\n\[Full|\Z)", body, re.S)
        if not section:
            continue
        for line in re.findall(r"^- (.+)$", section.group(1), re.M):
            number = re.search(r"#(\d+)", line)
            ident = f"PYPDF-SEC-{version}-{number.group(1) if number else len(vulns)}"
            vulns.append(_advisory("pypdf", ident, line.strip(), version, "0", "CHANGELOG.md"))
    return vulns


PARSERS = {"django": django_advisories, "daphne": daphne_advisories, "pypdf": pypdf_advisories}


def refresh() -> None:
    """Download each package's newest source distribution from the configured index and rebuild
    the snapshot from its release notes."""
    SNAPSHOT.mkdir(parents=True, exist_ok=True)
    versions = {}
    with tempfile.TemporaryDirectory() as tmp:
        for package in SNAPSHOT_PACKAGES:
            subprocess.run(  # noqa: S603
                [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:", "-d", tmp,
                 package],
                check=True,
            )  # fmt: skip
            archive = next(p for p in Path(tmp).glob("*.tar.gz") if p.name.lower().startswith(package))
            with tarfile.open(archive) as tar:
                tar.extractall(tmp, filter="data")
            unpacked = Path(tmp) / archive.name.removesuffix(".tar.gz")
            versions[package] = unpacked.name.rsplit("-", 1)[1]
            vulns = PARSERS[package](unpacked)
            (SNAPSHOT / f"{package}.json").write_text(json.dumps({"vulns": vulns}, indent=1) + "\n")
            print(f"[audit] {package} {versions[package]}: {len(vulns)} advisories")
    readme = {"taken": datetime.now(UTC).strftime("%Y-%m-%d"), "from_release_notes_of": versions}
    (SNAPSHOT / "README.json").write_text(json.dumps(readme, indent=1) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--refresh", action="store_true", help="rebuild security/advisories from release notes")
    parser.add_argument("--offline", action="store_true", help="use the snapshot even if the public OSV answers")
    args = parser.parse_args()
    if args.refresh:
        refresh()
        return 0
    return audit(offline=args.offline)


if __name__ == "__main__":
    sys.exit(main())
