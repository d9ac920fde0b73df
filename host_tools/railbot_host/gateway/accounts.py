"""Who may call the API: operator accounts (scrypt-hashed passwords) and one unguessable token per bay (the pillar's QR code)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

_NAME = re.compile(r"^[a-z][a-z0-9_.-]{0,31}$")
PASSWORD_MIN = 10
# scrypt at n=2**14, r=8: about 16 MB and some tens of ms a check: slow enough to make guessing
# expensive, fast enough for an operator's calls
_N, _R, _P = 1 << 14, 8, 1


class AccountError(ValueError):
    pass


def _hash(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)


def add_user(store, name: str, password: str) -> None:
    if not _NAME.match(name):
        raise AccountError(f"user name {name!r}: 1..32 of a-z 0-9 _ . -, starting with a letter")
    if len(password) < PASSWORD_MIN:
        raise AccountError(f"password of {len(password)} characters: at least {PASSWORD_MIN}")
    salt = secrets.token_bytes(16)
    store.run("INSERT INTO users(name, salt, hash) VALUES(?, ?, ?) ON CONFLICT(name) DO UPDATE SET "
              "salt=excluded.salt, hash=excluded.hash", name, salt, _hash(password, salt))


def user_record(store, name: str):
    """(salt, hash) of an account, or None."""
    row = store.one("SELECT salt, hash FROM users WHERE name=?", name)
    return (row["salt"], row["hash"]) if row else None


def verify(record, password: str) -> bool:
    """The slow part (scrypt), apart so that a server can run it off its event loop."""
    if record is None:
        _hash(password, b"\0" * 16)  # the same work for a name that does not exist
        return False
    return hmac.compare_digest(_hash(password, record[0]), record[1])


def check_user(store, name: str, password: str) -> bool:
    return verify(user_record(store, name), password)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_bay_token(store, bay: int) -> str:
    """A new token for a bay (the old one stops working): 192 random bits, URL-safe. Only its
    hash is kept: print it on the pillar's QR code now."""
    token = secrets.token_urlsafe(24)
    store.run("INSERT INTO bay_tokens(bay, token_hash) VALUES(?, ?) ON CONFLICT(bay) DO UPDATE SET "
              "token_hash=excluded.token_hash", bay, _token_hash(token))
    return token


def bay_of_token(store, token: str) -> int | None:
    if not 16 <= len(token) <= 64:
        return None
    row = store.one("SELECT bay FROM bay_tokens WHERE token_hash=?", _token_hash(token))
    return row["bay"] if row else None
