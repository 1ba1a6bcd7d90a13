"""The tutorials' stack, as a peer of GET /auth/me: FastAPI + PyJWT (HS256) + passlib bcrypt,
served by uvicorn, all from Debian's python3 packages.

It follows the FastAPI security tutorial ("OAuth2 with Password (and hashing), Bearer with JWT
tokens"): POST /token takes the OAuth2 password form and returns a JWT; GET /users/me/ decodes
the token in a `get_current_user` dependency and loads the user. The one change is that users
live in a real SQLite table (stdlib sqlite3) instead of the tutorial's in-memory dict, so that
/me reads storage as Latchkey's does.

Run: DATA_DIR=/tmp/x BENCH_EMAIL=a@example.com BENCH_PASSWORD=... \
     /usr/bin/python3 -m uvicorn fastapi_app:app --app-dir bench/peers --host 127.0.0.1 --port 8000
"""

import os
import secrets
import sqlite3
from datetime import datetime, timedelta, timezone

import jwt
from fastapi import Depends, FastAPI, HTTPException, status
from fastapi.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm
from passlib.context import CryptContext

SECRET_KEY = secrets.token_hex(32)
ALGORITHM = "HS256"
ACCESS_TOKEN_EXPIRE_MINUTES = 15

pwd_context = CryptContext(schemes=["bcrypt"], deprecated="auto")
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="token")

db = sqlite3.connect(os.path.join(os.environ["DATA_DIR"], "fastapi.db"), check_same_thread=False)
db.row_factory = sqlite3.Row
db.execute("PRAGMA journal_mode = WAL")
db.execute(
    "CREATE TABLE IF NOT EXISTS users (username TEXT PRIMARY KEY, full_name TEXT, email TEXT,"
    " hashed_password TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0)"
)
db.execute(
    "INSERT OR REPLACE INTO users (username, full_name, email, hashed_password) VALUES (?, ?, ?, ?)",
    (
        os.environ["BENCH_EMAIL"],
        "Bench User",
        os.environ["BENCH_EMAIL"],
        pwd_context.hash(os.environ["BENCH_PASSWORD"]),
    ),
)
db.commit()

app = FastAPI()


def get_user(username: str):
    row = db.execute("SELECT * FROM users WHERE username = ?", (username,)).fetchone()
    return dict(row) if row else None


def authenticate_user(username: str, password: str):
    user = get_user(username)
    if not user or not pwd_context.verify(password, user["hashed_password"]):
        return None
    return user


def create_access_token(data: dict) -> str:
    to_encode = data.copy()
    to_encode["exp"] = datetime.now(timezone.utc) + timedelta(minutes=ACCESS_TOKEN_EXPIRE_MINUTES)
    return jwt.encode(to_encode, SECRET_KEY, algorithm=ALGORITHM)


async def get_current_user(token: str = Depends(oauth2_scheme)):
    credentials_exception = HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail="Could not validate credentials",
        headers={"WWW-Authenticate": "Bearer"},
    )
    try:
        payload = jwt.decode(token, SECRET_KEY, algorithms=[ALGORITHM])
        username = payload.get("sub")
        if username is None:
            raise credentials_exception
    except jwt.InvalidTokenError:
        raise credentials_exception
    user = get_user(username)
    if user is None:
        raise credentials_exception
    return user


async def get_current_active_user(current_user: dict = Depends(get_current_user)):
    if current_user["disabled"]:
        raise HTTPException(status_code=400, detail="Inactive user")
    return current_user


@app.post("/token")
async def login_for_access_token(form_data: OAuth2PasswordRequestForm = Depends()):
    user = authenticate_user(form_data.username, form_data.password)
    if not user:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="Incorrect username or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return {"access_token": create_access_token({"sub": user["username"]}), "token_type": "bearer"}


@app.get("/users/me/")
async def read_users_me(current_user: dict = Depends(get_current_active_user)):
    return {"username": current_user["username"], "email": current_user["email"], "full_name": current_user["full_name"]}
