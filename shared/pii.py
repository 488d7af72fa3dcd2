"""Personal data sealed with a key per person, and erased by destroying that key (crypto-shredding).

A personal field (a member's name, date of birth; a guest's name) leaves the service that collected it only
as a *sealed* string, ``pii:v1:<owner>:<base64url(nonce | ciphertext+tag)>``: AES-256-GCM under the owner's
own data key. Every copy downstream (event stores, the roster replica, reporting's tables and audit index,
exports) keeps that string and unseals it when it answers. Erasing the owner (`KeyRing.shred`) deletes the
data key: every copy, everywhere, at once becomes unreadable (`PLACEHOLDER`), while the rows, the counts, the
event ids and the audit hash chain stay as they were (nothing is rewritten).

Keys: one row per owner in their own store (`KeyStore`: database ``<prefix>_keys`` on PostgreSQL,
``<data_dir>/keys/keys.sqlite`` on SQLite), each data key wrapped (AES-GCM) by the master key from config
(CHIBO.pii_master_key / CHIBO_PII_MASTER_KEY). The store stands in for a KMS that all three services reach;
erasure keeps a tombstone row (when, by whom, why) and no key.

Sealing is deterministic: the nonce is an HMAC of the data key over the context (e.g. the event's id and
version and the field) and the plaintext, so a replayed or republished event carries the same bytes (reporting's
`chibo replay` compares table digests of a rebuild with the live store). A nonce repeats only for the same
plaintext in the same context, i.e. for the very same ciphertext (SIV-like; it reveals equality only).
The owner is the associated data: a sealed value cannot be passed off as another person's.

Unsealing reads the key store: a running service sees an erasure within `ttl` seconds (default 1 s).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import os
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.config import StoreSettings
from shared.stores import TrackedStore

PREFIX = "pii:v1:"
_SEALED_IN_TEXT = re.compile(r"pii:v1:[0-9A-Za-z._-]+:[0-9A-Za-z_-]+")
PLACEHOLDER = "[đã xóa]"  # shown instead of an erased person's data
PLACEHOLDER_EN = "[erased]"
KEY_BYTES = 32
# The embedded demo's keys: public (they are in this file), so the distributed run refuses them unless
# CHIBO_ALLOW_DEMO_KEYS=true says so (`key_settings`).
DEMO_MASTER_KEY = base64.b64encode(hashlib.sha256(b"chibo demo pii master key: not for production").digest()).decode()
DEMO_CIPHER_KEY = base64.b64encode(hashlib.sha256(b"chibo demo event store cipher key: not for production")
                                   .digest()).decode()


class KeyConfigError(Exception):
    """The encryption keys are missing, malformed or the public demo ones outside the demo: do not start."""


class Erased(Exception):
    """The owner's key was destroyed: nothing more can be sealed for them."""


@dataclass(frozen=True)
class Keys:
    master: bytes  # wraps the per-person data keys
    cipher: str  # base64: eventsourcing's AESCipher key for the event stores (CIPHER_KEY)


def _key(name: str, value: str) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise KeyConfigError(f"{name} is not base64") from None
    if len(raw) != KEY_BYTES:
        raise KeyConfigError(f"{name} must be {KEY_BYTES} bytes (base64 of them), not {len(raw)} "
                             "(e.g. `python -c 'import os, base64; print(base64.b64encode(os.urandom(32)).decode())'`)")
    return raw


def key_settings(store: StoreSettings) -> Keys:
    """The master and event-store keys of `store`; the demo defaults only where `allow_demo_keys` is true
    (the embedded run, tests); the distributed config.yml sets it false unless CHIBO_ALLOW_DEMO_KEYS=true."""
    master, cipher = store.pii_master_key or DEMO_MASTER_KEY, store.cipher_key or DEMO_CIPHER_KEY
    if (master == DEMO_MASTER_KEY or cipher == DEMO_CIPHER_KEY) and not store.allow_demo_keys:
        raise KeyConfigError(
            "REFUSED: the distributed configuration uses the public demo encryption keys. Set "
            "CHIBO_PII_MASTER_KEY and CHIBO_CIPHER_KEY (32 random bytes, base64, from a secret store), or "
            "CHIBO_ALLOW_DEMO_KEYS=true for a local trial.\n"
            "TỪ CHỐI: cấu hình phân tán đang dùng khóa mã hóa mẫu công khai; hãy đặt CHIBO_PII_MASTER_KEY "
            "và CHIBO_CIPHER_KEY.")
    _key("CHIBO_CIPHER_KEY", cipher)
    return Keys(master=_key("CHIBO_PII_MASTER_KEY", master), cipher=cipher)


def is_sealed(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def owner_of(value: str) -> str | None:
    """The owner a sealed value belongs to (None for a plain value)."""
    if not is_sealed(value):
        return None
    return value[len(PREFIX):].partition(":")[0]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_TABLES = (
    "CREATE TABLE IF NOT EXISTS pii_keys (owner_id TEXT PRIMARY KEY, wrapped TEXT, created_at TEXT NOT NULL,"
    " shredded_at TEXT, shredded_by TEXT, reason TEXT)",
)


class KeyRing:
    """Per-owner data keys: seal, unseal, shred. Thread-safe; one per process and key store (`keyring`)."""

    def __init__(self, settings: StoreSettings, *, ttl: float = 1.0):
        self.settings = settings
        self.keys = key_settings(settings)
        self._wrap = AESGCM(self.keys.master)
        # One connection kept open, one more on demand: every process of a cluster holds a key ring, and
        # PostgreSQL has a hundred connections for all of them (key queries are short; callers wait their turn).
        self._store = TrackedStore(settings, "keys", name="keys", pool_size=1, max_overflow=1)
        self._store.create_tables(_TABLES)
        self.ttl = ttl
        self._cache: dict[str, tuple[float, bytes | None]] = {}
        self._lock = threading.Lock()

    # --- keys --------------------------------------------------------------------------------------

    def _unwrap(self, owner: str, wrapped: str | None) -> bytes | None:
        if wrapped is None:
            return None
        blob = _unb64(wrapped)
        return self._wrap.decrypt(blob[:12], blob[12:], owner.encode())

    def _remember(self, owner: str, key: bytes | None) -> None:
        with self._lock:
            self._cache[owner] = (time.monotonic() + self.ttl, key)

    def _cached(self, owner: str) -> tuple[bool, bytes | None]:
        with self._lock:
            hit = self._cache.get(owner)
        if hit is not None and hit[0] > time.monotonic():
            return True, hit[1]
        return False, None

    def _load(self, owners: Iterable[str]) -> dict[str, bytes | None]:
        """Keys of `owners` (None: erased or never had one), with one query for those not cached."""
        out: dict[str, bytes | None] = {}
        missing = []
        for owner in set(owners):
            hit, key = self._cached(owner)
            if hit:
                out[owner] = key
            else:
                missing.append(owner)
        for start in range(0, len(missing), 500):
            chunk = missing[start:start + 500]
            with self._store.read() as sql:
                rows = sql.execute(f"SELECT owner_id, wrapped FROM pii_keys WHERE owner_id IN"
                                   f" ({', '.join('?' * len(chunk))})", chunk).fetchall()
            found = {r["owner_id"]: r["wrapped"] for r in rows}
            for owner in chunk:
                key = self._unwrap(owner, found.get(owner))
                out[owner] = key
                self._remember(owner, key)
        return out

    def _key_for_sealing(self, owner: str) -> bytes:
        hit, key = self._cached(owner)
        if hit and key is not None:
            return key
        with self._store.read() as sql:
            row = sql.execute("SELECT wrapped, shredded_at FROM pii_keys WHERE owner_id = ?", (owner,)).fetchone()
        if row is None:
            fresh = AESGCM.generate_key(KEY_BYTES * 8)
            nonce = os.urandom(12)
            wrapped = _b64(nonce + self._wrap.encrypt(nonce, fresh, owner.encode()))
            with self._store.write() as sql:  # two sealers racing: the first key wins, both read it back
                sql.execute("INSERT INTO pii_keys (owner_id, wrapped, created_at) VALUES (?, ?, ?)"
                            " ON CONFLICT (owner_id) DO NOTHING",
                            (owner, wrapped, dt.datetime.now(dt.UTC).isoformat()))
            with self._store.read() as sql:
                row = sql.execute("SELECT wrapped, shredded_at FROM pii_keys WHERE owner_id = ?",
                                  (owner,)).fetchone()
        if row["wrapped"] is None:
            raise Erased(f"the personal data of {owner} was erased on {row['shredded_at']}: nothing can be sealed")
        key = self._unwrap(owner, row["wrapped"])
        assert key is not None
        self._remember(owner, key)
        return key

    # --- sealing -----------------------------------------------------------------------------------

    def seal(self, owner: Any, field: str, text: str, *, context: str) -> str:
        """`text` sealed with `owner`'s key; the same (owner, field, context, text) gives the same string."""
        if is_sealed(text):
            return text
        owner = str(owner)
        key = self._key_for_sealing(owner)
        data = text.encode()
        nonce = hmac.new(key, b"nonce\x00" + context.encode() + b"\x00" + field.encode() + b"\x00" + data,
                         hashlib.sha256).digest()[:12]
        return f"{PREFIX}{owner}:{_b64(nonce + AESGCM(key).encrypt(nonce, data, owner.encode()))}"

    def unseal(self, value: Any, *, placeholder: str = PLACEHOLDER) -> Any:
        """The plaintext of a sealed value; a plain value as it is; `placeholder` once the owner is erased."""
        return self.unseal_many([value], placeholder=placeholder)[0]

    def unseal_many(self, values: Iterable[Any], *, placeholder: str = PLACEHOLDER) -> list[Any]:
        """`unseal` for many values (an export's thousands of rows) with one key query."""
        values = list(values)
        keys = self._load(o for v in values if (o := owner_of(v)) is not None)
        out = []
        for value in values:
            owner = owner_of(value)
            if owner is None:
                out.append(value)
                continue
            key = keys.get(owner)
            out.append(placeholder if key is None else _open(key, owner, value))
        return out

    def reveal(self, obj: Any, *, placeholder: str = PLACEHOLDER) -> Any:
        """A JSON-like structure (dicts, lists, tuples) with every sealed string in it unsealed."""
        found: list[str] = []
        _walk(obj, found.append)
        if not found:
            return obj
        opened = dict(zip(found, self.unseal_many(found, placeholder=placeholder), strict=True))
        return _replace(obj, opened)

    def reveal_text(self, text: str, *, placeholder: str = PLACEHOLDER) -> str:
        """`text` (a message) with the sealed values written in it opened."""
        found = _SEALED_IN_TEXT.findall(text)
        if not found:
            return text
        opened = dict(zip(found, self.unseal_many(found, placeholder=placeholder), strict=True))
        return _SEALED_IN_TEXT.sub(lambda m: opened[m.group(0)], text)

    def erased(self, owner: Any) -> bool:
        with self._store.read() as sql:
            row = sql.execute("SELECT shredded_at FROM pii_keys WHERE owner_id = ?", (str(owner),)).fetchone()
        return row is not None and row["shredded_at"] is not None

    def shred(self, owner: Any, *, by: str, reason: str, now: dt.datetime | None = None) -> bool:
        """Destroy `owner`'s data key, keeping a tombstone (when, by whom, why). False: already erased.

        An owner without a key yet gets the tombstone too: nothing can be sealed for them afterwards.
        """
        owner = str(owner)
        at = (now or dt.datetime.now(dt.UTC)).isoformat()
        with self._store.write() as sql:
            sql.execute("INSERT INTO pii_keys (owner_id, wrapped, created_at) VALUES (?, NULL, ?)"
                        " ON CONFLICT (owner_id) DO NOTHING", (owner, at))
            sql.execute("UPDATE pii_keys SET wrapped = NULL, shredded_at = ?, shredded_by = ?, reason = ?"
                        " WHERE owner_id = ? AND shredded_at IS NULL", (at, by, reason, owner))
            done = sql.rowcount == 1
        self._remember(owner, None)
        return done

    def tombstone(self, owner: Any) -> dict[str, Any] | None:
        with self._store.read() as sql:
            row = sql.execute("SELECT owner_id, created_at, shredded_at, shredded_by, reason FROM pii_keys"
                              " WHERE owner_id = ?", (str(owner),)).fetchone()
        return dict(row) if row is not None and row["shredded_at"] is not None else None

    def close(self) -> None:
        self._store.close()


def _walk(obj: Any, found: Any) -> None:
    if is_sealed(obj):
        found(obj)
    elif isinstance(obj, dict):
        for value in obj.values():
            _walk(value, found)
    elif isinstance(obj, list | tuple):
        for value in obj:
            _walk(value, found)


def _replace(obj: Any, opened: dict[str, Any]) -> Any:
    if isinstance(obj, str):
        return opened.get(obj, obj)
    if isinstance(obj, dict):
        return {k: _replace(v, opened) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_replace(v, opened) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_replace(v, opened) for v in obj)
    return obj


def _open(key: bytes, owner: str, value: str) -> str:
    blob = _unb64(value[len(PREFIX):].partition(":")[2])
    try:
        return AESGCM(key).decrypt(blob[:12], blob[12:], owner.encode()).decode()
    except InvalidTag:
        raise ValueError(f"a sealed value of {owner} does not open: damaged, or not sealed for them") from None


_RINGS: dict[StoreSettings, tuple[KeyRing, int]] = {}
_RINGS_LOCK = threading.Lock()


def keyring(settings: StoreSettings) -> KeyRing:
    """The process's key ring for `settings`, shared by its users (the services of an embedded run); each
    user hands it back with `release` when it stops, the last one closes it."""
    with _RINGS_LOCK:
        ring, users = _RINGS.get(settings) or (None, 0)
        if ring is not None:
            _RINGS[settings] = (ring, users + 1)
            return ring
    fresh: KeyRing | None = KeyRing(settings)  # outside the lock: opening it waits on the database
    with _RINGS_LOCK:
        ring, users = _RINGS.get(settings) or (None, 0)
        if ring is None:
            ring, fresh = fresh, None
        _RINGS[settings] = (ring, users + 1)
    if fresh is not None:  # another user opened one meanwhile
        fresh.close()
    assert ring is not None
    return ring


def release(settings: StoreSettings) -> None:
    with _RINGS_LOCK:
        ring, users = _RINGS.get(settings) or (None, 0)
        if ring is None:
            return
        if users > 1:
            _RINGS[settings] = (ring, users - 1)
            return
        del _RINGS[settings]
    ring.close()
