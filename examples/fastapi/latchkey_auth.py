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
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from typing import Any, Callable, Dict, Optional, Tuple

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
    ) -> None:
        """`latchkey_url` is where this service reaches Latchkey (default: the issuer), e.g. an
        internal address; `jwks_url` defaults to its `/.well-known/jwks.json`."""
        if not 0 <= leeway <= 60:
            raise ValueError("leeway must be between 0 and 60 seconds")
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self.latchkey_url = (latchkey_url or issuer).rstrip("/")
        self.jwks = JwksCache(jwks_url or f"{self.latchkey_url}/.well-known/jwks.json", cooldown=cooldown)

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
        return claims


def _reason(err: jwt.PyJWTError) -> str:
    for kind, reason in _REASONS:
        if isinstance(err, kind):
            if isinstance(err, jwt.MissingRequiredClaimError):
                return f"{reason} {err.claim}"
            return reason
    return type(err).__name__


def _unauthorized(error: Optional[str]) -> HTTPException:
    challenge = "Bearer" if error is None else f'Bearer error="{error}"'
    detail = "Not authenticated" if error is None else "The access token is invalid or has expired"
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
            raise _unauthorized("invalid_token") from None
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
