"""A template set, its brand, and the content hash that names their version.

Takes the templates and assets folders plus a set name and a brand name; gives a `TemplateSet`
that knows every file the rendering can read (the set's folder, the shared partials in
``templates/_shared`` and the brand's folder under ``assets/``), the SHA-256 over all of them
(the *template version* stored with every archived document), and a deterministic zip snapshot of
them so that any version can be rendered again years later. A symbolic link whose real path
leaves those folders is refused when the set is loaded (`check_links`), naming the link; links
that stay inside are followed by the snapshot as by the renderer, so the version covers exactly
what rendering can read.
"""

from __future__ import annotations

import hashlib
import io
import os
import tomllib
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from factory.errors import ConfigError
from factory.templates.blocks import BlockSpec

SHARED = "_shared"
_SKIP_PARTS = {"__pycache__", ".git", ".DS_Store"}
_ZIP_TIME = (2000, 1, 1, 0, 0, 0)


class SetManifest(BaseModel):
    """``templates/<set>/set.toml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    document: str = "document.html"
    stylesheets: list[str] = Field(default_factory=lambda: ["style.css"])
    email_html: str = "email.html"
    email_text: str = "email.txt"
    email_subject: str = "email.subject"
    sms: str = "sms.txt"
    #: An interactive letter's editable blocks (`factory.templates.blocks`); none: a batch set.
    blocks: tuple[BlockSpec, ...] = ()
    #: Four eyes: a letter of this set is sent only once a second person approved it.
    require_second_person: bool = False

    @property
    def interactive(self) -> bool:
        return bool(self.blocks)
    #: Named variants of the document: ``premium = "premium.html"`` (a template of the set,
    #: usually extending ``document``); a job's ``[[segments]]`` pick one with ``variant``.
    variants: dict[str, str] = Field(default_factory=dict)

    def document_for(self, variant: str | None) -> str:
        """The document template of ``variant`` (None: the set's own document)."""
        return self.variants[variant] if variant else self.document


@dataclass(frozen=True)
class TemplateSet:
    """The files one document type is rendered from, and their version."""

    name: str
    brand: str
    templates_dir: Path
    assets_dir: Path
    manifest: SetManifest = field(default_factory=SetManifest)

    @classmethod
    def load(cls, templates_dir: Path, assets_dir: Path, name: str, brand: str) -> TemplateSet:
        set_dir = templates_dir / name
        if not set_dir.is_dir():
            raise ConfigError(f"{set_dir}: template set {name!r} not found")
        if not (assets_dir / brand).is_dir():
            raise ConfigError(f"{assets_dir / brand}: brand {brand!r} not found")
        manifest_path = set_dir / "set.toml"
        manifest = SetManifest()
        if manifest_path.is_file():
            try:
                manifest = SetManifest.model_validate(
                    tomllib.loads(manifest_path.read_text(encoding="utf-8")))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise ConfigError(f"{manifest_path}: not valid TOML: {exc}") from None
            except ValidationError as exc:
                problems = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                            for e in exc.errors(include_url=False)]
                raise ConfigError(f"{manifest_path}: invalid template set manifest",
                                  problems) from None
        result = cls(name, brand, templates_dir.resolve(), assets_dir.resolve(), manifest)
        result.check_links()
        result.check_files()
        return result

    @property
    def set_dir(self) -> Path:
        return self.templates_dir / self.name

    @property
    def shared_dir(self) -> Path:
        return self.templates_dir / SHARED

    @property
    def brand_dir(self) -> Path:
        return self.assets_dir / self.brand

    @property
    def roots(self) -> tuple[Path, ...]:
        """The only folders the renderer may read from."""
        return (self.set_dir, self.shared_dir, self.brand_dir)

    def stylesheet_path(self, name: str) -> Path:
        """``shared/x.css`` is a shared stylesheet; any other name is in the set's folder."""
        if name.startswith("shared/"):
            return self.shared_dir / name.removeprefix("shared/")
        return self.set_dir / name

    def check_files(self) -> None:
        problems = []
        if not (self.set_dir / self.manifest.document).is_file():
            problems.append(f"{self.set_dir / self.manifest.document}: document template missing")
        for variant, name in self.manifest.variants.items():
            path = (self.set_dir / name).resolve()
            if not path.is_relative_to(self.set_dir.resolve()):
                problems.append(f"{self.set_dir / 'set.toml'}: variant {variant!r}: {name!r} is"
                                " outside the template set")
            elif not path.is_file():
                problems.append(f"{self.set_dir / name}: template of variant {variant!r} missing")
        for sheet in self.manifest.stylesheets:
            path = self.stylesheet_path(sheet).resolve()
            if not any(path.is_relative_to(root) for root in (self.set_dir, self.shared_dir)):
                problems.append(f"{self.set_dir / 'set.toml'}: stylesheet {sheet!r} is outside"
                                " the template set and templates/_shared")
            elif not path.is_file():
                problems.append(f"{path}: stylesheet listed in set.toml missing")
        names = [block.name for block in self.manifest.blocks]
        problems.extend(f"{self.set_dir / 'set.toml'}: block {name!r} is declared twice"
                        for name in sorted({n for n in names if names.count(n) > 1}))
        if self.manifest.require_second_person and not self.manifest.blocks:
            problems.append(f"{self.set_dir / 'set.toml'}: require_second_person needs"
                            " editable [[blocks]] (it applies to interactive letters)")
        if problems:
            raise ConfigError(f"template set {self.name!r} is incomplete", problems)

    def check_channels(self, channels: list[str]) -> None:
        """Refuse a job whose channels need templates this set does not have."""
        needed = {"email": [self.manifest.email_html, self.manifest.email_text,
                            self.manifest.email_subject], "sms": [self.manifest.sms]}
        problems = [f"{self.set_dir / name}: {channel} template missing (channel {channel!r}"
                    " is in the job's channels)"
                    for channel in channels for name in needed.get(channel, [])
                    if not (self.set_dir / name).is_file()]
        if problems:
            raise ConfigError(f"template set {self.name!r} is incomplete", problems)

    def check_variants(self, wanted: dict[str, str]) -> None:
        """Refuse a job whose segments ({segment: variant}) name a variant the set lacks."""
        known = self.manifest.variants
        problems = [f"segment {segment!r}: template variant {variant!r} is not a variant of"
                    f" template set {self.name!r} (its variants:"
                    f" {', '.join(sorted(known)) or 'none'}; see [variants] in"
                    f" {self.set_dir / 'set.toml'})"
                    for segment, variant in wanted.items() if variant not in known]
        if problems:
            raise ConfigError(f"template set {self.name!r} lacks a variant the job's segments"
                              " name", problems)

    def allowed_roots(self) -> tuple[Path, ...]:
        """The real paths every file rendering reads must lie in: the set's folder, the shared
        partials and the brand's folder, each inside its own parent (templates/, assets/)."""
        return tuple(root.resolve() for root in self.roots)

    def check_links(self) -> None:
        """Refuse a symbolic link (a file or a folder) whose real path leaves the allowed
        folders: a template could otherwise include, and the snapshot keep, any file on the
        machine. Links that stay inside are followed, by rendering and snapshot alike."""
        problems = []
        for root, parent, label in ((self.set_dir, self.templates_dir, "templates/"),
                                    (self.shared_dir, self.templates_dir, "templates/"),
                                    (self.brand_dir, self.assets_dir, "assets/")):
            if root.exists() and not root.resolve().is_relative_to(parent):
                problems.append(f"{root}: a symbolic link to {root.resolve()}, outside {label}")
        if not problems:
            allowed = self.allowed_roots()
            for _prefix, root in self._prefixed_roots():
                problems.extend(f"{link}: a symbolic link to {target}, outside the template"
                                " set, templates/_shared and the brand's folder"
                                for link, target in _escaping_links(root, allowed))
        if problems:
            raise ConfigError(f"template set {self.name!r} (brand {self.brand!r}) reads files"
                              " outside its folders", problems)

    def _prefixed_roots(self) -> tuple[tuple[str, Path], ...]:
        return ((f"templates/{self.name}", self.set_dir),
                (f"templates/{SHARED}", self.shared_dir),
                (f"assets/{self.brand}", self.brand_dir))

    def files(self) -> list[tuple[str, Path]]:
        """(archive name, path) of every file rendering can read, sorted by archive name:
        links inside the allowed folders are followed (a linked folder's files are named by
        the link, as the template loader finds them); `check_links` refused the others."""
        found = []
        allowed = self.allowed_roots()
        for prefix, root in self._prefixed_roots():
            if not root.is_dir():
                continue
            for path in _walk(root):
                real = path.resolve()
                if not any(real.is_relative_to(r) for r in allowed):
                    raise ConfigError(f"{path}: a symbolic link to {real}, outside the template"
                                      " set, templates/_shared and the brand's folder")
                if not (_SKIP_PARTS & set(path.parts)) \
                        and not path.name.endswith((".pyc", "~")):
                    found.append((f"{prefix}/{path.relative_to(root).as_posix()}", path))
        return sorted(found)

    @cached_property
    def version(self) -> str:
        """SHA-256 over every file's name and content: the template-set version."""
        return version_of((name, path.read_bytes()) for name, path in self.files())

    def snapshot(self) -> bytes:
        """A deterministic zip of every file; the same version always gives the same bytes."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, path in self.files():
                info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, path.read_bytes())
        return buffer.getvalue()


def _walk(root: Path) -> list[Path]:
    """Every file under ``root``, following links to folders (each real folder once, so a
    link to an ancestor cannot loop)."""
    files: list[Path] = []
    seen: set[Path] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        real = folder.resolve()
        if real in seen:
            continue
        seen.add(real)
        try:
            entries = sorted(folder.iterdir())
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir():
                stack.append(entry)
            elif entry.is_file():
                files.append(entry)
    return files


def _escaping_links(root: Path, allowed: tuple[Path, ...], seen: set[Path] | None = None
                    ) -> list[tuple[Path, Path]]:
    """(link, real path) of each symbolic link under ``root`` that leads outside ``allowed``
    (a dangling link counts: what it will point to is not known)."""
    seen = set() if seen is None else seen
    if root.resolve() in seen:
        return []
    seen.add(root.resolve())
    found: list[tuple[Path, Path]] = []
    for folder, dirs, names in os.walk(root, followlinks=False):
        for name in dirs + names:
            path = Path(folder) / name
            if path.is_symlink():
                real = path.resolve()
                if not real.exists() or not any(real.is_relative_to(r) for r in allowed):
                    found.append((path, real))
                elif real.is_dir():
                    found.extend(_escaping_links(path, allowed, seen))
    return found


def version_of(files: Iterable[tuple[str, bytes]]) -> str:
    """The version of (archive name, content) pairs, given sorted by name."""
    digest = hashlib.sha256()
    for name, data in files:
        digest.update(name.encode("utf-8") + b"\0")
        digest.update(hashlib.sha256(data).digest())
    return digest.hexdigest()


def snapshot_version(data: bytes) -> str:
    """The version of a snapshot zip made by `TemplateSet.snapshot`, from its contents alone:
    equal to the version it was made from unless a file in it was changed."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = sorted(info.filename for info in archive.infolist() if not info.is_dir())
            return version_of((name, archive.read(name)) for name in names)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ConfigError(f"not a template-set snapshot: {exc}") from None


def short_version(version: str) -> str:
    return version[:12]
