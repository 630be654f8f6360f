"""Telling a job's owners how its run ended, or that it stalled: webhook and e-mail.

Takes the job's `NotifySpec`, a run (its report as a dict, or the index row of a stalled
run), the environment (the HMAC key, the SMTP URL); gives `notify_run` (called when a run
ends) and `StallWatch` (called on a timer by the scheduler: a live run whose counts did not
move for ``stalled_minutes`` is notified once). What is sent is `summary`: run id, job,
period, event, counts, duration, docs/s and a link to the run page; nothing else (no record,
no reason, no URL of a backend).

The webhook is a POST of the summary as JSON with ``X-Docfactory-Timestamp`` and
``X-Docfactory-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`` (the key from
``secret_env``; receivers refuse old timestamps against replays), the scheme GitHub and Stripe
use. E-mail goes by `smtplib` (a plain text summary; the delivery channel's machinery, with
its archive and idempotency, is for customers' documents, not for operators' notes).
A notification that cannot be sent is logged, never raised: it must not fail the run.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import time
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any
from urllib.parse import unquote, urlsplit

from factory.archive.protocols import HasRuns
from factory.jobs import JobSpec
from factory.jobs.notify import NotifySpec
from factory.urls import mask_url

LOG = logging.getLogger("docfactory.notify")
TIMEOUT = 10.0


def event_of(report: Mapping[str, Any]) -> str:
    """completed | problems | failed | interrupted, from a report dict."""
    status = report.get("status")
    if status == "failed" or report.get("error"):
        return "failed"
    if status == "interrupted" or report.get("interrupted"):
        return "interrupted"
    counts = report.get("counts", {})
    return "problems" if counts.get("rejected") or counts.get("failed") else "completed"


def summary(report: Mapping[str, Any], event: str, link: str | None) -> dict[str, Any]:
    counts = report.get("counts", {})
    keep = ("input", "archived", "rejected", "failed", "skipped", "pending", "pages")
    run_id = report.get("run_id")
    return {
        "event": event, "run_id": run_id, "job": report.get("job"),
        "period": report.get("period"), "status": report.get("status"),
        "counts": {name: counts.get(name, 0) for name in keep},
        "started_at": report.get("started_at"), "finished_at": report.get("finished_at"),
        "elapsed_seconds": report.get("elapsed_seconds"),
        "docs_per_second": report.get("docs_per_second"),
        "link": f"{link.rstrip('/')}/runs/{run_id}" if link else None,
    }


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def send_webhook(url: str, payload: Mapping[str, Any], secret: bytes | None) -> int:
    import httpx

    body = json.dumps(payload, sort_keys=True).encode()
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", "X-Docfactory-Timestamp": timestamp,
               "User-Agent": "docfactory-notify"}
    if secret:
        headers["X-Docfactory-Signature"] = sign(secret, timestamp, body)
    response = httpx.post(url, content=body, headers=headers, timeout=TIMEOUT)
    response.raise_for_status()
    return response.status_code


def send_email(transport: str, sender: str, owners: list[str], payload: Mapping[str, Any]
               ) -> None:
    parts = urlsplit(transport)
    message = EmailMessage()
    message["From"], message["To"] = sender, ", ".join(owners)
    message["Subject"] = (f"docfactory: {payload['job']} {payload['period']}"
                          f" {payload['event']} ({payload['run_id']})")
    counts = payload["counts"]
    lines = [f"Run {payload['run_id']} of {payload['job']} for {payload['period']}:"
             f" {payload['event']}.", "",
             *(f"{name}: {value}" for name, value in counts.items())]
    if payload.get("elapsed_seconds") is not None:
        lines.append(f"duration: {payload['elapsed_seconds']:.0f} s")
    if payload.get("link"):
        lines += ["", str(payload["link"])]
    message.set_content("\n".join(lines) + "\n")
    port = parts.port or (465 if parts.scheme == "smtps" else 25)
    client_class = smtplib.SMTP_SSL if parts.scheme == "smtps" else smtplib.SMTP
    with client_class(parts.hostname or "localhost", port, timeout=TIMEOUT) as client:
        if parts.scheme == "smtp" and port == 587:
            client.starttls()
        if parts.username:
            client.login(unquote(parts.username), unquote(parts.password or ""))
        client.send_message(message)


def deliver(spec: NotifySpec, payload: Mapping[str, Any], env: Mapping[str, str]) -> list[str]:
    """Send ``payload`` where ``spec`` says; what went out (``webhook``, ``email``)."""
    sent = []
    context = {"run_id": payload.get("run_id"), "job": payload.get("job"),
               "status": payload.get("event")}
    if spec.webhook:
        secret = env.get(spec.secret_env)
        try:
            send_webhook(spec.webhook, payload, secret.encode() if secret else None)
            sent.append("webhook")
        except Exception as exc:  # never fail a run for a notification
            LOG.error("webhook %s not sent: %s", mask_url(spec.webhook), type(exc).__name__,
                      extra=context)
    transport = spec.transport or env.get("FACTORY_NOTIFY_SMTP_URL")
    if spec.email and transport:
        try:
            send_email(transport, spec.sender, spec.email, payload)
            sent.append("email")
        except Exception as exc:
            LOG.error("notification e-mail via %s not sent: %s", mask_url(transport),
                      type(exc).__name__, extra=context)
    elif spec.email:
        LOG.error("notification e-mail not sent: no transport (set FACTORY_NOTIFY_SMTP_URL or"
                  " [notify] transport)", extra=context)
    return sent


def notify_run(job: JobSpec, report: Mapping[str, Any], env: Mapping[str, str]) -> list[str]:
    """The call when a run ends (``report``: `RunReport.as_dict()`); dry runs say nothing."""
    spec = job.notify
    if spec is None or report.get("dry_run"):
        return []
    event = event_of(report)
    if event not in spec.on:
        return []
    return deliver(spec, summary(report, event, spec.link), env)


class StallWatch:
    """Live runs whose counts did not move for ``stalled_minutes``: notified once each."""

    def __init__(self) -> None:
        self.seen: dict[str, tuple[str, float]] = {}
        self.told: set[str] = set()

    def check(self, jobs: list[JobSpec], index: HasRuns, now: float,
              env: Mapping[str, str]) -> list[str]:
        """Run ids notified as stalled by this call."""
        told: list[str] = []
        by_name = {job.name: job for job in jobs if job.notify and "stalled" in job.notify.on}
        if not by_name:
            return told
        for run in index.runs.recent(list(by_name), limit=200):
            if run.status != "running" or run.run_id in self.told:
                continue
            report = run.report or {}
            moved = json.dumps(report.get("counts", {}), sort_keys=True)
            last = self.seen.get(run.run_id)
            if last is None or last[0] != moved:
                self.seen[run.run_id] = (moved, now)
                continue
            spec = by_name[run.job].notify
            assert spec is not None
            if now - last[1] >= spec.stalled_minutes * 60:
                payload = summary({**report, "run_id": run.run_id, "job": run.job,
                                   "period": run.period, "status": "running"},
                                  "stalled", spec.link)
                deliver(spec, payload, env)
                self.told.add(run.run_id)
                told.append(run.run_id)
        return told
