"""An agent's `auth-profiles.json` (version 1): the secrets, order, lastGood and usageStats.

`AuthStore` is the document in memory; `AuthStoreFile` reads it and changes it under the
gateway-compatible lock, re-reading inside the lock so concurrent writers (other kernels, a
gateway) never lose each other's updates. Entries and keys we do not understand are kept
as they were. A store that cannot be parsed is copied aside and never written over.
"""

from __future__ import annotations

import contextlib
import copy
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from clawdbot_nb.errors import ParseError
from clawdbot_nb.state.cooldown import UsageStats
from clawdbot_nb.state.credentials import Credential, OAuthCredential, ParsedProfile, parse_credential
from clawdbot_nb.state.jsonfile import (
    ParsedFileCache,
    RawFile,
    UnreadableFileError,
    check_structure,
    dumps,
    ensure_private_dir,
    keep_aside,
    load_json_object,
    read_json_object,
    read_raw,
    temp_path_for,
    write_new_file,
    write_target,
    write_text_atomic,
)
from clawdbot_nb.state.lock import STORE_LOCK, FileLock, LockOptions
from clawdbot_nb.state.paths import AUTH_PROFILE_FILENAME, LEGACY_AUTH_FILENAME

AUTH_STORE_VERSION = 1
T = TypeVar("T")

#: Read-only stores by path, re-read only when the file changed.
_snapshots: ParsedFileCache[AuthStore] = ParsedFileCache()


class AuthStore:
    """The store document: typed reads over `data`, and changes made to `data` itself."""

    def __init__(
        self,
        data: dict[str, Any],
        *,
        path: Path | None = None,
        imported_from: tuple[Path, ...] = (),
        read_only: bool = False,
    ):
        self.data = data
        self.path = path
        #: Legacy files whose credentials this (not yet saved) store was built from.
        self.imported_from = imported_from
        #: A shared snapshot (see `AuthStoreFile.snapshot`) must never be changed in place.
        self.read_only = read_only
        self._parsed: dict[str, ParsedProfile] | None = None

    def copy(self) -> AuthStore:
        """A private, changeable copy."""
        return AuthStore(copy.deepcopy(self.data), path=self.path, imported_from=self.imported_from)

    @classmethod
    def empty(cls, path: Path | None = None) -> AuthStore:
        return cls({"version": AUTH_STORE_VERSION, "profiles": {}}, path=path)

    @property
    def version(self) -> int:
        return self.data.get("version", AUTH_STORE_VERSION)

    # -- profiles -------------------------------------------------------------------------------

    def _profiles_raw(self) -> dict[str, Any]:
        return self.data.setdefault("profiles", {})

    def parsed_profiles(self) -> dict[str, ParsedProfile]:
        """Every entry, read leniently (`credential` is None for entries the gateway drops)."""
        if self._parsed is None:
            self._parsed = {pid: parse_credential(raw) for pid, raw in self._profiles_raw().items()}
        return self._parsed

    @property
    def profiles(self) -> dict[str, Credential]:
        """The entries that are credentials (type api_key/token/oauth with a provider)."""
        return {pid: p.credential for pid, p in self.parsed_profiles().items() if p.credential is not None}

    def get(self, profile_id: str) -> Credential | None:
        parsed = self.parsed_profiles().get(profile_id)
        return parsed.credential if parsed else None

    def profile_ids(self, provider: str | None = None) -> list[str]:
        return [
            pid
            for pid, cred in self.profiles.items()
            if provider is None or cred.provider == provider.lower()
        ]

    def _touch(self) -> None:
        """Called before every change."""
        if self.read_only:
            raise RuntimeError("this AuthStore is a shared snapshot; change a copy() or use a transaction")
        self._parsed = None  # the parsed view is rebuilt on next read

    def set_credential(self, profile_id: str, credential: Credential) -> None:
        """Store `credential` under `profile_id`, replacing any previous entry."""
        self._touch()
        self._profiles_raw()[profile_id] = credential.to_json()

    def merge_credential(self, profile_id: str, credential: Credential) -> None:
        """`{...old, ...new}`: a refresh keeps the entry's other fields (email, accountId, ...)."""
        self._touch()
        old = self._profiles_raw().get(profile_id)
        merged = {**old, **credential.to_json()} if isinstance(old, dict) else credential.to_json()
        self._profiles_raw()[profile_id] = merged

    def restore_entry(self, profile_id: str, raw: Any) -> None:
        """Put back a `profiles[id]` entry exactly as it was read (None: there was none)."""
        self._touch()
        if raw is None:
            self._profiles_raw().pop(profile_id, None)
        else:
            self._profiles_raw()[profile_id] = copy.deepcopy(raw)

    def remove_profile(self, profile_id: str) -> bool:
        """Remove the profile and every reference to it (order, lastGood, usageStats)."""
        self._touch()
        found = self._profiles_raw().pop(profile_id, None) is not None
        for provider, ids in list(self._order_raw().items()):
            if profile_id in ids:
                self.set_order(provider, [i for i in ids if i != profile_id])
                found = True
        last_good = self.data.get("lastGood")
        if isinstance(last_good, dict):
            for provider in [p for p, pid in last_good.items() if pid == profile_id]:
                del last_good[provider]
                found = True
        stats = self.data.get("usageStats")
        if isinstance(stats, dict) and stats.pop(profile_id, None) is not None:
            found = True
        for section in ("lastGood", "usageStats"):
            if self.data.get(section) == {}:
                del self.data[section]
        return found

    # -- order, lastGood ----------------------------------------------------------------------

    def _order_raw(self) -> dict[str, list[str]]:
        order = self.data.get("order")
        return order if isinstance(order, dict) else {}

    def order(self, provider: str) -> list[str] | None:
        ids = self._order_raw().get(provider.lower())
        return list(ids) if ids else None

    def set_order(self, provider: str, ids: list[str] | None) -> None:
        self._touch()
        provider = provider.lower()
        cleaned = [i.strip() for i in ids or [] if i.strip()]
        order = self.data.setdefault("order", {})
        if cleaned:
            order[provider] = list(dict.fromkeys(cleaned))
        else:
            order.pop(provider, None)
        if not order:
            del self.data["order"]

    def last_good(self, provider: str) -> str | None:
        last_good = self.data.get("lastGood")
        return last_good.get(provider.lower()) if isinstance(last_good, dict) else None

    def set_last_good(self, provider: str, profile_id: str) -> None:
        self._touch()
        self.data.setdefault("lastGood", {})[provider.lower()] = profile_id

    # -- usage stats ----------------------------------------------------------------------------

    def stats(self, profile_id: str) -> UsageStats:
        stats = self.data.get("usageStats")
        return UsageStats.from_json(stats.get(profile_id) if isinstance(stats, dict) else None)

    def set_stats(self, profile_id: str, stats: UsageStats) -> None:
        self._touch()
        table = self.data.setdefault("usageStats", {})
        encoded = stats.to_json()
        if encoded:
            table[profile_id] = encoded
        else:
            table.pop(profile_id, None)
            if not table:
                del self.data["usageStats"]


# -- reading and validating the file -------------------------------------------------------------


def _read_bytes_quietly(path: Path) -> bytes | None:
    try:
        raw = read_raw(path, what="auth profile store")
    except ParseError:
        return None
    return raw.data if raw is not None else None


def _check_shape(data: dict[str, Any], path: Path) -> None:
    """Refuse documents whose known sections have the wrong shape, naming the field."""

    def bad(field: str, expected: str) -> ParseError:
        return ParseError(
            f"auth store field {field} must be {expected}",
            path=path,
            fix=f"correct {field} in {path.name}, or move the file away and onboard again",
        )

    version = data.get("version", AUTH_STORE_VERSION)
    if isinstance(version, bool) or not isinstance(version, int):
        raise bad("version", "the number 1")
    if not isinstance(data.get("profiles", {}), dict):
        raise bad("profiles", "an object of profileId → credential")
    for section in ("order", "lastGood", "usageStats"):
        if not isinstance(data.get(section, {}), dict):
            raise bad(section, "an object")
    for provider, ids in data.get("order", {}).items():
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise bad(f"order.{provider}", "a list of profile ids")
    for provider, profile_id in data.get("lastGood", {}).items():
        if not isinstance(profile_id, str):
            raise bad(f"lastGood.{provider}", "a profile id string")


def _coerce(data: dict[str, Any]) -> dict[str, Any]:
    """The gateway's load rules: version defaults to 1; order lists trimmed, empty ones dropped."""
    data.setdefault("version", AUTH_STORE_VERSION)
    data.setdefault("profiles", {})
    order = data.get("order")
    if isinstance(order, dict):
        for provider in list(order):
            ids = [i.strip() for i in order[provider] if i.strip()]
            if ids:
                order[provider] = ids
            else:
                del order[provider]
        if not order:
            del data["order"]
    return data


def _legacy_profiles(agent_dir: Path, legacy_oauth: Path | None) -> tuple[dict[str, Any], tuple[Path, ...]]:
    """Credentials of the pre-profile files, as `<provider>:default` entries.

    `auth.json` (flat `{provider: credential}`) is read but never deleted: it may be the live
    cache of a running gateway. `credentials/oauth.json` entries are added as oauth only where
    the id is still free.
    """
    profiles: dict[str, Any] = {}
    sources: list[Path] = []
    legacy_auth = agent_dir / LEGACY_AUTH_FILENAME
    with contextlib.suppress(ParseError):
        flat = read_json_object(legacy_auth, what="legacy auth file")
        if flat and "profiles" not in flat:
            for provider, entry in flat.items():
                if isinstance(entry, dict) and parse_credential({"provider": provider, **entry}).credential:
                    profiles[f"{provider.lower()}:default"] = {"provider": provider.lower(), **entry}
            if profiles:
                sources.append(legacy_auth)
    if legacy_oauth is not None:
        with contextlib.suppress(ParseError):
            oauth = read_json_object(legacy_oauth, what="legacy OAuth file") or {}
            added = False
            for provider, entry in oauth.items():
                profile_id = f"{provider.lower()}:default"
                if profile_id in profiles or not isinstance(entry, dict):
                    continue
                candidate = {"type": "oauth", "provider": provider.lower(), **entry}
                if isinstance(parse_credential(candidate).credential, OAuthCredential):
                    profiles[profile_id] = candidate
                    added = True
            if added:
                sources.append(legacy_oauth)
    return profiles, tuple(sources)


class AuthStoreFile:
    """The store of one agent on disk."""

    def __init__(
        self,
        agent_dir: Path,
        *,
        legacy_oauth_file: Path | None = None,
        lock_options: LockOptions = STORE_LOCK,
    ) -> None:
        self.agent_dir = agent_dir
        self.path = agent_dir / AUTH_PROFILE_FILENAME
        self.legacy_oauth_file = legacy_oauth_file
        self.lock_options = lock_options

    def _validate(self, data: dict[str, Any]) -> None:
        _check_shape(data, self.path)
        check_structure(data, path=self.path, what="auth store", finite_numbers=True)

    def _read_document(self) -> tuple[AuthStore, RawFile] | None:
        """The store as on disk now, re-read while a gateway is half-way through rewriting it.

        A store that stays unparsable is copied aside (once per content) and refused.
        """
        try:
            document = load_json_object(self.path, what="auth profile store", validate=self._validate)
        except UnreadableFileError as error:
            if error.settled:
                kept = keep_aside(write_target(self.path), error.content)
                if kept is not None:
                    error.fix = f"{error.fix} (a copy of the unreadable file is kept at {kept})"
            raise
        if document is None:
            return None
        return AuthStore(_coerce(document.data), path=self.path), document.raw

    def _read(self) -> AuthStore | None:
        found = self._read_document()
        return found[0] if found else None

    def _fresh(self) -> AuthStore:
        """A store for an agent that has none yet, seeded from legacy files when present."""
        store = AuthStore.empty(self.path)
        legacy, sources = _legacy_profiles(self.agent_dir, self.legacy_oauth_file)
        if legacy:
            store.data["profiles"].update(legacy)
            store.imported_from = sources
        return store

    def load(self) -> AuthStore:
        """The store as it is now (a new agent's is empty), to read or change. Never writes."""
        return self._read() or self._fresh()

    def snapshot(self) -> AuthStore:
        """The store as it is now, shared and read-only: re-read only when the file changed.

        For the request path, which reads the store on every call.
        """
        cached = _snapshots.get(self.path)
        if cached is not None:
            return cached
        found = self._read_document()
        if found is None:
            store = self._fresh()
            store.read_only = True
            return store
        store, raw = found
        store.read_only = True
        _snapshots.put(self.path, raw, store)
        return store

    def _ensure_exists(self) -> bool:
        """Create the file (seeded from legacy files) so its real path can be locked; True when
        this call created it.

        Created by linking a finished temp file into place, so of two processes doing this
        at once one wins and nobody sees a half-written store. A symlinked store is created
        at the link's target.
        """
        target = write_target(self.path, what="auth profile store")
        if target.exists():
            return False
        ensure_private_dir(target.parent)
        temp = temp_path_for(target)
        write_new_file(temp, dumps(self._fresh().data).encode("utf-8"))
        try:
            os.link(temp, target)
        except FileExistsError:
            return False
        finally:
            temp.unlink()
        return True

    @contextlib.contextmanager
    def transaction(self) -> Iterator[AuthStore]:
        """Hold the lock, yield the store re-read inside it, and save it if it changed.

        If the block raises, nothing is written.
        """
        created = self._ensure_exists()
        with FileLock(self.path, self.lock_options):
            found = self._read_document()
            recreated = found is None  # removed by someone between our create and our lock
            store = self._fresh() if found is None else found[0]
            try:
                if store.version != AUTH_STORE_VERSION:
                    raise ParseError(
                        f"this auth store has version {store.version}; clawdbot_nb writes version "
                        f"{AUTH_STORE_VERSION} only",
                        path=self.path,
                        fix="upgrade clawdbot_nb to a release that knows this store version",
                    )
                before = copy.deepcopy(store.data)
                yield store
            except BaseException:
                # A change that failed leaves no trace, not even the empty store made to lock it.
                if created and found is not None and found[1].data == _read_bytes_quietly(self.path):
                    with contextlib.suppress(OSError):
                        write_target(self.path).unlink()
                raise
            if recreated or store.data != before:
                text = dumps(store.data, finite_numbers=True)
                write_text_atomic(self.path, text, what="auth profile store")

    def update(self, mutate: Callable[[AuthStore], T]) -> T:
        """Run `mutate(store)` inside a transaction and return its result."""
        with self.transaction() as store:
            return mutate(store)
