"""The device role's confinement: a Smart HACCP gateway's credentials post CCP readings and do nothing else.

Decided here once for every route, rather than in each route: a new route is closed to devices unless it is
named below.
"""

from __future__ import annotations

from typing import Final

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from auth.backend import PrincipalUser

# (method, path) pairs a device principal may call
DEVICE_ROUTES: Final = frozenset({("POST", "/haccp/readings")})


class DeviceConfinement:
    """Answers 403 to a device principal anywhere but the routes it is for (websockets are closed)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        user = scope.get("user")
        if scope["type"] in ("http", "websocket") and isinstance(user, PrincipalUser) and user.principal.is_device:
            allowed = scope["type"] == "http" and (scope["method"], scope["path"]) in DEVICE_ROUTES
            if not allowed:
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 4403})
                    return
                response = JSONResponse(
                    {
                        "type": "about:blank",
                        "title": "Forbidden",
                        "status": 403,
                        "detail": "the device role may only post CCP readings (POST /haccp/readings)",
                        "code": "FORBIDDEN",
                    },
                    status_code=403,
                    media_type="application/problem+json",
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
