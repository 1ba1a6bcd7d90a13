"""Protect FastAPI routes with Latchkey access tokens, verified offline with PyJWT.

The rules are the ones Latchkey's own verifier applies (RFC 8725): an algorithm allow-list with
each key bound to the `alg` it is published with, `kid` used only to look a key up in the JWKS,
`jwk`/`jku`/`x5u`/`x5c` headers ignored, `typ` must be `at+jwt`, `iss` and `aud` exact, `exp`
required, a small leeway. The JWKS is fetched once and again only for an unknown `kid` (key
rotation), at most once per cooldown, so made-up kids cannot turn into a request flood.

`LatchkeyVerifier.check()` is meant for start-up: it fails with a clear message when Latchkey is
unreachable, names another issuer, or publishes no usable key, instead of a 401 on every request
later. Each refused token is logged (logger `latchkey_auth`, level INFO) with the reason, never
the token.

`RevocationFollower` (optional, needs httpx) follows Latchkey's revocation feed in a background
task, so that a logged-out session or a disabled user is refused within about a second instead of
when the token expires.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import threading
import time
import urllib.request
from typing import Any, Callable, Dict, List, Optional, Tuple

import jwt
from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

ALLOWED_ALGORITHMS = ("RS256", "ES256", "EdDSA")
MAX_TOKEN_LENGTH = 8192

log = logging.getLogger("latchkey_auth")

# PyJWT's exceptions, as the short reasons the refusal log line gives.
_REASONS = (
    (jwt.ExpiredSignatureError, "expired"),
    (jwt.ImmatureSignatureError, "not yet valid (iat or nbf in the future)"),
    (jwt.InvalidIssuerError, "wrong issuer"),
    (jwt.InvalidAudienceError, "wrong audience"),
    (jwt.InvalidSignatureError, "bad signature"),
    (jwt.MissingRequiredClaimError, "missing claim"),
    (jwt.DecodeError, "malformed"),
)


class InvalidToken(Exception):
    """The token is refused; the message is for logs, never for the client."""


class JwksUnavailable(Exception):
    """The token's key is unknown and the JWKS cannot be fetched right now."""


class LatchkeyConfigError(Exception):
    """Start-up check failed: this service would refuse every token. The message says why."""


class RevocationsUnavailable(Exception):
    """The revocation feed has been silent for longer than `refuse_after` seconds (or not read yet)."""


def _get_json(url: str, timeout: float) -> Any:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)


class JwksCache:
    """kid -> (alg, key) from the issuer's JWKS, refreshed on an unknown kid at most once per cooldown."""

    def __init__(self, url: str, cooldown: float = 5.0, max_age: float = 600.0, timeout: float = 5.0) -> None:
        self.url = url
        self.cooldown = cooldown
        self.max_age = max_age
        self.timeout = timeout
        self._keys: Dict[str, Tuple[str, jwt.PyJWK]] = {}
        self._fetched_at = float("-inf")
        self._last_attempt = float("-inf")
        self._last_failed = False
        self._lock = threading.Lock()

    def get(self, kid: str) -> Tuple[str, jwt.PyJWK]:
        with self._lock:
            now = time.monotonic()
            entry = self._keys.get(kid)
            stale = now - self._fetched_at >= self.max_age
            if (entry is None or stale) and now - self._last_attempt >= self.cooldown:
                self._fetch(now)
                entry = self._keys.get(kid)
            if entry is None:
                if self._last_failed:
                    raise JwksUnavailable()
                raise InvalidToken("unknown kid")
            return entry

    def load(self) -> int:
        """Fetches the JWKS now (start-up); returns the number of usable keys. Raises JwksUnavailable(reason)."""
        with self._lock:
            self._fetch(time.monotonic(), raise_errors=True)
            return len(self._keys)

    def _fetch(self, now: float, raise_errors: bool = False) -> None:
        self._last_attempt = now
        try:
            document = _get_json(self.url, self.timeout)
        except (OSError, ValueError) as err:
            self._last_failed = True
            if raise_errors:
                raise JwksUnavailable(str(err)) from None
            return
        self._store(document, now)

    def _store(self, document: Any, now: float) -> None:
        keys: Dict[str, Tuple[str, jwt.PyJWK]] = {}
        for jwk in document.get("keys", []) if isinstance(document, dict) else []:
            if not isinstance(jwk, dict):
                continue
            kid, alg = jwk.get("kid"), jwk.get("alg")
            # A key is used only with the algorithm it is published with; keys without one are skipped.
            if not isinstance(kid, str) or alg not in ALLOWED_ALGORITHMS or jwk.get("use", "sig") != "sig":
                continue
            try:
                keys.setdefault(kid, (alg, jwt.PyJWK(jwk, algorithm=alg)))
            except jwt.PyJWTError:
                continue
        self._keys = keys
        self._fetched_at = now
        self._last_failed = False


class SseParser:
    """Incremental `text/event-stream` parser (WHATWG HTML, server-sent events): feed it text in
    chunks of any size; `push` returns the (event, data, id) of each event completed. Lines end in
    CRLF, LF or CR (also split across chunks). `last_event_id` moves at the blank line that ends an
    event, with or without data, never on an event cut off before its end."""

    def __init__(self) -> None:
        self.last_event_id = ""
        self.retry: Optional[int] = None
        self._buffer = ""
        self._saw_cr = False
        self._id = ""
        self._event = ""
        self._data: List[str] = []

    def push(self, text: str) -> List[Tuple[str, str, str]]:
        out: List[Tuple[str, str, str]] = []
        if self._saw_cr and text.startswith("\n"):
            text = text[1:]
        self._saw_cr = False
        start = 0
        i = 0
        while i < len(text):
            c = text[i]
            if c == "\n" or c == "\r":
                line = self._buffer + text[start:i]
                self._buffer = ""
                if c == "\r":
                    if i + 1 < len(text):
                        if text[i + 1] == "\n":
                            i += 1
                    else:
                        self._saw_cr = True
                start = i + 1
                self._line(line, out)
            i += 1
        self._buffer += text[start:]
        return out

    def _line(self, line: str, out: List[Tuple[str, str, str]]) -> None:
        if line == "":
            self.last_event_id = self._id
            data, event = self._data, self._event
            self._data, self._event = [], ""
            if data:
                out.append((event or "message", "\n".join(data), self.last_event_id))
            return
        if line.startswith(":"):
            return
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._event = value
        elif field == "id" and "\0" not in value:
            self._id = value
        elif field == "retry" and value.isdigit():
            self.retry = int(value)


class RevocationFollower:
    """Follows Latchkey's revocation feed (`GET /auth/revocations`, then its Server-Sent Events
    stream with `Last-Event-ID` resume) in a background asyncio task, with httpx. Remembers revoked
    sessions (`sid`) and users (`sub`, tokens issued before `before`) until their `exp`, when no
    token they affect can be alive. `check(claims)` is the per-request part: two dict lookups.

    `refuse_after=None` (default): while the feed is unreachable, keep verifying with what is
    known (logged once). `refuse_after=N` (N >= 30): answer 503 once the last contact with the
    feed is older than N seconds, and until the feed has been read once after start.
    """

    def __init__(self, url: str, token: str, refuse_after: Optional[float] = None, reconnect_max: float = 30.0) -> None:
        if not token:
            raise ValueError("the revocation feed token is required (Latchkey's REVOCATION_FEED_TOKEN)")
        if refuse_after is not None and refuse_after < 30:
            raise ValueError("refuse_after must be at least 30 seconds (the feed sends a heartbeat every 15 s)")
        self.url = url
        self.stream_url = url.rstrip("/") + "/stream"
        self.refuse_after = refuse_after
        self.reconnect_max = reconnect_max
        self.cursor: Optional[str] = None
        self.caught_up = False
        self.connected = False
        self.last_contact: Optional[float] = None
        self.stream_connections = 0
        self._token = token
        self._sessions: Dict[str, float] = {}
        self._users: Dict[str, Tuple[float, float]] = {}
        self._retry = 1.0
        self._outage_logged = False
        self._last_sweep = time.time()
        self._task: Optional[asyncio.Task[None]] = None
        self._ready: Optional[asyncio.Event] = None

    # -- the per-request part -------------------------------------------------------------
    def check(self, claims: Dict[str, Any]) -> None:
        """Raises InvalidToken("revoked") or RevocationsUnavailable; returns if the token may pass."""
        if claims.get("sid") in self._sessions:
            raise InvalidToken("revoked")
        user = self._users.get(claims.get("sub"))  # type: ignore[arg-type]
        if user is not None and claims.get("iat", 0) < user[0]:
            raise InvalidToken("revoked")
        if self.refuse_after is not None:
            if not self.caught_up or self.last_contact is None or time.time() - self.last_contact > self.refuse_after:
                raise RevocationsUnavailable()

    @property
    def revoked_sessions(self) -> int:
        return len(self._sessions)

    @property
    def revoked_users(self) -> int:
        return len(self._users)

    # -- life cycle -----------------------------------------------------------------------
    async def start(self, wait: float = 5.0) -> None:
        """Starts the background task (call from the app's startup); waits up to `wait` seconds
        for the backlog, so that tokens revoked before start-up are refused from the first request."""
        self._ready = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run())
        try:
            await asyncio.wait_for(self._ready.wait(), timeout=wait)
        except asyncio.TimeoutError:
            log.warning("revocation feed %s not read within %.0f s; continuing to try in the background", self.url, wait)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    def apply(self, entry: Any) -> None:
        if not isinstance(entry, dict) or not isinstance(entry.get("exp"), (int, float)):
            return
        exp = entry["exp"]
        if entry.get("type") == "session" and isinstance(entry.get("sid"), str):
            self._sessions[entry["sid"]] = max(exp, self._sessions.get(entry["sid"], exp))
        elif entry.get("type") == "user" and isinstance(entry.get("sub"), str) and isinstance(entry.get("before"), (int, float)):
            before, old_exp = self._users.get(entry["sub"], (entry["before"], exp))
            self._users[entry["sub"]] = (max(before, entry["before"]), max(old_exp, exp))
        # Other kinds (a newer Latchkey) are skipped.

    def sweep(self, now: Optional[float] = None) -> None:
        """Drops the entries whose `exp` has passed."""
        now = time.time() if now is None else now
        self._sessions = {sid: exp for sid, exp in self._sessions.items() if exp >= now}
        self._users = {sub: u for sub, u in self._users.items() if u[1] >= now}
        self._last_sweep = now

    # -- the background task --------------------------------------------------------------
    def _contact(self) -> None:
        self.last_contact = time.time()
        if self._outage_logged:
            self._outage_logged = False
            log.warning("revocation feed %s reachable again", self.url)
        if self.last_contact - self._last_sweep > 30:
            self.sweep(self.last_contact)

    async def _run(self) -> None:
        import httpx  # only services that follow the feed need it

        headers = {"Authorization": f"Bearer {self._token}"}
        failures = 0
        # No read timeout on the stream beyond 45 s: three missed heartbeats mean a dead connection.
        async with httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(10.0, read=45.0), follow_redirects=False) as client:
            while True:
                try:
                    if not self.caught_up:
                        await self._page_to_end(client)
                    await self._follow(client)
                    failures = 0
                    await asyncio.sleep(self._retry)
                except asyncio.CancelledError:
                    raise
                except Exception as err:  # noqa: BLE001 - any failure means: wait and reconnect
                    self.connected = False
                    failures += 1
                    if not self._outage_logged:
                        self._outage_logged = True
                        policy = (
                            "verifying with the revocations already known"
                            if self.refuse_after is None
                            else f"refusing every token {self.refuse_after:.0f} s after the last contact"
                        )
                        log.warning("revocation feed unavailable (%s); %s; retrying", _describe(err), policy)
                    if isinstance(err, _FeedStatus) and err.status == 400:
                        self.cursor, self.caught_up = None, False
                    base = min(self.reconnect_max, 0.5 * 2 ** min(failures - 1, 16))
                    await asyncio.sleep(base / 2 + random.random() * base / 2)

    async def _page_to_end(self, client: Any) -> None:
        while True:
            params = {"limit": "1000"}
            if self.cursor is not None:
                params["after"] = self.cursor
            res = await client.get(self.url, params=params, headers={"Accept": "application/json"})
            if res.status_code != 200:
                raise _FeedStatus(res.status_code, self.url)
            page = res.json()
            for entry in page.get("entries", []):
                self.apply(entry)
            if isinstance(page.get("next"), str) and page["next"]:
                self.cursor = page["next"]
            if page.get("has_more") is not True:
                break
        self.caught_up = True
        self._contact()
        if self._ready is not None:
            self._ready.set()

    async def _follow(self, client: Any) -> None:
        headers = {"Accept": "text/event-stream"}
        if self.cursor is not None:
            headers["Last-Event-ID"] = self.cursor
        async with client.stream("GET", self.stream_url, headers=headers) as res:
            if res.status_code != 200 or not res.headers.get("content-type", "").startswith("text/event-stream"):
                raise _FeedStatus(res.status_code, self.stream_url)
            self.connected = True
            self.stream_connections += 1
            self._contact()
            parser = SseParser()
            try:
                async for text in res.aiter_text():
                    self._contact()
                    for event, data, _ in parser.push(text):
                        if event == "revocation":
                            try:
                                self.apply(json.loads(data))
                            except ValueError:
                                pass
                    # Only complete events move it: an entry cut off mid-way is asked for again.
                    if parser.last_event_id:
                        self.cursor = parser.last_event_id
                    if parser.retry is not None:
                        self._retry = min(max(parser.retry / 1000, 0.1), self.reconnect_max)
            except Exception:  # noqa: BLE001 - a cut stream is not an outage: reconnect after `retry`
                pass
            finally:
                self.connected = False


class _FeedStatus(Exception):
    def __init__(self, status: int, url: str) -> None:
        hint = {401: ": the feed refused the credential (check the feed token)", 404: ": no feed there (is REVOCATION_FEED_TOKEN set on Latchkey?)"}
        super().__init__(f"{url} answered {status}{hint.get(status, '')}")
        self.status = status


def _describe(err: Exception) -> str:
    return str(err) or type(err).__name__


class LatchkeyVerifier:
    """Verifies Latchkey access tokens. Create one per process and share it."""

    def __init__(
        self,
        issuer: str,
        audience: str,
        jwks_url: Optional[str] = None,
        leeway: int = 5,
        cooldown: float = 5.0,
        latchkey_url: Optional[str] = None,
        revocations: Optional[RevocationFollower] = None,
    ) -> None:
        """`latchkey_url` is where this service reaches Latchkey (default: the issuer), e.g. an
        internal address; `jwks_url` defaults to its `/.well-known/jwks.json`. With `revocations`,
        tokens the revocation feed voided are refused too."""
        if not 0 <= leeway <= 60:
            raise ValueError("leeway must be between 0 and 60 seconds")
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self.latchkey_url = (latchkey_url or issuer).rstrip("/")
        self.jwks = JwksCache(jwks_url or f"{self.latchkey_url}/.well-known/jwks.json", cooldown=cooldown)
        self.revocations = revocations

    def check(self, timeout: float = 5.0) -> None:
        """At start-up: Latchkey answers, names the configured issuer, and publishes a usable key.
        Raises LatchkeyConfigError with the reason otherwise."""
        url = f"{self.latchkey_url}/.well-known/openid-configuration"
        try:
            discovery = _get_json(url, timeout)
        except (OSError, ValueError) as err:
            raise LatchkeyConfigError(f"cannot read Latchkey's discovery document at {url}: {err}") from None
        actual = discovery.get("issuer") if isinstance(discovery, dict) else None
        if actual != self.issuer:
            raise LatchkeyConfigError(
                f"the Latchkey at {self.latchkey_url} says its issuer is {actual!r}, but this service "
                f"expects {self.issuer!r}: every token would be refused. Set LATCHKEY_ISSUER to "
                f"Latchkey's ISSUER, exactly."
            )
        try:
            usable = self.jwks.load()
        except JwksUnavailable as err:
            raise LatchkeyConfigError(f"cannot fetch the JWKS at {self.jwks.url}: {err}") from None
        if usable == 0:
            raise LatchkeyConfigError(
                f"the JWKS at {self.jwks.url} has no usable signing key ({', '.join(ALLOWED_ALGORITHMS)}); "
                "an HS256 Latchkey publishes none"
            )

    def verify(self, token: str) -> Dict[str, Any]:
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken("malformed")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as err:
            raise InvalidToken("malformed") from err
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() not in ("at+jwt", "application/at+jwt"):
            raise InvalidToken("typ is not at+jwt")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid or len(kid) > 256:
            raise InvalidToken("missing kid")
        alg, key = self.jwks.get(kid)
        if header.get("alg") != alg:
            raise InvalidToken("alg does not match the key")
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as err:
            raise InvalidToken(_reason(err)) from err
        roles = claims.get("roles")
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise InvalidToken("bad roles")
        if self.revocations is not None:
            self.revocations.check(claims)
        return claims


def _reason(err: jwt.PyJWTError) -> str:
    for kind, reason in _REASONS:
        if isinstance(err, kind):
            if isinstance(err, jwt.MissingRequiredClaimError):
                return f"{reason} {err.claim}"
            return reason
    return type(err).__name__


def _unauthorized(error: Optional[str], description: Optional[str] = None) -> HTTPException:
    challenge = "Bearer" if error is None else f'Bearer error="{error}"'
    if description is not None:
        challenge += f', error_description="{description}"'
    detail = "Not authenticated" if error is None else (description or "The access token is invalid or has expired")
    return HTTPException(status_code=401, detail=detail, headers={"WWW-Authenticate": challenge})


def latchkey_dependency(verifier: LatchkeyVerifier) -> Callable[..., Dict[str, Any]]:
    """A FastAPI dependency returning the verified claims, or answering 401 / 503."""

    bearer = HTTPBearer(auto_error=False)

    def current_claims(credentials: Optional[HTTPAuthorizationCredentials] = Depends(bearer)) -> Dict[str, Any]:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise _unauthorized(None)
        try:
            return verifier.verify(credentials.credentials)
        except InvalidToken as err:
            # The reason helps whoever runs the service (an expired token is routine: clients
            # refresh on 401; a wrong issuer or bad signatures are not). Never log the token.
            log.info("access token refused: %s", err)
            if str(err) == "revoked":
                raise _unauthorized("invalid_token", "The access token has been revoked") from None
            raise _unauthorized("invalid_token") from None
        except RevocationsUnavailable:
            # 503, not 401: a client that refreshes on 401 would log the user out for our outage.
            log.warning("access token not checked: the revocation feed at %s has been silent too long", verifier.revocations.url if verifier.revocations else "?")
            raise HTTPException(status_code=503, detail="Revocation feed unavailable", headers={"Retry-After": "5"}) from None
        except JwksUnavailable:
            log.warning("access token not checked: its key is unknown and the JWKS at %s cannot be fetched", verifier.jwks.url)
            raise HTTPException(status_code=503, detail="Signing keys unavailable", headers={"Retry-After": "5"}) from None

    return current_claims


def require_roles(current_claims: Callable[..., Dict[str, Any]], *roles: str) -> Callable[..., Dict[str, Any]]:
    """A dependency that also demands every one of `roles` (403 insufficient_scope otherwise)."""

    def check(claims: Dict[str, Any] = Depends(current_claims)) -> Dict[str, Any]:
        missing = [r for r in roles if r not in claims.get("roles", [])]
        if missing:
            raise HTTPException(
                status_code=403,
                detail="Missing role(s): " + ", ".join(missing),
                headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{" ".join(roles)}"'},
            )
        return claims

    return check
