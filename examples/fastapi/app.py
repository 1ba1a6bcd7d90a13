"""A FastAPI service whose routes accept Latchkey access tokens (see docs/fastapi.md).

Run:  LATCHKEY_ISSUER=http://localhost:3000 \
      LATCHKEY_JWKS_URL=http://localhost:3000/.well-known/jwks.json \
      python3 -m uvicorn app:app --app-dir examples/fastapi --port 8000
"""

import os
from typing import Any, Dict

from fastapi import Depends, FastAPI

from latchkey_auth import LatchkeyVerifier, latchkey_dependency, require_roles

verifier = LatchkeyVerifier(
    issuer=os.environ["LATCHKEY_ISSUER"],
    audience=os.environ.get("LATCHKEY_AUDIENCE", "latchkey"),
    jwks_url=os.environ["LATCHKEY_JWKS_URL"],
    leeway=int(os.environ.get("LATCHKEY_LEEWAY", "5")),
)
current_claims = latchkey_dependency(verifier)

app = FastAPI(title="Orders")


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
