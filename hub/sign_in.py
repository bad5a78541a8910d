"""People signing in at the built-in issuer: the authorization endpoint and its person grants.

``GET /oauth/authorize`` takes an authorization request (RFC 6749 section 4.1, PKCE with S256 only, RFC 7636)
from a registered public client (the portal) and answers a sign-in form, rendered here in Korean or English with
no script; ``POST /oauth/authorize`` checks the password (and the TOTP code when the account has one) and
redirects to the client's exact redirect URI with a code, the ``state`` and ``iss`` (RFC 9207). The token
endpoint (hub/oauth.py) hands ``authorization_code`` and ``refresh_token`` grants of public clients to
``PersonGrants``; ``POST /oauth/revoke`` (RFC 7009) ends a sign-in. There is no session cookie at the issuer:
each sign-in asks for the password, and signing out is revoking the refresh token.

The form's CSRF token is an HMAC of a random cookie (the signed double-submit pattern), so a form posted from
another site, which cannot read or set that SameSite=Strict cookie, is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import logging
import math
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from auth.people import (
    MAX_PASSWORD_LENGTH,
    MAX_USERNAME_LENGTH,
    PasswordHashing,
    PersonAccount,
    active_account,
    check_password,
    check_totp,
    normalise,
)
from auth.person_tokens import (
    MAX_REDIRECT_URI_LENGTH,
    GrantError,
    issue_code,
    redeem_code,
    revoke_refresh,
    rotate_refresh,
    start_refresh,
)
from auth.person_tokens import is_s256_challenge as _is_s256
from hub.oauth import AUTHORIZE_PATH, REVOKE_PATH, AttemptLog, OAuthError, SecretChecks
from hub.state import HubState

log = logging.getLogger(__name__)

CSRF_COOKIE: Final = "hub_sign_in"
_FORM_BYTES: Final = 16_384
_STATE_LENGTH: Final = 1000
_NONCE_LENGTH: Final = 200
_SECOND_STEP_SECONDS: Final = 300  # from a right password to its TOTP code
_ALLOWED_SCOPES: Final = frozenset({"openid", "profile", "offline_access"})  # asked for by OIDC clients; no effect
_NO_STORE: Final = {"Cache-Control": "no-store", "Pragma": "no-cache"}

_STYLE: Final = (
    "body{font-family:system-ui,'Noto Sans KR',sans-serif;background:#f4f6f4;color:#1b1f1b;margin:0}"
    "main{max-width:24rem;margin:4rem auto;background:#fff;padding:2rem;border-radius:.5rem;"
    "box-shadow:0 1px 4px #0003}h1{font-size:1.4rem;margin:0 0 1rem}label{display:block;margin:1rem 0 .25rem}"
    "input{width:100%;box-sizing:border-box;padding:.5rem;font-size:1rem;border:1px solid #6b756b;border-radius:.25rem}"
    "button{margin-top:1.5rem;width:100%;padding:.6rem;font-size:1rem;background:#1f5f3a;color:#fff;border:0;"
    "border-radius:.25rem;cursor:pointer}button:focus,input:focus,a:focus{outline:3px solid #f2a900}"
    ".error{color:#8f1d1d;background:#fdecec;padding:.5rem;border-radius:.25rem}.lang{text-align:right;margin:0}"
    "a{color:#1f5f3a}"
)
_STYLE_HASH: Final = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()

TEXTS: Final[Mapping[str, Mapping[str, str]]] = {
    "ko": {
        "title": "푸드 클러스터 데이터 허브 로그인",
        "lead": "회원사 계정으로 로그인하세요.",
        "username": "아이디",
        "password": "비밀번호",
        "totp": "인증 앱의 6자리 코드",
        "totp_lead": "이 계정은 2단계 인증을 사용합니다.",
        "submit": "로그인",
        "verify": "확인",
        "other": "English",
        "wrong": "아이디 또는 비밀번호가 올바르지 않습니다.",
        "wrong_totp": "인증 코드가 올바르지 않거나 이미 사용되었습니다.",
        "missing": "아이디와 비밀번호를 입력하세요.",
        "too_long": f"아이디는 {MAX_USERNAME_LENGTH}자, 비밀번호는 {MAX_PASSWORD_LENGTH}자 이하입니다.",
        "locked": "로그인 실패가 너무 많습니다. {minutes}분 후에 다시 시도하세요.",
        "busy": "허브가 다른 로그인을 확인하는 중입니다. {seconds}초 후에 다시 시도하세요.",
        "disabled": "이 계정은 사용이 중지되었습니다. 회사 관리자에게 문의하세요.",
        "expired": "로그인 시간이 초과되었습니다. 다시 로그인하세요.",
        "csrf": "로그인 양식이 만료되었거나 이 페이지에서 보낸 것이 아닙니다. 페이지를 새로 고친 후 다시 시도하세요.",
        "bad_request": "로그인 요청이 올바르지 않습니다",
    },
    "en": {
        "title": "Sign in to the food cluster data hub",
        "lead": "Sign in with your member firm's account.",
        "username": "Username",
        "password": "Password",
        "totp": "6-digit code from your authenticator app",
        "totp_lead": "This account uses two-step verification.",
        "submit": "Sign in",
        "verify": "Verify",
        "other": "한국어",
        "wrong": "Wrong username or password.",
        "wrong_totp": "The code is wrong or was used already.",
        "missing": "Enter your username and password.",
        "too_long": f"A username is at most {MAX_USERNAME_LENGTH} characters, a password at most "
        f"{MAX_PASSWORD_LENGTH}.",
        "locked": "Too many failed sign-ins. Try again in {minutes} minutes.",
        "busy": "The hub is busy checking other sign-ins. Try again in {seconds} seconds.",
        "disabled": "This account is disabled. Ask your firm's admin.",
        "expired": "The sign-in took too long. Sign in again.",
        "csrf": "The sign-in form has expired or was not sent from this page. Reload the page and try again.",
        "bad_request": "The sign-in request is not valid",
    },
}


class NotRedirected(Exception):
    """An authorization request whose client or redirect URI cannot be trusted: told on a page, never redirected."""


class RedirectedError(Exception):
    """An error in a request from a known client to a registered redirect URI: told to the client there."""

    def __init__(self, request: AuthorizationRequest, error: str, description: str) -> None:
        super().__init__(description)
        self.request = request
        self.error = error
        self.description = description


@dataclass(frozen=True)
class AuthorizationRequest:
    """A checked authorization request of a registered public client."""

    client_id: str
    redirect_uri: str
    code_challenge: str
    state: str | None
    scope: str | None
    nonce: str | None = None

    def fields(self) -> dict[str, str]:
        """The request's parameters, as the form carries them to its POST."""
        fields = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "code_challenge": self.code_challenge,
            "code_challenge_method": "S256",
        }
        if self.state is not None:
            fields["state"] = self.state
        if self.scope is not None:
            fields["scope"] = self.scope
        if self.nonce is not None:
            fields["nonce"] = self.nonce
        return fields

    def fingerprint(self) -> str:
        """What a second-step token is bound to: this very request."""
        return urlencode(sorted(self.fields().items()))


def _single(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """The parameters, each at most once (RFC 6749 section 3.1); empty ones count as absent."""
    params: dict[str, str] = {}
    repeated: list[str] = []
    for name, value in pairs:
        if name in params:
            repeated.append(name)
        params[name] = value
    if repeated:
        raise ValueError(f"the parameter {sorted(set(repeated))[0]!r} is given more than once")
    return {name: value for name, value in params.items() if value}


def parse_request(params: Mapping[str, str], *, client_id: str, redirect_uris: list[str]) -> AuthorizationRequest:
    """The authorization request in ``params``; NotRedirected or RedirectedError saying what is wrong."""
    given_client = params.get("client_id")
    if given_client is None:
        raise NotRedirected("client_id is missing")
    if given_client != client_id:
        raise NotRedirected(f"the client {given_client[:100]!r} is not registered with this hub")
    redirect_uri = params.get("redirect_uri")
    if redirect_uri is None:
        raise NotRedirected("redirect_uri is missing")
    if len(redirect_uri) > MAX_REDIRECT_URI_LENGTH or redirect_uri not in redirect_uris:
        raise NotRedirected("redirect_uri is not one registered for this client (it must match exactly)")
    state = params.get("state")
    request = AuthorizationRequest(
        client_id=client_id,
        redirect_uri=redirect_uri,
        code_challenge=params.get("code_challenge", ""),
        state=state[:_STATE_LENGTH] if state is not None else None,
        scope=params.get("scope"),
        nonce=params.get("nonce"),
    )
    if state is not None and len(state) > _STATE_LENGTH:
        raise RedirectedError(request, "invalid_request", f"state is limited to {_STATE_LENGTH} characters")
    if request.nonce is not None and len(request.nonce) > _NONCE_LENGTH:
        raise RedirectedError(request, "invalid_request", f"nonce is limited to {_NONCE_LENGTH} characters")
    if params.get("response_type") != "code":
        raise RedirectedError(request, "unsupported_response_type", "response_type must be code")
    method = params.get("code_challenge_method")
    if method is None or method == "plain":
        raise RedirectedError(
            request, "invalid_request", "code_challenge_method must be S256 (the plain method is not accepted)"
        )
    if method != "S256":
        raise RedirectedError(request, "invalid_request", f"code_challenge_method {method[:20]!r} is not supported")
    if "code_challenge" not in params:
        raise RedirectedError(request, "invalid_request", "code_challenge is missing (PKCE is required)")
    if not _is_s256(request.code_challenge):
        raise RedirectedError(request, "invalid_request", "code_challenge must be 43 base64url characters (S256)")
    if request.scope is not None:
        unknown = sorted(set(request.scope.split(" ")) - _ALLOWED_SCOPES - {""})
        if unknown:
            raise RedirectedError(request, "invalid_scope", f"scopes not offered to people: {' '.join(unknown)}")
    if "none" in params.get("prompt", "").split(" "):
        # the issuer keeps no session: a sign-in without asking is never possible (OpenID Connect Core 3.1.2.6)
        raise RedirectedError(request, "login_required", "the built-in issuer asks for the password at every sign-in")
    return request


def redirect_with(request: AuthorizationRequest, issuer: str, **values: str) -> Response:
    """A 303 to the request's redirect URI with ``values``, its state and the issuer."""
    query = dict(values)
    if request.state is not None:
        query["state"] = request.state
    query["iss"] = issuer
    separator = "&" if urlsplit(request.redirect_uri).query else "?"
    return RedirectResponse(request.redirect_uri + separator + urlencode(query), status_code=303, headers=_NO_STORE)


def _language(request: Request, params: Mapping[str, str]) -> str:
    for wanted in params.get("ui_locales", "").split():
        if wanted[:2].lower() in TEXTS:
            return wanted[:2].lower()
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";", 1)[0].strip()[:2].lower()
        if tag in TEXTS:
            return tag
    return "ko"


class SignInKeys:
    """The HMACs of the sign-in form: its CSRF token and the token of a password found right (for TOTP)."""

    def __init__(self, key: bytes) -> None:
        self.key = key

    def _mac(self, *parts: str) -> str:
        return hmac.new(self.key, "\x00".join(parts).encode(), hashlib.sha256).hexdigest()

    def csrf(self, cookie: str) -> str:
        """The form's CSRF token for this browser's cookie."""
        return self._mac("csrf", cookie)

    def csrf_ok(self, cookie: str | None, token: str | None) -> bool:
        """Whether the form came with the token of its browser's cookie."""
        return bool(cookie and token) and hmac.compare_digest(self.csrf(cookie or ""), token or "")

    def second_step(self, account_id: str, cookie: str, request: AuthorizationRequest, *, now: float) -> str:
        """A token saying this account's password was right, for this browser and request, for a few minutes."""
        until = str(int(now) + _SECOND_STEP_SECONDS)
        return f"{account_id}.{until}.{self._mac('step', account_id, until, cookie, request.fingerprint())}"

    def second_step_account(self, token: str, cookie: str, request: AuthorizationRequest, *, now: float) -> str | None:
        """The account a second-step token is for, or None (forged, another browser or request, or expired)."""
        account_id, _, rest = token.partition(".")
        until, _, mac = rest.partition(".")
        if not until.isdigit() or int(until) < now:
            return None
        expected = self._mac("step", account_id, until, cookie, request.fingerprint())
        return account_id if hmac.compare_digest(expected, mac) else None


def _page(lang: str, body: str, *, status: int, form_origin: str | None = None) -> HTMLResponse:
    text = TEXTS[lang]
    form_action = "'self'" + (f" {form_origin}" if form_origin else "")
    document = (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(text['title'])}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )
    return HTMLResponse(
        document,
        status_code=status,
        headers={
            **_NO_STORE,
            # the redirect after the form's POST is checked against form-action too: the client's origin is named
            "Content-Security-Policy": f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; "
            f"form-action {form_action}; frame-ancestors 'none'; base-uri 'none'",
            "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


def _origin(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}"


def _hidden(fields: Mapping[str, str]) -> str:
    return "".join(
        f'<input type="hidden" name="{html.escape(name)}" value="{html.escape(value)}">'
        for name, value in fields.items()
    )


def _alert(message: str | None) -> str:
    return f'<p class="error" role="alert" id="sign-in-error">{html.escape(message)}</p>' if message else ""


def _language_link(lang: str, fields: Mapping[str, str]) -> str:
    other = "en" if lang == "ko" else "ko"
    query = urlencode({**fields, "ui_locales": other})
    label = html.escape(TEXTS[lang]["other"])
    return f'<p class="lang"><a href="{AUTHORIZE_PATH}?{html.escape(query)}" lang="{other}">{label}</a></p>'


def password_form(
    lang: str,
    request: AuthorizationRequest,
    csrf: str,
    *,
    error: str | None = None,
    username: str = "",
    status: int = 200,
) -> HTMLResponse:
    """The sign-in form: username and password."""
    text = TEXTS[lang]
    fields = request.fields()
    body = (
        f"{_language_link(lang, fields)}<h1>{html.escape(text['title'])}</h1><p>{html.escape(text['lead'])}</p>"
        f"{_alert(error)}"
        f'<form method="post" action="{AUTHORIZE_PATH}">{_hidden({**fields, "csrf": csrf, "ui_locales": lang})}'
        f'<label for="username">{html.escape(text["username"])}</label>'
        f'<input id="username" name="username" autocomplete="username" required maxlength="{MAX_USERNAME_LENGTH}" '
        f'value="{html.escape(username[:MAX_USERNAME_LENGTH])}"{" autofocus" if not username else ""}>'
        f'<label for="password">{html.escape(text["password"])}</label>'
        f'<input id="password" name="password" type="password" autocomplete="current-password" required '
        f'maxlength="{MAX_PASSWORD_LENGTH}"{" autofocus" if username else ""}>'
        f'<button type="submit">{html.escape(text["submit"])}</button></form>'
    )
    return _page(lang, body, status=status, form_origin=_origin(request.redirect_uri))


def totp_form(
    lang: str, request: AuthorizationRequest, csrf: str, step: str, *, error: str | None = None, status: int = 200
) -> HTMLResponse:
    """The second step: the code of the person's authenticator app."""
    text = TEXTS[lang]
    hidden = {**request.fields(), "csrf": csrf, "ui_locales": lang, "step": step}
    body = (
        f"<h1>{html.escape(text['title'])}</h1><p>{html.escape(text['totp_lead'])}</p>{_alert(error)}"
        f'<form method="post" action="{AUTHORIZE_PATH}">{_hidden(hidden)}'
        f'<label for="totp">{html.escape(text["totp"])}</label>'
        '<input id="totp" name="totp" inputmode="numeric" autocomplete="one-time-code" required '
        'pattern="[0-9]{6}" maxlength="6" autofocus>'
        f'<button type="submit">{html.escape(text["verify"])}</button></form>'
    )
    return _page(lang, body, status=status, form_origin=_origin(request.redirect_uri))


def error_page(lang: str, message: str, *, status: int) -> HTMLResponse:
    """A request that cannot go back to its client (or a form that cannot be trusted), told to the person."""
    text = TEXTS[lang]
    body = f"<h1>{html.escape(text['title'])}</h1>{_alert(message)}"
    return _page(lang, body, status=status)


class SignIn:
    """The authorization endpoint, the person grants of the token endpoint, and revocation."""

    def __init__(
        self,
        state: Callable[[], HubState],
        *,
        attempts: AttemptLog,
        checks: SecretChecks,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.state = state
        self.attempts = attempts
        self.checks = checks
        self.clock = clock
        self._keys: SignInKeys | None = None
        self._hashing: PasswordHashing | None = None

    @property
    def keys(self) -> SignInKeys:
        """The form's HMAC keys (read from the settings on first use: the state folder may hold the secret)."""
        if self._keys is None:
            self._keys = SignInKeys(self.state().settings.sign_in_key())
        return self._keys

    @property
    def hashing(self) -> PasswordHashing:
        """Argon2id with the settings' parameters."""
        if self._hashing is None:
            settings = self.state().settings
            self._hashing = PasswordHashing(
                time_cost=settings.password_hash_time_cost, memory_kib=settings.password_hash_memory_kib
            )
        return self._hashing

    def routes(self) -> list[Route]:
        """``/oauth/authorize`` (GET and POST) and ``/oauth/revoke``; none of them takes a bearer token."""
        return [
            Route(AUTHORIZE_PATH, self.authorize, methods=["GET", "POST"]),
            Route(REVOKE_PATH, self.revoke, methods=["POST"]),
        ]

    def _parse(self, params: Mapping[str, str]) -> AuthorizationRequest:
        settings = self.state().settings
        return parse_request(params, client_id=settings.portal_client_id, redirect_uris=settings.portal_redirects)

    async def authorize(self, request: Request) -> Response:
        """The sign-in form (GET) or its answer (POST)."""
        lang = "ko"
        try:
            if request.method == "GET":
                params = _single(request.query_params.multi_items())
                lang = _language(request, params)
                return self._form(request, lang, self._parse(params))
            params = await _read_form(request)
            lang = _language(request, params)
            return await self._submitted(request, lang, params)
        except NotRedirected as error:
            log.info("refused an authorization request: %s", error)
            return error_page(lang, f"{TEXTS[lang]['bad_request']}: {error}", status=400)
        except RedirectedError as error:
            return redirect_with(
                error.request,
                self.state().issuer.issuer,
                error=error.error,
                error_description=error.description,
            )
        except ValueError as error:
            return error_page(lang, f"{TEXTS[lang]['bad_request']}: {error}", status=400)

    def _cookie(self, request: Request) -> str | None:
        cookie = request.cookies.get(CSRF_COOKIE)
        return cookie if cookie is not None and 20 <= len(cookie) <= 100 else None

    def _with_cookie(self, response: Response, cookie: str) -> Response:
        response.set_cookie(
            CSRF_COOKIE,
            cookie,
            max_age=1800,
            path=AUTHORIZE_PATH,
            secure=self.state().issuer.issuer.startswith("https:"),
            httponly=True,
            samesite="strict",
        )
        return response

    def _form(self, request: Request, lang: str, authorization: AuthorizationRequest) -> Response:
        cookie = self._cookie(request) or secrets.token_urlsafe(32)
        return self._with_cookie(password_form(lang, authorization, self.keys.csrf(cookie)), cookie)

    async def _submitted(self, request: Request, lang: str, params: dict[str, str]) -> Response:
        authorization = self._parse(params)
        cookie = self._cookie(request)
        if cookie is None or not self.keys.csrf_ok(cookie, params.get("csrf")):
            log.warning("refused a sign-in form without its CSRF token")
            return error_page(lang, TEXTS[lang]["csrf"], status=403)
        csrf = self.keys.csrf(cookie)
        if "step" in params:
            return await self._second_step(lang, authorization, cookie, csrf, params)
        text = TEXTS[lang]
        username, password = params.get("username", ""), params.get("password", "")
        if not username or not password:
            return password_form(lang, authorization, csrf, error=text["missing"], username=username, status=400)
        if len(username) > MAX_USERNAME_LENGTH or len(password) > MAX_PASSWORD_LENGTH:
            return password_form(lang, authorization, csrf, error=text["too_long"], status=400)
        key = f"person\x00{normalise(username)}"
        refused = await self._refused(lang, authorization, csrf, key, username)
        if refused is not None:
            return refused
        hub = self.state()
        async with self.checks.slot():
            account = await check_password(hub.sql_engine, username=username, password=password, hashing=self.hashing)
        if account is None:
            await self.attempts.failed(key)
            log.info("a sign-in failed: wrong username or password")
            return password_form(lang, authorization, csrf, error=text["wrong"], username=username, status=401)
        if account.disabled_at is not None:
            return password_form(lang, authorization, csrf, error=text["disabled"], username=username, status=403)
        if account.totp_secret is not None:
            step = self.keys.second_step(account.id, cookie, authorization, now=self.clock())
            return totp_form(lang, authorization, csrf, step)
        return await self._signed_in(key, account, authorization)

    async def _refused(
        self, lang: str, authorization: AuthorizationRequest, csrf: str, key: str, username: str
    ) -> Response | None:
        """The answer when this account is locked out or the hub's password checks are spent, else None."""
        text = TEXTS[lang]
        wait = await self.attempts.wait_for(key)
        if wait is not None:
            minutes = str(max(1, math.ceil(wait / 60)))
            response = password_form(
                lang, authorization, csrf, error=text["locked"].format(minutes=minutes), username=username, status=429
            )
            response.headers["Retry-After"] = str(math.ceil(wait))
            return response
        budget = self.checks.refusal()
        if budget is not None:
            seconds = str(max(1, math.ceil(budget)))
            response = password_form(
                lang, authorization, csrf, error=text["busy"].format(seconds=seconds), username=username, status=429
            )
            response.headers["Retry-After"] = seconds
            return response
        return None

    async def _second_step(
        self, lang: str, authorization: AuthorizationRequest, cookie: str, csrf: str, params: dict[str, str]
    ) -> Response:
        text = TEXTS[lang]
        step = params["step"]
        account_id = self.keys.second_step_account(step, cookie, authorization, now=self.clock())
        if account_id is None:
            return password_form(lang, authorization, csrf, error=text["expired"], status=400)
        hub = self.state()
        account = await active_account(hub.sql_engine, account_id)
        if account is None:
            return password_form(lang, authorization, csrf, error=text["disabled"], status=403)
        key = f"person\x00{account.username}"
        wait = await self.attempts.wait_for(key)
        if wait is not None:
            minutes = str(max(1, math.ceil(wait / 60)))
            response = password_form(
                lang, authorization, csrf, error=text["locked"].format(minutes=minutes), status=429
            )
            response.headers["Retry-After"] = str(math.ceil(wait))
            return response
        if not await check_totp(hub.sql_engine, account, params.get("totp", "")[:20], at=self.clock()):
            await self.attempts.failed(key)
            log.info("a sign-in failed: wrong TOTP code")
            return totp_form(lang, authorization, csrf, step, error=text["wrong_totp"], status=401)
        return await self._signed_in(key, account, authorization)

    async def _signed_in(self, key: str, account: PersonAccount, authorization: AuthorizationRequest) -> Response:
        hub = self.state()
        await self.attempts.succeeded(key)
        code = await issue_code(
            hub.sql_engine,
            account_id=account.id,
            client_id=authorization.client_id,
            redirect_uri=authorization.redirect_uri,
            code_challenge=authorization.code_challenge,
            scope=" ".join(sorted(set((authorization.scope or "").split()) & _ALLOWED_SCOPES)),
            nonce=authorization.nonce,
        )
        log.info("%s of firm %s signed in", account.subject, account.firm_id)
        return redirect_with(authorization, hub.issuer.issuer, code=code)

    async def token(self, form: Mapping[str, str]) -> Response:
        """The token endpoint's answer to a public client's ``authorization_code`` or ``refresh_token`` grant."""
        hub = self.state()
        settings = hub.settings
        if form.get("client_id") != settings.portal_client_id:
            raise OAuthError("invalid_client", "unknown client (public clients send their client_id)", status_code=401)
        try:
            if form.get("grant_type") == "authorization_code":
                missing = [name for name in ("code", "redirect_uri", "code_verifier") if name not in form]
                if missing:
                    raise OAuthError("invalid_request", f"missing for authorization_code: {', '.join(missing)}")
                code = form["code"]
                redeemed = await redeem_code(
                    hub.sql_engine,
                    code=code,
                    client_id=settings.portal_client_id,
                    redirect_uri=form["redirect_uri"],
                    code_verifier=form["code_verifier"],
                )
                account = await active_account(hub.sql_engine, redeemed.account_id)
                if account is None:
                    raise GrantError("the account is disabled")
                refresh = await start_refresh(
                    hub.sql_engine,
                    code=code,
                    account_id=account.id,
                    client_id=settings.portal_client_id,
                    scope=redeemed.scope,
                    ttl_seconds=settings.refresh_token_ttl_seconds,
                )
                nonce = redeemed.nonce
            else:
                if "refresh_token" not in form:
                    raise OAuthError("invalid_request", "refresh_token is missing")
                refresh = await rotate_refresh(
                    hub.sql_engine, token=form["refresh_token"], client_id=settings.portal_client_id
                )
                account = await active_account(hub.sql_engine, refresh.account_id)
                if account is None:
                    raise GrantError("the account is disabled")
                nonce = None
        except GrantError as error:
            raise OAuthError("invalid_grant", str(error)) from None
        profile: dict[str, str | list[str]] = {
            "preferred_username": account.username,
            "firm_id": account.firm_id,
            "roles": sorted(account.roles),
        }
        access_token = hub.issuer.mint(
            subject=account.subject,
            firm_id=account.firm_id,
            roles=account.role_set,
            ttl_seconds=settings.person_token_ttl_seconds,
            extra_claims={"preferred_username": account.username, "client_id": settings.portal_client_id},
        )
        answer: dict[str, str | int] = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": settings.person_token_ttl_seconds,
            "refresh_token": refresh.token,
            "scope": refresh.scope,
        }
        if "openid" in refresh.scope.split():
            answer["id_token"] = hub.issuer.id_token(
                subject=account.subject,
                client_id=settings.portal_client_id,
                ttl_seconds=settings.person_token_ttl_seconds,
                claims={**profile, "nonce": nonce} if nonce else profile,
            )
        return JSONResponse(answer, headers=_NO_STORE)

    async def revoke(self, request: Request) -> Response:
        """RFC 7009: sign-out. The refresh token's sign-in ends; 200 whether or not the token was known."""
        try:
            form = await _read_form(request)
        except ValueError as error:
            return OAuthError("invalid_request", str(error)).response()
        settings = self.state().settings
        if form.get("client_id") != settings.portal_client_id:
            return OAuthError(
                "invalid_client", "unknown client (public clients send their client_id)", status_code=401
            ).response()
        if "token" not in form:
            return OAuthError("invalid_request", "token is missing").response()
        if form.get("token_type_hint", "refresh_token") not in ("refresh_token", "access_token"):
            return OAuthError("unsupported_token_type", "token_type_hint is refresh_token or access_token").response()
        # an access token is a short-lived JWT the hub does not look up: it lapses by itself (the portal drops it)
        await revoke_refresh(self.state().sql_engine, token=form["token"], client_id=settings.portal_client_id)
        return Response(status_code=200, headers=_NO_STORE)


async def _read_form(request: Request) -> dict[str, str]:
    """An urlencoded body's parameters, each at most once; ValueError saying what is wrong."""
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise ValueError("send the form as application/x-www-form-urlencoded")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > _FORM_BYTES:
            raise ValueError(f"the form is limited to {_FORM_BYTES} bytes")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=30)
    except (ValueError, UnicodeDecodeError):
        raise ValueError("the form is not valid form encoding") from None
    return _single(pairs)
