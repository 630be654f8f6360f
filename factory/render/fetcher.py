"""The only way the PDF renderer may load anything: files under the allowed folders.

Takes the allowed folders (the template set, the shared partials, the brand's assets); gives a
WeasyPrint URL fetcher that serves ``file:`` URLs inside them and ``data:`` URLs, and stops the
rendering of the document (a fatal fetch error) for anything else: another local file, a path
escaping through ``..`` or a symbolic link, ``http:``, ``ftp:``. A template or a record field can
therefore never make the renderer read ``/etc/passwd`` or call the network.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from weasyprint.urls import FatalURLFetchingError, URLFetcher, URLFetcherResponse


class BlockedResource(FatalURLFetchingError):
    """Raised inside WeasyPrint when a document asks for a forbidden resource."""

    def __init__(self, url: str, why: str) -> None:
        self.url = url
        self.why = why
        super().__init__(f"blocked resource {url[:200]!r}: {why}")


class MissingResource(FatalURLFetchingError):
    """Raised inside WeasyPrint when an allowed resource does not exist."""

    def __init__(self, url: str) -> None:
        self.url = url
        super().__init__(f"missing resource {url[:200]!r}")


class SafeFetcher(URLFetcher):
    """A URL fetcher confined to a few folders; every other URL is a fatal error."""

    def __init__(self, allowed: tuple[Path, ...] | list[Path]) -> None:
        super().__init__(timeout=1, allowed_protocols=("file", "data"), fail_on_errors=True)
        self.allowed = tuple(Path(p).resolve() for p in allowed)

    def fetch(self, url: str, headers: object = None) -> URLFetcherResponse:
        scheme = urlsplit(url).scheme.lower()
        if scheme == "data":
            return super().fetch(url, headers)
        if scheme != "file":
            raise BlockedResource(url, f"the {scheme or 'relative'} scheme is not allowed")
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise BlockedResource(url, "remote file URLs are not allowed")
        path = Path(url2pathname(unquote(parts.path))).resolve()
        if not any(path.is_relative_to(root) for root in self.allowed):
            raise BlockedResource(url, "outside the template and asset folders")
        if not path.is_file():
            raise MissingResource(url)
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(path.as_uri(), path.read_bytes(),
                                  headers={"Content-Type": media_type})
