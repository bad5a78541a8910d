"""The ``hub`` command: serve, run the local Neo4j, apply the schema, seed, mint tokens, manage clients and keys."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.engine import Engine

from auth.principal import Role
from graph_schema.constraints import apply_schema
from graph_schema.db import Graph
from hub import haccp_cli, users_cli
from hub.epcis_xsd import EpcisXsdUnavailable, epcis_xml_schemas
from hub.logs import configure_logging
from hub.neo4j_connection import local_server, open_driver
from hub.neo4j_local import Neo4jLaunchError
from hub.settings import Settings

T = TypeVar("T")


async def _with_graph(settings: Settings, work: Callable[[Graph], Awaitable[T]]) -> T:
    driver = open_driver(settings)
    try:
        return await work(Graph(driver, database=settings.neo4j_database))
    finally:
        await driver.close()


def _neo4j(settings: Settings, action: str) -> int:
    if not settings.uses_local_neo4j:
        print(f"HUB_NEO4J_URI is set ({settings.neo4j_uri}): that server is managed elsewhere", file=sys.stderr)
        return 2
    server = local_server(settings)
    if action == "start":
        started = time.perf_counter()
        status = server.start()
        print(
            f"Neo4j {status.version} running at {status.uri} (pid {status.pid}, "
            f"ready in {time.perf_counter() - started:.1f} s, home {status.home})"
        )
    elif action == "stop":
        server.stop()
        print("Neo4j stopped")
    else:
        status = server.status()
        state = f"running (pid {status.pid})" if status.running else "stopped"
        print(f"Neo4j {status.version} at {status.uri}: {state}; home {status.home}")
        return 0 if status.running else 3
    return 0


def _schema_apply(settings: Settings) -> int:
    count = asyncio.run(_with_graph(settings, apply_schema))
    print(f"graph schema applied: {count} constraints and indexes in place")
    return 0


def _bulk_seed(settings: Settings, *, seed: int, if_empty: bool) -> int | None:
    """The large cluster through neo4j-admin's import when the local graph holds nothing; None to write instead."""
    from hub.bulk_seed import bulk_seed_large
    from seed.loader import graph_holds_nothing

    local_server(settings).start()
    if not asyncio.run(_with_graph(settings, graph_holds_nothing)):
        if if_empty:
            print("the graph already holds a cluster; not seeding again")
            return 0
        print(
            "the graph is not empty: the bulk import replaces the whole store, so the large cluster goes through the "
            "write functions instead (much slower); empty the graph first, or use --checked to say so",
            file=sys.stderr,
        )
        return None
    report = bulk_seed_large(settings, seed=seed)
    rows = report.generator.rows
    print(
        f"seeded the large cluster (seed {seed}) by bulk import in {report.seconds:.1f} s: {rows['Firm']:,} firms, "
        f"{rows['Lot']:,} lots, {rows['Transformation']:,} transformations, {rows['Shipment']:,} shipments, "
        f"{rows['HELD_AT']:,} inventory rows; generator peak memory {report.generator.peak_rss_mb:.0f} MB"
    )
    print("; ".join(f"{step} {seconds:.1f} s" for step, seconds in report.steps.items()))
    return 0


def _seed(settings: Settings, *, scale: str, seed: int, if_empty: bool, checked: bool = False) -> int:
    from seed.demo import build_demo
    from seed.loader import graph_is_empty, load_cluster, load_large

    if scale == "large" and settings.uses_local_neo4j and not checked:
        status = _bulk_seed(settings, seed=seed, if_empty=if_empty)
        if status is not None:
            # new firms, sites and products: running hubs drop the profiles and decisions they keep
            from auth.changes import bump

            bump(_sql_engine(settings))
            return status

    async def work(graph: Graph) -> int:
        await apply_schema(graph)
        if if_empty and not await graph_is_empty(graph):
            print("the graph already holds a cluster; not seeding again")
            return 0
        if scale == "demo":
            report = await load_cluster(graph, build_demo(seed))
        else:
            report = await load_large(graph, seed=seed, progress=sys.stderr.isatty())
        written = ", ".join(f"{count:,} {kind}" for kind, count in report.counts.items() if count)
        print(f"seeded the {scale} cluster (seed {seed}) in {report.seconds:.1f} s: {written}")
        return 0

    status = asyncio.run(_with_graph(settings, work))
    # new firms, sites and products: running hubs drop the profiles and decisions they keep
    from auth.changes import bump

    engine = _sql_engine(settings)
    bump(engine)
    if scale == "demo" and status == 0:
        status = _demo_accounts(settings, engine)
    return status


def _demo_accounts(settings: Settings, engine: Engine) -> int:
    """The demo's people accounts (made when missing) and how to sign in with them."""
    import auth.person_tokens  # noqa: F401 (its tables are created with the rest)
    from auth.audit import create_tables
    from auth.people import PasswordHashing
    from seed.accounts import DEMO_ACCOUNTS, seed_accounts

    if settings.env.value == "production":
        return 0  # the demo's passwords are public
    create_tables(engine)
    hashing = PasswordHashing(time_cost=settings.password_hash_time_cost, memory_kib=settings.password_hash_memory_kib)
    asyncio.run(seed_accounts(engine, hashing=hashing))
    print(f"Sign in to the portal at {settings.issuer.rstrip('/')}/ with a demo account (username / password):")
    for demo in DEMO_ACCOUNTS:
        print(f"  {demo.username:<16} {demo.password:<28} {demo.who} ({demo.firm_id}, {demo.role.value})")
    return 0


def _token(settings: Settings, *, firm: str, roles: Sequence[str], scopes: Sequence[str]) -> int:
    from hub.app import open_issuer

    issuer = open_issuer(settings)
    token = issuer.mint(subject=f"cli:{firm}", firm_id=firm, roles=[Role(r) for r in roles], scopes=scopes)
    print(token)
    return 0


def _sql_engine(settings: Settings) -> Engine:
    """The SQL side store, its tables created (as the hub does at start-up)."""
    import auth.changes
    import auth.clients  # noqa: F401 (registers the api_client and hub_change_counter tables before create_tables)
    import resolvers.documents  # noqa: F401 (and the trusted_documents table)
    from auth.audit import create_tables
    from hub.sql_store import create_sql_engine

    settings.state_dir.mkdir(parents=True, exist_ok=True)
    engine = create_sql_engine(settings.database_url)
    create_tables(engine)
    return engine


def _clients_create(
    settings: Settings, *, firm: str, roles: Sequence[str], scopes: Sequence[str], description: str
) -> int:
    from auth.clients import create_client

    engine = _sql_engine(settings)
    try:
        client_id, secret = asyncio.run(
            create_client(engine, firm_id=firm, roles=roles, scopes=scopes, description=description)
        )
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    print(f"client_id:     {client_id}")
    print(f"client_secret: {secret}")
    print("The secret is shown only this once: store it now. The hub keeps only a hash of it.")
    scope_list = " ".join(sorted(set(scopes))) or "(none)"
    print(f"It acts for firm {firm} with roles {', '.join(sorted(set(roles)))}; scopes: {scope_list}.")
    print("Get an access token with:")
    print(
        f"  curl -s -u '{client_id}:<client_secret>' -d grant_type=client_credentials "
        f"{settings.issuer.rstrip('/')}/oauth/token"
    )
    if not settings.issuer_enabled:
        print(
            "warning: the built-in issuer is switched off (HUB_ISSUER_ENABLED=false): no token endpoint",
            file=sys.stderr,
        )
    return 0


def _clients_revoke(settings: Settings, client_id: str) -> int:
    from auth.clients import revoke_client

    engine = _sql_engine(settings)
    try:
        revoked = asyncio.run(revoke_client(engine, client_id))
    finally:
        engine.dispose()
    if not revoked:
        print(f"error: no active client {client_id!r}", file=sys.stderr)
        return 1
    print(
        f"client {client_id} revoked; access tokens it already got stay valid until they expire "
        f"(at most {settings.token_ttl_seconds} s)"
    )
    return 0


def _keys_rotate(settings: Settings) -> int:
    from auth.issuer import rotate_keys
    from hub.app import open_issuer

    key_file = open_issuer(settings).key_file
    assert key_file is not None  # open_issuer always reads a key file
    retire_after = settings.token_ttl_seconds + settings.token_leeway_seconds
    kid = rotate_keys(key_file, retire_after_seconds=retire_after)
    print(kid)
    print(
        f"new tokens are signed with key {kid}; the previous key still verifies for {retire_after} s, "
        "and running hubs pick the change up by themselves",
        file=sys.stderr,
    )
    return 0


def _import(
    settings: Settings, *, path: str, firm: str, format: str | None, time_zone: str | None, dry_run: bool
) -> int:
    """Write a spreadsheet's lots, transformations and shipments as firm ``firm``, all or nothing."""
    from pathlib import Path

    from graph_schema.errors import HubError
    from graph_schema.imports import import_spreadsheet
    from graph_schema.spreadsheet import SpreadsheetFormat, format_of, parse_spreadsheet, time_zone_named

    try:
        kind = format_of(path, SpreadsheetFormat(format.upper()) if format else None)
        parsed = parse_spreadsheet(
            Path(path).read_bytes(), format=kind, firm_id=firm, time_zone=time_zone_named(time_zone)
        )
    except (HubError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    async def work(graph: Graph) -> int:
        outcome = await import_spreadsheet(graph, parsed, firm_id=firm, dry_run=dry_run)
        read = f"{outcome.lots} lots, {outcome.transformations} transformations, {outcome.shipments} shipments"
        for error in outcome.errors:
            print(f"{error.code}: {error.describe()}", file=sys.stderr)
        if outcome.errors:
            count = len(outcome.errors)
            print(f"{count} problem{'s' * (count != 1)}; nothing was written ({read} read)", file=sys.stderr)
            return 1
        verb = "checked (dry run, nothing written)" if dry_run else "imported"
        print(f"{verb}: {read}; {outcome.new_lots} lots new to the graph")
        return 0

    return asyncio.run(_with_graph(settings, work))


def _document_texts(path: Path) -> list[str]:
    """The operation texts of a file: a .json manifest maps sha256 hashes to texts (Apollo's and GraphQL
    Code Generator's persisted documents), anything else is one document."""
    from resolvers.documents import document_hash

    if path.suffix != ".json":
        return [path.read_text(encoding="utf-8")]
    manifest = json.loads(path.read_text(encoding="utf-8"))
    pairs = manifest.get("operations", manifest) if isinstance(manifest, dict) else None
    if not isinstance(pairs, dict) or not all(isinstance(v, str) for v in pairs.values()):
        raise ValueError(f"{path}: a manifest is a JSON object of sha256 hash -> operation text")
    for given, text in pairs.items():
        if given.removeprefix("sha256:").lower() != document_hash(text):
            raise ValueError(f"{path}: {given} is not the sha256 of its text")
    return list(pairs.values())


def _documents_add(settings: Settings, files: Sequence[str]) -> int:
    from graphql import GraphQLError

    from resolvers.documents import add_documents

    try:
        texts = [text for name in files for text in _document_texts(Path(name))]
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    engine = _sql_engine(settings)
    try:
        added = add_documents(engine, texts)
    except GraphQLError as error:
        print(f"error: {error.message}; nothing was registered", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    for document in added:
        print(f"{document.sha256}  {document.operation_names}")
    return 0


def _documents_list(settings: Settings) -> int:
    from resolvers.documents import list_documents

    engine = _sql_engine(settings)
    try:
        for document in list_documents(engine):
            print(f"{document.sha256}  {document.added_at:%Y-%m-%d %H:%M}  {document.operation_names}")
    finally:
        engine.dispose()
    return 0


def _serve(settings: Settings, *, workers: int = 1, logs: dict[str, Any] | None = None) -> int:
    import uvicorn

    from hub.app import create_app
    from hub.server import uvicorn_options

    loop = "uvloop" if _has("uvloop") else "asyncio"
    if workers > 1:
        # Worker processes build their own app from the environment: hand them the host and port given here,
        # which the built-in issuer's URL derives from. A big trace is CPU-bound in Python, so concurrent ones
        # need a process per core (bench/big_trace.py --servers: 2 workers serve 1.4x the traces per second).
        os.environ["HUB_HOST"], os.environ["HUB_PORT"] = settings.host, str(settings.port)
        uvicorn.run(
            "hub.app:create_app",
            factory=True,
            workers=workers,
            host=settings.host,
            port=settings.port,
            log_level="info",
            loop=loop,
            **uvicorn_options(settings),
            log_config=logs,  # hub.logs's set-up (uvicorn's own would replace it), in each worker too
            access_log=False,  # hub.request_log writes one line per request, with its id
        )
        return 0
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="info",
        loop=loop,
        **uvicorn_options(settings),
        log_config=logs,
        access_log=False,
    )
    return 0


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def build_parser() -> argparse.ArgumentParser:
    """The command line of the contract."""
    parser = argparse.ArgumentParser(prog="hub", description="The food cluster's data hub")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve GraphQL (GraphiQL in development)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, default=1, help="processes serving requests (one per core for load)")
    neo4j = commands.add_parser("neo4j", help="the project's local Neo4j server")
    neo4j.add_argument("action", choices=["start", "stop", "status"])
    schema = commands.add_parser("schema", help="graph constraints and indexes")
    schema.add_argument("action", choices=["apply"])
    xsd = commands.add_parser("epcis-xsd", help="the GS1 EPCIS XSDs XML capture is checked against")
    xsd.add_argument("action", choices=["fetch"], help="fetch them from Maven Central unless already there")
    seed = commands.add_parser("seed", help="write a generated cluster into the graph")
    seed.add_argument("--scale", choices=["demo", "large"], default="demo")
    seed.add_argument("--seed", type=int, default=7)
    seed.add_argument("--if-empty", action="store_true", help="do nothing when a cluster is already there")
    seed.add_argument(
        "--checked",
        action="store_true",
        help="large: write through the checked write functions (any Neo4j) instead of the local server's bulk import",
    )
    token = commands.add_parser("token", help="print a short-lived bearer token from the built-in issuer")
    token.add_argument("--firm", required=True)
    token.add_argument("--role", action="append", choices=[r.value for r in Role], required=True)
    token.add_argument("--scope", action="append", default=[])
    clients = commands.add_parser("clients", help="API clients of the built-in issuer (client credentials)")
    client_actions = clients.add_subparsers(dest="action", required=True)
    create = client_actions.add_parser("create", help="a new client id and secret for a firm (secret shown once)")
    create.add_argument("--firm", required=True)
    create.add_argument("--role", action="append", choices=[r.value for r in Role], required=True)
    create.add_argument("--scope", action="append", default=[])
    create.add_argument("--description", default="")
    revoke = client_actions.add_parser("revoke", help="refuse a client's credentials from now on")
    revoke.add_argument("client_id")
    spreadsheet = commands.add_parser(
        "import", help="write a CSV or XLSX file of lots, transformations and shipments for a firm (all or nothing)"
    )
    spreadsheet.add_argument("file")
    spreadsheet.add_argument("--firm", required=True, help="the firm the rows are recorded for (their author)")
    spreadsheet.add_argument("--format", choices=["csv", "xlsx"], help="default: from the file name's extension")
    spreadsheet.add_argument("--time-zone", help="IANA zone (e.g. Asia/Seoul) for times without a UTC offset")
    spreadsheet.add_argument("--dry-run", action="store_true", help="check every row, write nothing")
    documents = commands.add_parser("documents", help="trusted documents: the operations production runs")
    document_actions = documents.add_subparsers(dest="action", required=True)
    add = document_actions.add_parser(
        "add", help="register operation files (.graphql, one document each) or persisted-query manifests (.json)"
    )
    add.add_argument("files", nargs="+", metavar="FILE")
    document_actions.add_parser("list", help="the registered documents: hash, operations, when added")
    keys = commands.add_parser("keys", help="the built-in issuer's signing keys")
    keys.add_argument("action", choices=["rotate"], help="rotate: a new signing key; the old one verifies a while")
    haccp_cli.add_commands(commands)
    users_cli.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hub`` console script."""
    args = build_parser().parse_args(argv)
    overrides: dict[str, object] = {}
    if args.command == "serve":
        overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    settings = Settings(**overrides)  # type: ignore[arg-type]
    logs = configure_logging(settings)
    # Everything the hub writes (SQLite file and WAL, EPCIS spool, keys, the local Neo4j's store) is for its
    # own user only.
    os.umask(0o077)
    try:
        if args.command == "serve":
            return _serve(settings, workers=args.workers, logs=logs)
        if args.command == "neo4j":
            return _neo4j(settings, args.action)
        if args.command == "schema":
            return _schema_apply(settings)
        if args.command == "epcis-xsd":
            schemas = epcis_xml_schemas(settings)
            print(f"GS1 EPCIS XSDs (1.2 and 2.0) in {schemas.folder}")
            return 0
        if args.command == "seed":
            return _seed(settings, scale=args.scale, seed=args.seed, if_empty=args.if_empty, checked=args.checked)
        if args.command == "clients" and args.action == "create":
            return _clients_create(
                settings, firm=args.firm, roles=args.role, scopes=args.scope, description=args.description
            )
        if args.command == "clients":
            return _clients_revoke(settings, args.client_id)
        if args.command == "import":
            return _import(
                settings,
                path=args.file,
                firm=args.firm,
                format=args.format,
                time_zone=args.time_zone,
                dry_run=args.dry_run,
            )
        if args.command == "documents":
            return _documents_add(settings, args.files) if args.action == "add" else _documents_list(settings)
        if args.command == "keys":
            return _keys_rotate(settings)
        if args.command == "haccp":
            return haccp_cli.run(settings, args)
        if args.command == "users":
            return users_cli.run(settings, args)
        return _token(settings, firm=args.firm, roles=args.role, scopes=args.scope)
    except (Neo4jLaunchError, EpcisXsdUnavailable) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
