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
    simulate = actions.add_parser(
        "simulate", help="stream realistic readings of a plant's CCPs to a running hub (a device token minted here)"
    )
    simulate.add_argument(
        "--site",
        required=True,
        help="the plant's GLN, or 'auto': the plant with the most CCPs reporting through devices",
    )
    simulate.add_argument("--rate", type=int, default=1, help="readings a second per device (default 1)")
    simulate.add_argument("--duration", type=float, default=120, help="seconds to run (default 120, at most 3600)")
    simulate.add_argument("--url", help="the hub (default http://HUB_HOST:HUB_PORT); this machine only")
    simulate.add_argument("--first-excursion", type=float, default=30, help="seconds until the first excursion")
    simulate.add_argument(
        "--wait-for-hub", type=float, default=0, help="seconds to wait for the hub to answer before posting (default 0)"
    )
    actions.add_parser(
        "prune",
        help="roll raw readings older than HUB_HACCP_RETENTION_DAYS up into their hourly aggregates (then delete them)",
    )


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Run a ``hub haccp`` action; its exit status."""
    import graph_schema.haccp.readings  # noqa: F401 (its tables are created with the rest)
    from hub.cli import _sql_engine

    if args.action == "simulate":
        return _simulate(settings, args)

    engine = _sql_engine(settings)
    try:
        if args.action == "verify":
            return _verify(engine, site=args.site)
        if args.action == "prune":
            return _prune(engine, retention_days=settings.haccp_retention_days)
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


def _prune(engine: Any, *, retention_days: int) -> int:
    import time

    from graph_schema.haccp.retention import prune

    report = prune(engine, now_ms=time.time_ns() // 1_000_000, retention_days=retention_days)
    print(
        f"{report.readings} raw readings of {report.devices} devices that arrived before {report.cutoff_day} "
        f"removed (their hourly aggregates, chain anchors and {report.days} day seals kept)"
    )
    return 0


def _simulate(settings: Settings, args: argparse.Namespace) -> int:
    import asyncio
    import sys

    from auth.principal import Role
    from graph_schema.db import Graph
    from graph_schema.haccp.ccps import ccps_of_sites, gateway_site
    from hub.app import open_issuer
    from hub.cli import _with_graph
    from hub.haccp_simulator import run as simulate
    from hub.haccp_simulator import wait_for_hub

    async def read(graph: Graph) -> tuple[str | None, dict[str, list[dict[str, Any]]]]:
        site = await gateway_site(graph) if args.site == "auto" else args.site
        return site, await ccps_of_sites(graph, [site] if site else [])

    site, found = asyncio.run(_with_graph(settings, read))
    ccps = found.get(site or "", [])
    if site is None or not any(ccp["devices"] for ccp in ccps):
        print(f"error: site {site or args.site} has no CCP with a device (registerCcp names them)", file=sys.stderr)
        return 1
    args.site = site
    firm = ccps[0]["firmId"]
    token = open_issuer(settings).mint(subject=f"simulator:{args.site}", firm_id=firm, roles=[Role.DEVICE])
    url = args.url or f"http://{settings.host}:{settings.port}"
    if args.wait_for_hub > 0 and not wait_for_hub(url, seconds=args.wait_for_hub):
        print(f"error: no hub answered at {url} within {args.wait_for_hub:.0f} s", file=sys.stderr)
        return 1
    print(f"posting readings of {len(ccps)} CCPs of site {args.site} ({firm}) to {url} for {args.duration:.0f} s")
    try:
        totals = simulate(
            url=url,
            token=token,
            ccps=ccps,
            rate=args.rate,
            duration=args.duration,
            first_excursion_s=args.first_excursion,
        )
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(
        f"{totals['accepted']} readings accepted, {totals['duplicates']} duplicates, {totals['refused']} refused, "
        f"{totals['excursions']} excursions"
    )
    return 0 if totals["refused"] == 0 else 1
