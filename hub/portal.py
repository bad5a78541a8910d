"""The member portal: its built files (portal/dist) at ``/``, its public configuration, and its security headers.

The portal is a single-page app: a browser's GET (one that accepts text/html) of a path outside the hub's API
prefixes answers its ``index.html`` (the page's router draws the view), a path of a built file answers that
file; anything else stays the 404 problem document it was. Every response carries a
Content-Security-Policy that lets the page reach only this hub and the identity providers it signs people in
with: no other host, no inline script.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Scope

from auth.federation import TrustedIssuer

PORTAL_DIST: Final = Path(__file__).resolve().parent.parent / "portal" / "dist"
CONFIG_PATH: Final = "/portal/config"
AUTHORIZE_PATH: Final = "/oauth/authorize"
BUILTIN_PORTAL_SCOPE: Final = "openid"
# the hub's own routes: the portal never answers for them, so an unknown API path stays a 404 problem
API_PREFIXES: Final = (
    "/graphql",
    "/epcis",
    "/oauth",
    "/haccp",
    "/exports",
    "/metrics",
    "/healthz",
    "/readyz",
    "/.well-known",
    "/portal/",
)
# the one style element Cytoscape.js (3.34.4, pinned by portal/package-lock.json) writes for its canvas container
CYTOSCAPE_STYLE: Final = "'sha256-pgvDUBa4IjFA2yuSJ2cqcyxmNYJMborsd0ORcRv9vw8='"
STATIC_SUFFIX: Final = re.compile(r"\.(?:js|mjs|css|map|svg|png|ico|jpg|webp|woff2?|ttf|json|txt|html?)$")
mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("image/svg+xml", ".svg")


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(identity_origins: Iterable[str], *, editor: bool = False) -> str:
    """The portal's policy: everything from this hub only, plus the identity providers the browser must reach.

    The providers appear in connect-src (discovery and the token request of PKCE) and frame-src (the silent
    sign-in's hidden frame); a sign-in redirect is a top-level navigation, which the policy does not govern.
    ``editor``: GraphiQL's page, whose editor (Monaco) writes style elements and embeds its icon font as data:
    URLs; its scripts are still the hub's files only.
    """
    providers = " ".join(sorted(set(identity_origins)))
    others = f" {providers}" if providers else ""
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'" if editor else f"style-src 'self' {CYTOSCAPE_STYLE}",
            "img-src 'self' data: blob:",
            "font-src 'self' data:" if editor else "font-src 'self'",
            f"connect-src 'self'{others}",
            f"frame-src 'self'{others}",
            "worker-src 'self' blob:",
            "manifest-src 'self'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'self'",
            "object-src 'none'",
        ]
    )


@dataclass(frozen=True)
class SignInChoice:
    """One way for a person to sign in to the portal, as GET /portal/config tells the page."""

    id: str
    kind: str  # "builtin" or "firm"
    issuer: str
    client_id: str
    scope: str
    firm_id: str | None = None
    label: str | None = None

    def as_json(self) -> dict[str, str | None]:
        """The page's view of the choice (camelCase, as the portal's TypeScript reads it)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "issuer": self.issuer,
            "clientId": self.client_id,
            "scope": self.scope,
            "firmId": self.firm_id,
            "label": self.label,
        }


def sign_in_choices(
    trusted: Sequence[TrustedIssuer], *, builtin_issuer: str | None, builtin_client_id: str = "portal"
) -> list[SignInChoice]:
    """The built-in issuer (when it has an authorization endpoint) and each trusted IdP with a portal client."""
    choices: list[SignInChoice] = []
    if builtin_issuer is not None:
        choices.append(
            SignInChoice(
                id="builtin",
                kind="builtin",
                issuer=builtin_issuer,
                client_id=builtin_client_id,
                scope=BUILTIN_PORTAL_SCOPE,
            )
        )
    for index, issuer in enumerate(trusted):
        if issuer.portal_client_id is None:
            continue
        choices.append(
            SignInChoice(
                id=f"idp-{index}",
                kind="firm",
                issuer=issuer.issuer,
                client_id=issuer.portal_client_id,
                scope=issuer.portal_scope,
                firm_id=issuer.firm_id,
                label=issuer.portal_label,
            )
        )
    return choices


class PortalRoute(Route):
    """The catch-all of the portal's pages: it never matches a path of the hub's API, so the API's own answers
    (404 for an unknown path, 405 for a method a route does not take) stay as they were."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and str(scope.get("path", "")).startswith(API_PREFIXES):
            return Match.NONE, {}
        return super().matches(scope)


class Portal:
    """The portal's routes and headers, for one hub."""

    def __init__(self, choices: Sequence[SignInChoice], *, dist: Path = PORTAL_DIST) -> None:
        self.choices = list(choices)
        self.dist = dist.resolve()
        origins = [origin_of(choice.issuer) for choice in self.choices]
        self.csp = content_security_policy(origins)
        self.editor_csp = content_security_policy(origins, editor=True)

    def headers(self, *, immutable: bool = False, editor: bool = False) -> dict[str, str]:
        """Security headers of every portal response (and caching: hashed assets for a year, pages never)."""
        return {
            "Content-Security-Policy": self.editor_csp if editor else self.csp,
            "X-Content-Type-Options": "nosniff",
            # the sign-in callback's URL carries the authorization code: never sent on as a referrer
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "public, max-age=31536000, immutable" if immutable else "no-cache",
        }

    def routes(self) -> list[BaseRoute]:
        """GET /portal/config, then the catch-all for the portal's files and pages (add it last)."""
        return [
            Route(CONFIG_PATH, self.config, methods=["GET"]),
            PortalRoute(
                "/{path:path}", self.page, methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
            ),
        ]

    async def config(self, request: Request) -> Response:
        return JSONResponse(
            {"signIn": [choice.as_json() for choice in self.choices]},
            headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
        )

    def _not_built(self, missing: Path) -> Response:
        return JSONResponse(
            {
                "type": "about:blank",
                "title": "Service Unavailable",
                "status": 503,
                "detail": f"the portal is not built ({missing} is missing): run 'make portal'",
                "code": "PORTAL_NOT_BUILT",
            },
            status_code=503,
            media_type="application/problem+json",
        )

    async def graphiql_page(self, request: Request) -> Response:
        """GraphiQL, bundled from npm by the portal's build: GET /graphql in a browser, no CDN."""
        page = self.dist / "graphiql.html"
        if not page.is_file():
            return self._not_built(page)
        return FileResponse(page, headers=self.headers(editor=True), media_type="text/html; charset=utf-8")

    async def page(self, request: Request) -> Response:
        path = request.url.path
        if request.method not in ("GET", "HEAD"):
            raise HTTPException(404)
        index = self.dist / "index.html"
        if not index.is_file():
            return self._not_built(index)
        asset = self._file(path)
        if asset is not None:
            return FileResponse(asset, headers=self.headers(immutable=asset.parent.name == "assets"))
        if path.startswith("/assets/") or STATIC_SUFFIX.search(path):
            raise HTTPException(404)  # a file that is not there: not a page (a lot id has dots, not these suffixes)
        if path != "/" and "text/html" not in request.headers.get("accept", ""):
            raise HTTPException(404)  # an API client's unknown path stays a 404 problem; browsers ask for HTML
        return FileResponse(index, headers=self.headers(), media_type="text/html; charset=utf-8")

    def _file(self, path: str) -> Path | None:
        relative = path.lstrip("/")
        if not relative:
            return None
        candidate = (self.dist / relative).resolve()
        if not candidate.is_relative_to(self.dist) or not candidate.is_file() or candidate.suffix == ".html":
            return None
        return candidate
