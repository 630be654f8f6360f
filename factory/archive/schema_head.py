"""The index schema's revisions without importing Alembic: a fast path for start-up.

Takes the migration scripts folder and a SQLAlchemy connection; gives `head_revision` (the
newest revision, read from the ``revision`` / ``down_revision`` lines of the scripts) and
`current_revision` (the database's ``alembic_version`` row). `SqlIndex` uses them to skip
Alembic (about 0.3 s of imports) when the schema is already at the head, which is every
``status``, ``runs`` and worker start but the first. Anything the simple reading cannot decide
(a merge revision, a branch, an unreadable script) returns None, and the caller asks Alembic.
Hand-written rather than Alembic's ScriptDirectory because importing that is the cost avoided;
tests/cli/test_startup.py checks that both agree.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path
from typing import Any

_FIELDS = ("revision", "down_revision")


def _read(script: Path) -> tuple[str, str | None] | None:
    values: dict[str, Any] = {}
    for line in script.read_text(encoding="utf-8").splitlines():
        name, sep, rest = line.partition("=")
        name = name.split(":")[0].strip()  # `down_revision: str | None = "0001"`
        if sep and name in _FIELDS and name not in values:
            try:
                values[name] = ast.literal_eval(rest.strip())
            except (ValueError, SyntaxError):
                return None
    revision, down = values.get("revision"), values.get("down_revision", ...)
    if not isinstance(revision, str) or not (down is None or isinstance(down, str)):
        return None  # a merge revision (tuple) or a script we cannot read plainly
    return revision, down


@functools.cache
def head_revision(migrations: Path) -> str | None:
    """The single head of the linear history in ``migrations/versions``, or None."""
    pairs = []
    for script in sorted((migrations / "versions").glob("*.py")):
        pair = _read(script)
        if pair is None:
            return None
        pairs.append(pair)
    downs = {down for _rev, down in pairs}
    heads = [rev for rev, _down in pairs if rev not in downs]
    return heads[0] if len(heads) == 1 else None


def current_revision(engine: Any) -> str | None:
    """The revision in the database's ``alembic_version`` table (None: no table or no row)."""
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    except SQLAlchemyError:
        return None
    return rows[0][0] if len(rows) == 1 else None


__all__ = ["current_revision", "head_revision"]
