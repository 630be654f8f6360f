"""asn1crypto encoding a structure built in Python in linear time, for the seal's CMS.

asn1crypto 1.5.1's ``Asn1Value.dump`` reads ``self.contents`` two or three times: for the
value, for its length header and once more per explicit tag. On a value built in Python (not
parsed from DER) every read re-encodes all of its children, each of which does the same, so one
dump of a structure nested ``d`` levels deep encodes its leaves 2**d to 3**d times (upstream:
wbond/asn1crypto#256, open; no release fixes it). pyHanko builds every CMS it signs that way:
the signed attributes (the ESS signing-certificate attribute is eight levels deep), the
SignerInfo that holds them and the SignedData around it. Measured on the reference statements
(2026-12-01, bench/bench_seal.py): 16 of the 19 ms of CPU that building one B-B CMS took.

`install` gives ``Asn1Value.dump`` the same method reading ``contents`` once and reusing it:
the same bytes (the contents cannot change between the reads: nothing runs between them but the
header encoding), a single encoding per node. It replaces only the pinned version's method
(checked by version and by the original's source), is idempotent and process-wide: it only
makes encoding faster, for every caller of asn1crypto (pyHanko's validation included).
Hand-written because asn1crypto has no option for it and its maintainers have not fixed it;
``tests/render/test_seal_asn1.py`` checks it gives the original's bytes and encodes each node
of a built structure once.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

#: the asn1crypto version whose ``Asn1Value.dump`` this replaces, and a SHA-256 of the
#: original's source: another version (or a fixed one) keeps its own method
VERSION = "1.5.1"
_ORIGINAL_SOURCE = "6a16147b803e8c2a2e3b26b2aedc31dc1df78313a8fab321bf2bfb719308d303"
_LOCK = threading.Lock()


def _source_digest(function: Any) -> str:
    import inspect

    try:
        return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()
    except (OSError, TypeError):  # no source to compare: leave the method alone
        return ""


def install() -> bool:
    """Replace asn1crypto's ``Asn1Value.dump`` (once per process); False when this asn1crypto
    is not the version it was written for, which then keeps its own method."""
    import asn1crypto
    from asn1crypto import core

    with _LOCK:
        current = core.Asn1Value.dump
        if getattr(current, "_docfactory_single_read", False):
            return True
        if asn1crypto.__version__ != VERSION or _source_digest(current) != _ORIGINAL_SOURCE:
            return False
        dump_header = core._dump_header  # asn1crypto's own header encoder

        def dump(self: Any, force: bool = False) -> bytes:
            # asn1crypto 1.5.1's Asn1Value.dump, with self.contents read once into `contents`
            contents = self.contents
            if self._header is not None and self._header[-1:] == b"\x80":
                force = True  # an indefinite length (BER) is re-encoded, as upstream
            if self._header is None or force:
                if isinstance(self, core.Constructable) and self._indefinite:
                    self.method = 0
                header = dump_header(self.class_, self.method, self.tag, contents)
                if self.explicit is not None:
                    for class_, tag in self.explicit:
                        header = dump_header(class_, 1, tag, header + contents) + header
                self._header = header
                self._trailer = b""
            encoded: bytes = self._header + contents + self._trailer
            return encoded

        dump.__doc__ = current.__doc__
        dump._docfactory_single_read = True  # type: ignore[attr-defined]
        dump._docfactory_original = current  # type: ignore[attr-defined]
        core.Asn1Value.dump = dump
        return True


def original_dump() -> Any:
    """asn1crypto's own ``Asn1Value.dump`` (for the tests comparing the two)."""
    from asn1crypto import core

    current = core.Asn1Value.dump
    return getattr(current, "_docfactory_original", current)
