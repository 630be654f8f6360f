"""Header fields with non-ASCII text, encoded and folded exactly by RFC 2047 and RFC 5322.

Takes a header name and its text (a subject, or a display name with an address); gives the
folded header line as sent. Why not the standard library's folding: ``email.policy.SMTP``
writes encoded words of 76 characters for long names (RFC 2047 section 2 allows 75) and,
folding a long Cyrillic subject, can lose the space at the fold. Here:

- ASCII text that fits is written as it is (a display name as a quoted-string when it holds
  specials such as ``,`` ``"`` ``<``, escaped by `email.utils.formataddr`);
- anything else becomes a run of ``=?utf-8?b?...?=`` words, each at most 75 characters, each
  line at most 76, never splitting a UTF-8 character; the spaces of the text are inside the
  words (white space *between* encoded words is not part of the text, RFC 2047 section 6.2),
  so a decoder gives back exactly the text that was encoded. (Python's own address parser,
  ``email.headerregistry``, keeps that white space in a display name against the RFC; mail
  clients and ``email.header.decode_header`` do not. Words end after a space where they can,
  so even such a decoder does not split a name in the middle of a word.)
"""

from __future__ import annotations

import base64
from email.utils import formataddr

#: RFC 2047 section 2: an encoded word is at most 75 characters; a line holding one, 76.
MAX_WORD = 75
MAX_LINE = 76
_PREFIX = "=?utf-8?b?"
_SUFFIX = "?="


def _word(data: bytes) -> str:
    return _PREFIX + base64.b64encode(data).decode("ascii") + _SUFFIX


def _word_length(size: int) -> int:
    return len(_PREFIX) + 4 * ((size + 2) // 3) + len(_SUFFIX)


def encoded_words(text: str, first_room: int) -> list[str]:
    """``text`` as encoded words; the first fits in ``first_room`` characters, others in 75.

    A word ends after a space of the text where one is near (the space inside the word), so a
    decoder that wrongly keeps the folding white space between words (as Python's own address
    parser does) shows two spaces rather than a space in the middle of a name.
    """
    words: list[str] = []
    chunk: list[str] = []
    room = min(first_room, MAX_WORD)
    for char in text:
        if chunk and _word_length(len("".join([*chunk, char]).encode("utf-8"))) > room:
            cut = len(chunk)
            spaces = [i for i, c in enumerate(chunk) if c == " "]
            if spaces and spaces[-1] >= len(chunk) // 2:
                cut = spaces[-1] + 1
            words.append(_word("".join(chunk[:cut]).encode("utf-8")))
            chunk, room = chunk[cut:], MAX_WORD  # a continuation line: one space, the word
        chunk.append(char)
    if chunk or not words:
        words.append(_word("".join(chunk).encode("utf-8")))
    return words


def _needs_encoding(text: str) -> bool:
    return not text.isascii() or any(ch in text for ch in "\r\n") or "=?" in text


def fold_unstructured(name: str, text: str) -> str:
    """``Name: text`` for an unstructured field (Subject), folded, with CRLF."""
    text = " ".join(text.split())
    head = f"{name}: "
    if not _needs_encoding(text) and len(head) + len(text) <= MAX_LINE:
        return head + text + "\r\n"
    if not _needs_encoding(text):
        return _fold_ascii(head, text.split(" "))
    words = encoded_words(text, MAX_LINE - len(head))
    return head + "\r\n ".join(words) + "\r\n"


def fold_address(name: str, display_name: str | None, addr_spec: str) -> str:
    """``Name: display name <addr>``, folded, with CRLF (the address is ASCII)."""
    head = f"{name}: "
    display = " ".join((display_name or "").split())
    if not display:
        return head + addr_spec + "\r\n"
    angle = f"<{addr_spec}>"
    if not _needs_encoding(display):
        plain = formataddr((display, addr_spec))
        if len(head) + len(plain) <= MAX_LINE:
            return head + plain + "\r\n"
    words = encoded_words(display, MAX_LINE - len(head))
    last_line = (head if len(words) == 1 else " ") + words[-1]
    tail = " " + angle if len(last_line) + 1 + len(angle) <= MAX_LINE else "\r\n " + angle
    return head + "\r\n ".join(words) + tail + "\r\n"


def _fold_ascii(head: str, tokens: list[str]) -> str:
    lines, line = [], head.rstrip()
    for token in tokens:
        if len(line) + 1 + len(token) > MAX_LINE and line.strip():
            lines.append(line)
            line = ""
        line += " " + token
    lines.append(line)
    return "\r\n".join(lines) + "\r\n"
