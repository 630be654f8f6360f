"""Editable blocks of an interactive letter: their declaration, the sanitiser, the template call.

A template set declares the blocks an agent writes in its ``set.toml`` (``[[blocks]]``: name,
label per language, max length, allowed markup out of paragraphs, bold, italics and lists).
Takes what an agent typed for a block; gives the block's HTML sanitised by nh3 (the Ammonia
sanitiser) with the allow-list its ``markup`` derives and no attributes at all, or a
`BlockError` naming the block (too long, required but empty, not a block of the set).

Templates render a block with ``{{ block("answer") }}``: it reads the letter carried with the
record (under `LETTER_KEY`, put there after the record was validated), sanitises it again
(rendering never trusts what was stored) and only then marks it safe. A record without a letter
(a batch record, an API call) is a `TemplateError` naming the block; proofs render the
declared ``sample`` text instead (`with_sample_letter`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import nh3
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup
from pydantic import BaseModel, ConfigDict, Field

from factory.errors import RecordError, TemplateError

#: Where the letter travels in a record's data (not a possible schema field name).
LETTER_KEY = "$letter"
Markup_ = Literal["paragraphs", "bold", "italics", "lists"]
#: Each kind of markup and the elements it allows; nothing else passes (no attributes, so no
#: links, images, styles or event handlers).
MARKUP_TAGS: dict[str, frozenset[str]] = {
    "paragraphs": frozenset({"p"}),
    "bold": frozenset({"strong", "b"}),
    "italics": frozenset({"em", "i"}),
    "lists": frozenset({"ul", "ol", "li"}),
}
#: Elements removed with their content (Ammonia's default, said here so it stays true).
DROPPED_WITH_CONTENT = frozenset({"script", "style"})
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_EMPTY_PARAGRAPH = re.compile(r"<p>\s*</p>")
_BLOCK_START = re.compile(r"^<(p|ul|ol)[\s>]", re.IGNORECASE)


class BlockError(RecordError):
    """A block's text does not fit its declaration (the API answers 422, naming the block)."""

    def __init__(self, block: str, reason: str) -> None:
        super().__init__(reason, f"blocks.{block}")
        self.block = block


class BlockSpec(BaseModel):
    """One ``[[blocks]]`` entry of a template set's ``set.toml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    #: The form's label: one text, or one per language (``{en = "...", cs = "..."}``).
    label: str | dict[str, str]
    max_length: int = Field(2000, ge=1, le=20_000)
    markup: tuple[Markup_, ...] = ("paragraphs", "bold", "italics", "lists")
    required: bool = True
    #: What proofs render in the block (a letter has its own text).
    sample: str = ""

    def label_for(self, locale: str) -> str:
        if isinstance(self.label, str):
            return self.label
        return (self.label.get(locale) or self.label.get("en")
                or next(iter(self.label.values()), self.name))

    @property
    def tags(self) -> frozenset[str]:
        return frozenset().union(*(MARKUP_TAGS[kind] for kind in self.markup))

    def clean(self, text: str) -> str:
        """The block's HTML, sanitised (no length check: see `check`)."""
        text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
        if "paragraphs" in self.markup:
            text = "".join(chunk if _BLOCK_START.match(chunk) else f"<p>{chunk}</p>"
                           for chunk in (c.strip() for c in _BLANK_LINE.split(text)) if chunk)
        cleaned = nh3.clean(text, tags=set(self.tags), attributes={},
                            clean_content_tags=set(DROPPED_WITH_CONTENT), strip_comments=True,
                            link_rel=None, url_schemes=set())
        return _EMPTY_PARAGRAPH.sub("", cleaned).strip()

    def check(self, text: str) -> str:
        """The sanitised HTML of what was typed; `BlockError` when it does not fit."""
        label = self.label_for("en")
        if len(text) > self.max_length:
            raise BlockError(self.name, f"block {self.name!r} ({label}) is {len(text):,}"
                             f" characters long; at most {self.max_length:,} are allowed")
        cleaned = self.clean(text)
        if self.required and not nh3.clean(cleaned, tags=set()).strip():
            raise BlockError(self.name, f"block {self.name!r} ({label}) is empty; write it")
        return cleaned


def check_blocks(specs: Sequence[BlockSpec], texts: Mapping[str, str]) -> dict[str, str]:
    """Every declared block sanitised, in declaration order; `BlockError` for the first that
    does not fit or for a text given for a block the set does not declare."""
    known = {spec.name for spec in specs}
    unknown = sorted(set(texts) - known)
    if unknown:
        raise BlockError(unknown[0], f"block {unknown[0]!r} is not a block of this template"
                         f" set (its blocks: {', '.join(sorted(known)) or 'none'})")
    return {spec.name: spec.check(texts.get(spec.name, "")) for spec in specs}


def letter_of(record: Mapping[str, Any]) -> Mapping[str, Any] | None:
    found = record.get(LETTER_KEY)
    return found if isinstance(found, Mapping) else None


def with_sample_letter(data: Mapping[str, Any], specs: Sequence[BlockSpec]) -> dict[str, Any]:
    """``data`` with a letter of the declared sample texts (for proofs), unless it has one."""
    if not specs or letter_of(data) is not None:
        return dict(data)
    return {**data, LETTER_KEY: {"blocks": {s.name: s.clean(s.sample) for s in specs},
                                 "author": "sample", "letter_id": "sample"}}


def block_global(specs: Sequence[BlockSpec]) -> Callable[..., Markup]:
    """``block(name)`` for a set's templates: the letter's block, sanitised again, as HTML."""
    by_name = {spec.name: spec for spec in specs}

    @pass_context
    def block(context: Context, name: str) -> Markup:
        spec = by_name.get(name)
        if spec is None:
            raise TemplateError(f"block({name!r}): the template set's set.toml declares no"
                                f" such block (declared: {', '.join(by_name) or 'none'})")
        record = context.get("record")
        letter = letter_of(record) if isinstance(record, Mapping) else None
        if letter is None:
            raise TemplateError(f"block({name!r}): this record carries no letter; documents"
                                " of this template set are written one by one (New letter)")
        blocks = letter.get("blocks")
        text = blocks.get(name, "") if isinstance(blocks, Mapping) else ""
        # Marked safe only here, after nh3 cleaned it with the block's own allow-list.
        return Markup(spec.clean(str(text)))  # noqa: S704

    return block
