"""The demo's people accounts: one person each for the portal's main desks, with passwords the README lists.

Demo only: the passwords are public. ``hub seed --scale demo`` makes the accounts that are missing (through
``auth.people.create_account``, as ``hub users create`` does) and prints them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy.engine import Engine

from auth.people import AccountError, PasswordHashing, create_account, list_accounts
from auth.principal import Role


@dataclass(frozen=True)
class DemoAccount:
    """A person of the demo cluster who signs in to the portal."""

    username: str
    password: str
    firm_id: str
    role: Role
    who: str


DEMO_ACCOUNTS: Final = (
    DemoAccount("anchor-admin", "hanbit stone lantern 2026", "anchor", Role.ADMIN, "the anchor's admin"),
    DemoAccount(
        "chodang-quality", "chodang soft tofu ledger", "chodang-tofu", Role.EDITOR, "a plant's quality manager"
    ),
    DemoAccount(
        "agency-recall", "recall desk brass bells", "agency", Role.RECALL_COORDINATOR, "the agency's recall coordinator"
    ),
    DemoAccount(
        "cheonan-editor", "cheonan cold route ferry", "cheonan-cold-chain", Role.EDITOR, "a distributor's editor"
    ),
)


async def seed_accounts(engine: Engine, *, hashing: PasswordHashing) -> list[DemoAccount]:
    """Make the demo accounts that do not exist yet; returns those made."""
    existing = {account.username for account in await list_accounts(engine)}
    made = []
    for demo in DEMO_ACCOUNTS:
        if demo.username in existing:
            continue
        try:
            await create_account(
                engine,
                username=demo.username,
                password=demo.password,
                firm_id=demo.firm_id,
                roles=[demo.role],
                hashing=hashing,
            )
        except AccountError as error:  # made meanwhile by another command: it is there, which is what counts
            if "already" not in str(error):
                raise
        made.append(demo)
    return made
