"""``hub haccp ...``: verify the CCP records, prune old readings, simulate a plant's gateway."""

from __future__ import annotations

import argparse
from typing import Any

from hub.settings import Settings


def add_commands(commands: Any) -> None:
    """The ``haccp`` command and its actions, on the ``hub`` command's subparsers."""
    haccp = commands.add_parser("haccp", help="Smart HACCP records: verify, prune, simulate")
    actions = haccp.add_subparsers(dest="action", required=True)
    verify = actions.add_parser(
        "verify", help="recompute every device's hash chain and every plant's day seal; exit 1 where they break"
    )
    verify.add_argument("--site", help="one plant's GLN (default: every plant)")


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Run a ``hub haccp`` action; its exit status."""
    import graph_schema.haccp.readings  # noqa: F401 (its tables are created with the rest)
    from hub.cli import _sql_engine

    engine = _sql_engine(settings)
    try:
        if args.action == "verify":
            return _verify(engine, site=args.site)
    finally:
        engine.dispose()
    raise AssertionError(f"unknown action {args.action}")


def _verify(engine: Any, *, site: str | None) -> int:
    from graph_schema.haccp.verify import verify

    report = verify(engine, site_gln=site)
    findings = report.findings or []
    for finding in findings:
        print(f"{finding.kind}: {finding.message}")
    where = f"site {site}" if site else "every site"
    verdict = "intact" if report.intact else f"{len(findings)} problems"
    print(f"{report.readings} readings of {report.devices} devices and {report.seals} day seals ({where}): {verdict}")
    return 0 if report.intact else 1
