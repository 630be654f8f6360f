"""``[print]``: the print-ready streams of a job (marks, OMR, address fields)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class MarksSpec(_Strict):
    """The inserter's 2D DataMatrix on the front of every sheet; positions in mm from the
    page's top-left corner."""

    datamatrix: bool = True
    x: float = Field(default=5.0, ge=0, le=200)
    y: float = Field(default=120.0, ge=0, le=290)
    module: float = Field(default=0.5, gt=0.2, le=2.0)
    text: bool = True


class OmrSpec(_Strict):
    """Optional OMR dashes (one track, read by the inserter) on the front of every sheet."""

    enabled: bool = False
    x: float = Field(default=198.0, ge=0, le=205)
    y: float = Field(default=100.0, ge=0, le=280)
    length: float = Field(default=8.0, gt=0, le=20)
    pitch: float = Field(default=4.23, gt=1, le=10)
    thickness: float = Field(default=0.4, gt=0.1, le=1.5)


class AddressFields(_Strict):
    """Which record fields hold the postal address (read from the record snapshots)."""

    name: str = "name"
    line1: str = "address_line1"
    line2: str = "address_line2"
    postal_code: str = "postal_code"
    city: str = "city"
    country: str = "country"


class PrintSpec(_Strict):
    """``[print]``: print-ready streams for the mail room, built after the run's records are
    archived (and again with ``docfactory print``)."""

    enabled: bool = False
    #: ``routed`` (the default when the job has a "print" channel): the records that routing
    #: sent to print; ``all``; or ``<field> == <value>`` / ``<field> != <value>``.
    select: str | None = Field(
        default=None, pattern=r"^\s*(all|routed|[A-Za-z_][A-Za-z0-9_]*\s*(==|!=)\s*\S.*)$")
    max_sheets: int = Field(default=500, ge=1, le=100_000)
    envelope_max_sheets: int = Field(default=10, ge=1, le=200)
    duplex: bool = True
    marks: MarksSpec = Field(default_factory=MarksSpec)
    omr: OmrSpec = Field(default_factory=OmrSpec)
    address: AddressFields = Field(default_factory=AddressFields)
