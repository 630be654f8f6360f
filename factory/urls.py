"""The one way a URL is shown: secrets masked, for every URL that is logged, printed or stored.

Takes a URL (or a text that may hold URLs); gives it with the password of its user part, a user
part that is the whole credential (``https://TOKEN@gateway/``), and the values of query
parameters whose names look secret (``api_key``, ``token``, ``password``, ``sig``, ...) replaced
by ``***``. Everything else (scheme, host, port, path, harmless parameters) is kept, so a
message still says which server it was. Hand-written on `urllib.parse`: no library in our
dependencies masks query parameters, and SQLAlchemy's ``hide_password`` covers only the user
part.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

MASK = "***"
#: Query parameter names that carry a credential (matched anywhere in the name, any case).
SECRET_NAME = re.compile(
    r"key|token|secret|passw|pwd|auth|credential|signature|^sig$|session|bearer|jwt|otp",
    re.IGNORECASE)
#: A URL inside free text: a scheme, ``://`` and everything up to white space or a quote.
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>()]*[^\s'\"<>().,:;]")


def mask_url(url: str) -> str:
    """``url`` with its credentials replaced by ``***`` (see the module docstring)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a malformed port)
    except ValueError:
        return MASK  # not parseable: show nothing rather than a secret
    netloc = parts.netloc
    if "@" in netloc:
        host = netloc.rsplit("@", 1)[1]
        if parts.password is not None:
            netloc = f"{parts.username}:{MASK}@{host}" if parts.username else f"{MASK}@{host}"
        elif parts.scheme in ("http", "https"):
            netloc = f"{MASK}@{host}"  # a gateway's user part alone is its token
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(SECRET_NAME.search(name) for name, _ in pairs):
            query = "&".join(
                f"{quote(name, safe='')}={MASK if SECRET_NAME.search(name) else quote(value)}"
                for name, value in pairs)
    fragment = MASK if parts.fragment and SECRET_NAME.search(parts.fragment) else parts.fragment
    if (netloc, query, fragment) == (parts.netloc, parts.query, parts.fragment):
        return url
    # Built by hand: urlunsplit would turn sqlite:////abs/path into sqlite://abs/path.
    text = f"{parts.scheme}://{netloc}{parts.path}" if "://" in url else \
        urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    return text + (f"?{query}" if query else "") + (f"#{fragment}" if fragment else "")


def mask_urls_in(text: str) -> str:
    """``text`` with every URL in it masked (error messages that quote a URL)."""
    return _URL_IN_TEXT.sub(lambda match: mask_url(match.group(0)), text)


__all__ = ["MASK", "mask_url", "mask_urls_in"]
