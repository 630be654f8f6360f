"""Object stores: where archived bytes live.

Takes storage keys and bytes; gives them back byte for byte. `Store` is the protocol every
backend implements; `FileStore` (``file://`` URLs, the embedded default) writes each object to
a temporary name in the same folder, fsyncs it and links it into place, so a reader or a
crash never sees half a file. An archived object is immutable: `put` on a key that exists is a
no-op when the bytes are the same and an `ArchiveError` when they differ (writers use names
unique to their attempt, so this never happens in normal work). A kill -9 during a write can
leave a temporary file behind: `FileStore.temp_objects` lists them (``archive verify`` reports
them) and `FileStore.remove_temp` removes them (a run does, for its job and period, at start).
`MemoryStore` is the fake for unit tests. `open_store` picks the
backend by URL scheme; backends with optional dependencies register lazily.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import unquote, urlsplit

from factory.archive.keys import check_key
from factory.errors import ArchiveError, ConfigError, IntegrityError, NoSpaceError, is_no_space
from factory.files import TEMP_PATTERN, write_atomic

_TEMP = re.compile(TEMP_PATTERN)


class Store(Protocol):
    """Where archived objects are written and read back."""

    url: str

    def put(self, key: str, data: bytes, *, media_type: str, sha256: str,
            retain_until: datetime | None = None) -> None:
        """Write ``data`` at ``key`` atomically, after checking it matches ``sha256``; never
        replace other bytes already at ``key`` (the same bytes again: no-op)."""
        ...

    def get(self, key: str) -> bytes:
        """The bytes at ``key``; `ArchiveError` if there is none."""
        ...

    def delete(self, key: str) -> None:
        """Remove ``key``; no error if it is already gone."""
        ...

    def keys(self, prefix: str = "") -> Iterator[str]:
        """Every key under ``prefix``, in no particular order."""
        ...

    def exists(self, key: str) -> bool:
        ...


@runtime_checkable
class TempObjects(Protocol):
    """A store whose writes can leave temporary objects behind (the file store)."""

    def temp_objects(self, prefix: str = "") -> Iterator[str]: ...

    def remove_temp(self, prefix: str) -> int: ...


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def verify(key: str, data: bytes, expected: str) -> None:
    actual = sha256_of(data)
    if actual != expected:
        raise IntegrityError(f"{key}: SHA-256 is {actual}, expected {expected}")


class FileStore:
    """Objects as files under a root folder; atomic writes; read-only once written."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.url = self.root.as_uri()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        if not path.is_relative_to(self.root):
            raise ArchiveError(f"invalid storage key {key!r}")
        return path

    def put(self, key: str, data: bytes, *, media_type: str, sha256: str,
            retain_until: datetime | None = None) -> None:
        verify(key, data, sha256)
        path = self._path(key)
        try:
            write_atomic(path, data, read_only=True, exclusive=True)
        except FileExistsError:
            _same_or_refuse(self.url, key, self.get(key), sha256)
        except OSError as exc:
            kind = NoSpaceError if is_no_space(exc) else ArchiveError
            raise kind(f"{self.url}: cannot write {key}: {exc.strerror}") from None

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise ArchiveError(f"{self.url}: no object {key}") from None
        except OSError as exc:
            raise ArchiveError(f"{self.url}: cannot read {key}: {exc.strerror}") from None

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise ArchiveError(f"{self.url}: cannot delete {key}: {exc.strerror}") from None

    def keys(self, prefix: str = "") -> Iterator[str]:
        for path in self.root.rglob("*"):
            if path.is_file() and not path.name.startswith("."):
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    yield key

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def temp_objects(self, prefix: str = "") -> Iterator[str]:
        """Temporary files a killed writer left under ``prefix`` (their relative paths)."""
        base = self.root / prefix if prefix else self.root
        if not base.is_dir():
            return
        for path in base.rglob(".*.tmp"):
            if path.is_file() and _TEMP.match(path.name):
                yield path.relative_to(self.root).as_posix()

    def remove_temp(self, prefix: str) -> int:
        """Remove the temporary files under ``prefix``; return how many. Only for a prefix no
        live writer uses (a run's job and period, once the run is the live one)."""
        removed = 0
        for name in list(self.temp_objects(prefix)):
            with contextlib.suppress(FileNotFoundError):
                (self.root / name).unlink()
                removed += 1
        return removed


def _same_or_refuse(url: str, key: str, existing: bytes, sha256: str) -> None:
    if sha256_of(existing) != sha256:
        raise ArchiveError(f"{url}: {key} exists with other bytes; an archived object is"
                           " never replaced (a new render is a new revision)")


class MemoryStore:
    """An in-memory store for unit tests of the logic around a store."""

    def __init__(self) -> None:
        self.url = "memory://"
        self.objects: dict[str, bytes] = {}

    def put(self, key: str, data: bytes, *, media_type: str, sha256: str,
            retain_until: datetime | None = None) -> None:
        verify(key, data, sha256)
        if check_key(key) in self.objects:
            _same_or_refuse(self.url, key, self.objects[key], sha256)
            return
        self.objects[key] = bytes(data)

    def get(self, key: str) -> bytes:
        try:
            return self.objects[key]
        except KeyError:
            raise ArchiveError(f"memory: no object {key}") from None

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)

    def keys(self, prefix: str = "") -> Iterator[str]:
        return iter([k for k in self.objects if k.startswith(prefix)])

    def exists(self, key: str) -> bool:
        return key in self.objects


#: URL scheme -> factory. Other modules add schemes with `register_store`.
_STORES: dict[str, Callable[[str], Store]] = {}


def register_store(scheme: str, factory: Callable[[str], Store]) -> None:
    _STORES[scheme] = factory


def _file_store(url: str) -> Store:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise ConfigError(f"archive URL {url!r}: file URLs must be file:///absolute/path")
    return FileStore(Path(unquote(parts.path)))


register_store("file", _file_store)
register_store("memory", lambda url: MemoryStore())


def open_store(url: str) -> Store:
    """The store for ``url``: ``file:///path`` or any scheme registered by a backend."""
    scheme = urlsplit(url).scheme
    if scheme not in _STORES:
        _load_optional(scheme)
    try:
        factory = _STORES[scheme]
    except KeyError:
        known = ", ".join(f"{s}://" for s in sorted(_STORES))
        raise ConfigError(f"archive URL {url!r}: unknown scheme (known: {known})") from None
    return factory(url)


def _load_optional(scheme: str) -> None:
    """Import the module of a backend with optional dependencies, which registers itself."""
    modules = {"s3": "factory.archive.s3"}
    if scheme in modules:
        __import__(modules[scheme])
