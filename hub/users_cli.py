"""``hub users ...``: people's accounts at the built-in issuer (they sign in to the portal with them)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from typing import Any

from auth.principal import Role
from hub.settings import Settings

PERSON_ROLES = [role.value for role in Role if role is not Role.DEVICE]


def add_commands(commands: Any) -> None:
    """The ``users`` command and its actions, on the ``hub`` command's subparsers."""
    users = commands.add_parser("users", help="people's accounts at the built-in issuer (portal sign-in)")
    actions = users.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="a new account for a person of a firm (password asked for)")
    create.add_argument("--firm", required=True, help="the firm the person acts for")
    create.add_argument("--role", action="append", choices=PERSON_ROLES, required=True)
    create.add_argument("--username", required=True)
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from the first line of standard input"
    )
    listing = actions.add_parser("list", help="the accounts: username, firm, roles, second factor, state")
    listing.add_argument("--firm", help="one firm's accounts only")
    disable = actions.add_parser("disable", help="refuse an account's sign-ins and end its sign-ins from now on")
    disable.add_argument("username")
    totp = actions.add_parser("totp", help="enrol a TOTP second factor (prints the otpauth:// URI for the app)")
    totp.add_argument("username")


def _password(args: argparse.Namespace) -> str | None:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        print("error: no terminal to ask for the password on; use --password-stdin", file=sys.stderr)
        return None
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != first:
        print("error: the two passwords differ", file=sys.stderr)
        return None
    return first


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Run a ``hub users`` action; its exit status."""
    import auth.people
    import auth.person_tokens
    from hub.cli import _sql_engine

    if args.action == "create":
        password = _password(args)
        if password is None:
            return 2
    engine = _sql_engine(settings)
    try:
        if args.action == "create":
            assert password is not None
            hashing = auth.people.PasswordHashing(
                time_cost=settings.password_hash_time_cost, memory_kib=settings.password_hash_memory_kib
            )
            try:
                account = asyncio.run(
                    auth.people.create_account(
                        engine,
                        username=args.username,
                        password=password,
                        firm_id=args.firm,
                        roles=args.role,
                        hashing=hashing,
                    )
                )
            except ValueError as error:
                print(f"error: {error}", file=sys.stderr)
                return 2
            print(
                f"account {account.username} made for firm {account.firm_id} with roles {', '.join(account.roles)}; "
                f"it signs in to the portal at {settings.issuer.rstrip('/')}/"
            )
            return 0
        if args.action == "list":
            for line in auth.people.describe(asyncio.run(auth.people.list_accounts(engine, firm_id=args.firm))):
                print(line)
            return 0
        if args.action == "disable":
            disabled = asyncio.run(auth.people.disable_account(engine, args.username))
            if disabled is None:
                print(f"error: no enabled account {args.username!r}", file=sys.stderr)
                return 1
            ended = asyncio.run(auth.person_tokens.revoke_account_tokens(engine, disabled.id))
            print(
                f"account {disabled.username} disabled; {ended} sign-in(s) ended. Access tokens it already holds "
                f"lapse within {settings.person_token_ttl_seconds} s"
            )
            return 0
        uri = asyncio.run(auth.people.enrol_totp(engine, args.username, issuer_name="Food cluster hub"))
        if uri is None:
            print(f"error: no account {args.username!r}", file=sys.stderr)
            return 1
        print(uri)
        print(
            "Add this to the person's authenticator app (as a QR code or by hand); from now on the sign-in asks for "
            "its 6-digit code. Any earlier enrolment no longer works.",
            file=sys.stderr,
        )
        return 0
    finally:
        engine.dispose()
