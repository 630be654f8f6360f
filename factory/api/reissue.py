"""Reissue one archived document from its web page: the same record, rendered again now.

Takes the document id, the reason and who asks (a principal with ``documents:render``); gives
the new document's id. The record is the one archived with the document (its record
snapshot, read and checked against its recorded SHA-256), the job is found by name in the jobs
folder (as ``POST /api/runs`` finds it) and the period is the document's: the record goes
through the on-demand path of ``POST /api/documents`` (`factory.ondemand.OnDemandService`)
with the reason, so it is a new revision under the job's on-demand run of the day, and the
old revision stays archived, superseded with the reason and the actor. Each attempt is audited
(``document.reissue``). Refused (a `FactoryError` the page shows): no reason, a numbered
document (invoice), a job file no longer there, a document on legal hold, no snapshot.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from factory.api.catalog import load_catalog
from factory.api.ondemand import ondemand_service
from factory.api.security import Principal, services
from factory.compliance.documents import read_verified
from factory.errors import (
    ConfigError,
    DeliveryError,
    FactoryError,
    InputError,
    IntegrityError,
    LegalHoldError,
    NotFoundError,
)
from factory.ondemand import RenderRequest
from factory.runner.run import RunOptions, check_force
from factory.urls import mask_urls_in

ACTION = "document.reissue"


def reissue(request: Request, principal: Principal, document_id: str, reason: str) -> str:
    """Render the document's record again for its period; the new document's id."""
    svc = services(request)
    document = svc.compliance.document(document_id)
    entry = document.entry
    details: dict[str, Any] = {"job": entry.job, "period": entry.period,
                               "record_key": entry.record_key, "previous": entry.document_id,
                               "reason": reason.strip()[:500]}
    try:
        new_id = _reissue(request, principal, document, reason.strip())
    except FactoryError as exc:
        svc.compliance.audit.record(principal.actor, ACTION, outcome="refused",
                                    document_id=entry.document_id,
                                    details={**details, "error": str(exc)[:300]})
        raise
    svc.compliance.audit.record(principal.actor, ACTION, document_id=new_id,
                                run_id=None, details=details)
    return new_id


def _reissue(request: Request, principal: Principal, document: Any, reason: str) -> str:
    svc = services(request)
    entry = document.entry
    if not reason:
        raise InputError("say why the document is reissued: the reason is kept with the"
                         " superseded revision and in the audit log")
    if document.legal_hold:
        raise LegalHoldError(f"document {entry.document_id} is on legal hold: it cannot be"
                             " replaced by a new revision until the hold is released")
    jobs, _problems = load_catalog(svc.config.jobs_dir)
    spec = jobs.get(entry.job)
    svc.policy.check_job(principal.role, entry.job, spec.document_type if spec else None)
    if spec is None:
        raise NotFoundError(f"job {entry.job!r} of document {entry.document_id} is no longer"
                            " in the jobs folder: it cannot be reissued")
    # An invoice keeps its issued number: refused before anything is read or rendered.
    check_force(spec, RunOptions(period=entry.period, force=True, force_reason=reason))
    if not entry.record_storage_key:
        raise ConfigError(f"document {entry.document_id} has no record snapshot; it cannot be"
                          " rendered again")
    snapshot = json.loads(read_verified(svc.compliance.store, entry.record_storage_key,
                                        entry.record_sha256,
                                        f"record snapshot of {entry.document_id}"))
    data = snapshot.get("record") if isinstance(snapshot, dict) else None
    if not isinstance(data, dict):
        raise IntegrityError(f"record snapshot of {entry.document_id} holds no record")
    if str(data.get(spec.key_field, "")).strip() != entry.record_key:
        # Made on demand with an Idempotency-Key: its slot is not the record's own key.
        raise ConfigError(f"document {entry.document_id} was rendered on demand under record"
                          f" key {entry.record_key}; reissue it with POST /api/documents")
    result = ondemand_service(request).render(spec, RenderRequest(
        data=data, period=entry.period, reason=reason, actor=principal.actor))
    if not result.ok or not result.document_id:
        raise DeliveryError(f"the reissue of {entry.document_id} was not archived:"
                            f" {mask_urls_in(result.outcome.reason or 'no document')}")
    return result.document_id
