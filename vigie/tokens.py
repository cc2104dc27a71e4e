"""Token comparisons shared by the functions and the relay: stored as SHA-256,
compared in constant time."""

from __future__ import annotations

import hashlib
import hmac


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def same_token(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def matches_hash(given: str, stored_hash: bytes) -> bool:
    return hmac.compare_digest(hash_token(given), bytes(stored_hash))
