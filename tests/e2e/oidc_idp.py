"""A real OpenID provider (node-oidc-provider, tests/e2e/oidc/idp.mjs) for one test session.

Import ``oidc_idp_fixture`` into a test module and ask for ``oidc_idp``. The provider's clients are fixed here;
its signing keys are generated per session and can be rotated while it runs.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Final

import httpx
import pytest
from joserfc.jwk import KeySet, RSAKey

from hub.server import free_port

IDP_DIR: Final = Path(__file__).resolve().parent / "oidc"
AUDIENCE: Final = "food-cluster-hub"
RESOURCE: Final = "urn:food-cluster-hub"
START_TIMEOUT_SECONDS: Final = 30.0
# the member portal's public client (authorization code with PKCE) and its people: "<firm_id>:<role>[,<role>]"
PORTAL_CLIENT_ID: Final = "hub-portal"
PORTAL_PASSWORD: Final = "portal-test-password"  # the test provider's one password


def person_login(firm_id: str, *roles: str) -> str:
    """The login of a person of ``firm_id`` with ``roles`` at the test provider's sign-in form."""
    return f"{firm_id}:{','.join(roles or ('viewer',))}"


@dataclass(frozen=True)
class IdPClient:
    """A client of the provider: its credentials, and the firm (and roles) its tokens carry."""

    client_id: str
    client_secret: str
    firm_id: str
    roles: tuple[str, ...] = ()


CLIENTS: Final = (
    IdPClient("oem1-recall-app", "oem1-secret-for-tests-only", firm_id="fed-oem1", roles=("editor", "auditor")),
    # a client of the same provider whose tokens name another firm than the one the hub pins the provider to
    IdPClient("other-firm-app", "other-secret-for-tests-only", firm_id="fed-other"),
)


def signing_key(kid: str) -> RSAKey:
    """A fresh RS256 key for the provider."""
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"}, private=True)


@dataclass
class OidcIdP:
    """The running provider: its issuer URL, a way to get tokens, and key rotation."""

    issuer: str
    jwks_file: Path
    process: subprocess.Popen[str]
    lines: queue.Queue[str | None]  # None: the provider closed its output (it exited)
    log_file: Path
    keys: list[RSAKey] = field(default_factory=list)

    def token(self, client_id: str = CLIENTS[0].client_id, *, scope: str = "trace:read") -> str:
        """An access token by the client credentials grant, as a member firm's app would get it."""
        client = next(c for c in CLIENTS if c.client_id == client_id)
        response = httpx.post(
            f"{self.issuer}/token",
            data={"grant_type": "client_credentials", "scope": scope, "resource": RESOURCE},
            auth=(client.client_id, client.client_secret),
            timeout=10,
        )
        assert response.status_code == 200, f"the IdP refused a token: {response.status_code} {response.text}"
        body = response.json()
        assert body["token_type"] == "Bearer"
        return str(body["access_token"])

    def rotate(self, keys: list[RSAKey]) -> None:
        """Sign with new keys from now on (the first one signs), keeping the issuer URL."""
        write_keys(self.jwks_file, keys)
        self.process.send_signal(signal.SIGHUP)
        expected = f"ROTATED {','.join(str(key.kid) for key in keys)}"
        self.wait_for_line(expected)
        self.keys = keys

    def wait_for_line(self, expected: str) -> str:
        """Block until the provider prints a line starting with ``expected``; fail with its log if it does not."""
        try:
            while (line := self.lines.get(timeout=START_TIMEOUT_SECONDS)) is not None:
                if line.startswith(expected):
                    return line
        except queue.Empty:
            pass
        pytest.fail(f"the OIDC provider did not print {expected!r}; its log:\n{self.log_file.read_text()}")


def write_keys(path: Path, keys: list[RSAKey]) -> None:
    path.write_text(json.dumps(KeySet(list(keys)).as_dict(private=True)))
    path.chmod(0o600)


def _forward_lines(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line.strip())
    lines.put(None)


def ensure_node_modules() -> str:
    """The node executable, after installing the provider's locked packages if a clean clone lacks them."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("the federated sign-in tests need Node.js 20 or later on PATH ('node' was not found)")
    if not (IDP_DIR / "node_modules" / "oidc-provider").is_dir():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail(f"'npm' was not found: install it, or run 'npm ci' in {IDP_DIR}")
        installed = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=IDP_DIR,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if installed.returncode != 0:
            pytest.fail(f"'npm ci' in {IDP_DIR} failed:\n{installed.stdout}\n{installed.stderr}")
    return node


@pytest.fixture(scope="session", name="oidc_idp")
def oidc_idp_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcIdP]:
    """The provider, listening on a free loopback port for the whole session, stopped at its end."""
    node = ensure_node_modules()
    folder = tmp_path_factory.mktemp("oidc-idp")
    keys = [signing_key("idp-key-1")]
    jwks_file = folder / "keys.json"
    write_keys(jwks_file, keys)
    clients_file = folder / "clients.json"
    clients_file.write_text(
        json.dumps(
            [
                {"client_id": c.client_id, "client_secret": c.client_secret, "firm_id": c.firm_id}
                | ({"roles": list(c.roles)} if c.roles else {})
                for c in CLIENTS
            ]
        )
    )
    log_file = folder / "idp.log"
    port = free_port()
    with log_file.open("w") as log:
        process = subprocess.Popen(
            [
                node,
                str(IDP_DIR / "idp.mjs"),
                *("--port", str(port), "--jwks", str(jwks_file), "--clients", str(clients_file)),
                *("--audience", AUDIENCE, "--resource", RESOURCE),
                *("--portal-client", PORTAL_CLIENT_ID, "--portal-password", PORTAL_PASSWORD),
            ],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env={**os.environ, "NODE_ENV": "test"},
        )
    assert process.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_forward_lines, args=(process.stdout, lines), daemon=True).start()
    idp = OidcIdP(
        issuer=f"http://127.0.0.1:{port}", jwks_file=jwks_file, process=process, lines=lines, log_file=log_file
    )
    idp.keys = keys
    try:
        ready = idp.wait_for_line("READY ")
        assert ready == f"READY {idp.issuer}"
        yield idp
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()
