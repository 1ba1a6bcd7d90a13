"""A FastAPI service whose routes accept Latchkey access tokens (see docs/fastapi.md).

Run:  LATCHKEY_ISSUER=http://localhost:3000 \
      python3 -m uvicorn app:app --app-dir examples/fastapi --port 8000
"""

import logging
import os
from typing import Any, Dict

from fastapi import Depends, FastAPI

from latchkey_auth import LatchkeyConfigError, LatchkeyVerifier, RevocationFollower, latchkey_dependency, require_roles

# uvicorn configures its own loggers only; this shows latchkey_auth's lines (refused tokens) too.
logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"), format="%(levelname)s:     %(name)s: %(message)s")

# Optional: follow Latchkey's revocation feed, so that a logout or a disabled user is refused
# within about a second rather than when the token expires (docs/fastapi.md).
latchkey_url = (os.environ.get("LATCHKEY_URL") or os.environ["LATCHKEY_ISSUER"]).rstrip("/")
feed_token = os.environ.get("LATCHKEY_REVOCATION_FEED_TOKEN")
refuse_after = os.environ.get("LATCHKEY_REFUSE_AFTER")
follower = (
    RevocationFollower(
        url=os.environ.get("LATCHKEY_REVOCATIONS_URL") or f"{latchkey_url}/auth/revocations",
        token=feed_token,
        refuse_after=float(refuse_after) if refuse_after else None,
    )
    if feed_token
    else None
)

verifier = LatchkeyVerifier(
    issuer=os.environ["LATCHKEY_ISSUER"],
    audience=os.environ.get("LATCHKEY_AUDIENCE", "latchkey"),
    latchkey_url=os.environ.get("LATCHKEY_URL"),
    jwks_url=os.environ.get("LATCHKEY_JWKS_URL"),
    leeway=int(os.environ.get("LATCHKEY_LEEWAY", "5")),
    revocations=follower,
)
# Fail now, with the reason, rather than answer 401 to every request: Latchkey must be reachable,
# name the same issuer, and publish a key.
try:
    verifier.check()
except LatchkeyConfigError as err:
    raise SystemExit(f"latchkey_auth: {err}") from None
current_claims = latchkey_dependency(verifier)

app = FastAPI(title="Orders")


@app.on_event("startup")
async def follow_revocations() -> None:
    if follower is not None:
        await follower.start()


@app.on_event("shutdown")
async def stop_following() -> None:
    if follower is not None:
        await follower.stop()


@app.get("/health")
def health() -> Dict[str, str]:
    return {"status": "ok"}


@app.get("/orders")
def list_orders(claims: Dict[str, Any] = Depends(current_claims)) -> Dict[str, Any]:
    # claims["sub"] is the Latchkey user id; claims["sid"] the session; claims["roles"] the roles.
    return {"owner": claims["sub"], "roles": claims["roles"], "orders": []}


@app.delete("/orders/{order_id}")
def delete_order(order_id: str, claims: Dict[str, Any] = Depends(require_roles(current_claims, "admin"))) -> Dict[str, Any]:
    return {"deleted": order_id, "by": claims["sub"]}
