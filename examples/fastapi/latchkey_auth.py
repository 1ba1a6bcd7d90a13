"""Protect FastAPI routes with Latchkey access tokens, verified offline with PyJWT.

The rules are the ones Latchkey's own verifier applies (RFC 8725): an algorithm allow-list with
each key bound to the `alg` it is published with, `kid` used only to look a key up in the JWKS,
`jwk`/`jku`/`x5u`/`x5c` headers ignored, `typ` must be `at+jwt`, `iss` and `aud` exact, `exp`
required, a small leeway. The JWKS is fetched once and again only for an unknown `kid` (key
rotation), at most once per cooldown, so made-up kids cannot turn into a request flood.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from typing import Any, Callable, Dict, Optional, Tuple

import jwt
from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

ALLOWED_ALGORITHMS = ("RS256", "ES256", "EdDSA")
MAX_TOKEN_LENGTH = 8192


class InvalidToken(Exception):
    """The token is refused; the message is for logs, never for the client."""


class JwksUnavailable(Exception):
    """The token's key is unknown and the JWKS cannot be fetched right now."""


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

    def _fetch(self, now: float) -> None:
        self._last_attempt = now
        try:
            request = urllib.request.Request(self.url, headers={"Accept": "application/json"})
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                document = json.load(response)
        except (OSError, ValueError):
            self._last_failed = True
            return
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

    def __init__(self, issuer: str, audience: str, jwks_url: str, leeway: int = 5, cooldown: float = 5.0) -> None:
        if not 0 <= leeway <= 60:
            raise ValueError("leeway must be between 0 and 60 seconds")
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self.jwks = JwksCache(jwks_url, cooldown=cooldown)

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
            raise InvalidToken(type(err).__name__) from err
        roles = claims.get("roles")
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise InvalidToken("bad roles")
        return claims


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
        except InvalidToken:
            raise _unauthorized("invalid_token") from None
        except JwksUnavailable:
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
