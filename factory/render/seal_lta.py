"""Renew a sealed PDF's evidence: a PAdES B-LTA document timestamp, without changing content.

Takes the sealed PDF bytes, a TSA URL and the trust anchors the existing seal and timestamps
chain to; gives the new bytes: the old ones untouched as a prefix, then (first renewal) the
validation data of the seal and its timestamp in the DSS and a document timestamp over all of
it, or (later renewals) pyHanko's archival-timestamp chain update (validation data of the last
document timestamp, then a new one). Errors: `RetryableSealError` (the TSA, an OCSP responder or
a CRL server did not answer), `SealError` (the existing evidence does not validate).
"""

from __future__ import annotations

import io
from typing import Any

from factory.errors import RetryableSealError, SealError
from factory.render.seal import _metadata_untouched

FIELD_NAME = "DocfactoryArchiveTimestamp"


def add_document_timestamp(data: bytes, tsa_url: str, trust: list[Any],
                           timeout: float = 10.0) -> bytes:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.general import SigningError
    from pyhanko.sign.signers.pdf_signer import PdfTimeStamper
    from pyhanko.sign.timestamps import HTTPTimeStamper
    from pyhanko.sign.timestamps.common_utils import TimestampRequestError
    from pyhanko.sign.validation import add_validation_info
    from pyhanko_certvalidator import ValidationContext
    from pyhanko_certvalidator.errors import PathValidationError, ValidationError

    from factory.render.seal_asn1 import install

    install()  # the DSS and the timestamp's CMS encoded in linear time (seal_asn1.py)

    def context() -> Any:
        return ValidationContext(trust_roots=list(trust), allow_fetching=True,
                                 revocation_mode="soft-fail")

    try:
        with _metadata_untouched(IncrementalPdfFileWriter):
            reader = PdfFileReader(io.BytesIO(data), strict=False)
            # one field per renewal: a filled signature field cannot be filled again
            number = len(reader.embedded_timestamp_signatures) + 1
            stamper = PdfTimeStamper(HTTPTimeStamper(tsa_url, timeout=timeout),
                                     field_name=f"{FIELD_NAME}{number}")
            if reader.embedded_timestamp_signatures:
                chained: io.BytesIO = stamper.update_archival_timestamp_chain(
                    reader, context(), in_place=False)
                return chained.getvalue()
            signature = reader.embedded_regular_signatures[0]
            out: io.BytesIO = add_validation_info(signature, context(), skip_timestamp=False,
                                                  in_place=False)
            writer = IncrementalPdfFileWriter(out, strict=False)
            stamper.timestamp_pdf(writer, "sha256", validation_context=context(),
                                  in_place=True)
            return out.getvalue()
    except TimestampRequestError as exc:
        raise RetryableSealError(f"the time-stamping authority {tsa_url} did not answer:"
                                 f" {exc.__cause__ or exc}") from None
    except (PathValidationError, ValidationError) as exc:
        raise SealError(f"the existing seal or timestamp does not validate: {exc}") from None
    except SigningError as exc:
        raise SealError(f"adding the document timestamp failed: {exc}") from None
    except OSError as exc:
        raise RetryableSealError(f"a validation server did not answer: {exc}") from None
