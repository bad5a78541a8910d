"""The ``hub`` command: serve, run the local Neo4j, apply the schema, seed, mint local tokens."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from neo4j import AsyncGraphDatabase

from auth.principal import Role
from graph_schema.constraints import apply_schema
from graph_schema.db import Graph
from hub.neo4j_connection import local_server, neo4j_connection
from hub.neo4j_local import Neo4jLaunchError
from hub.settings import Settings

T = TypeVar("T")


async def _with_graph(settings: Settings, work: Callable[[Graph], Awaitable[T]]) -> T:
    connection = neo4j_connection(settings)
    driver = AsyncGraphDatabase.driver(connection.uri, auth=(connection.user, connection.password))
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


def _seed(settings: Settings, *, scale: str, seed: int, if_empty: bool) -> int:
    from seed.demo import build_demo
    from seed.loader import graph_is_empty, load_cluster, load_large

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

    return asyncio.run(_with_graph(settings, work))


def _token(settings: Settings, *, firm: str, roles: Sequence[str], scopes: Sequence[str]) -> int:
    from hub.app import open_issuer

    issuer = open_issuer(settings)
    token = issuer.mint(subject=f"cli:{firm}", firm_id=firm, roles=[Role(r) for r in roles], scopes=scopes)
    print(token)
    return 0


def _serve(settings: Settings) -> int:
    import uvicorn

    from hub.app import create_app

    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="info",
        loop="uvloop" if _has("uvloop") else "asyncio",
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
    neo4j = commands.add_parser("neo4j", help="the project's local Neo4j server")
    neo4j.add_argument("action", choices=["start", "stop", "status"])
    schema = commands.add_parser("schema", help="graph constraints and indexes")
    schema.add_argument("action", choices=["apply"])
    seed = commands.add_parser("seed", help="write a generated cluster into the graph")
    seed.add_argument("--scale", choices=["demo", "large"], default="demo")
    seed.add_argument("--seed", type=int, default=7)
    seed.add_argument("--if-empty", action="store_true", help="do nothing when a cluster is already there")
    token = commands.add_parser("token", help="print a short-lived bearer token from the built-in issuer")
    token.add_argument("--firm", required=True)
    token.add_argument("--role", action="append", choices=[r.value for r in Role], required=True)
    token.add_argument("--scope", action="append", default=[])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hub`` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    overrides: dict[str, object] = {}
    if args.command == "serve":
        overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    settings = Settings(**overrides)  # type: ignore[arg-type]
    try:
        if args.command == "serve":
            return _serve(settings)
        if args.command == "neo4j":
            return _neo4j(settings, args.action)
        if args.command == "schema":
            return _schema_apply(settings)
        if args.command == "seed":
            return _seed(settings, scale=args.scale, seed=args.seed, if_empty=args.if_empty)
        return _token(settings, firm=args.firm, roles=args.role, scopes=args.scope)
    except Neo4jLaunchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
