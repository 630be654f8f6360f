"""Send-time fallback on real servers on loopback: an SMTP server that refuses (550) sends the
record, once, to the next usable channel of its route (print), recorded in ``deliveries`` with
the cause; a DSN that comes back to a mailbox later, read by ``docfactory fallbacks``; both
idempotent (a rerun sends nothing again)."""

from __future__ import annotations

import json
import mailbox
from pathlib import Path

from click.testing import CliRunner

from factory.archive import open_index
from factory.archive.rows import DeliveryRow
from factory.cli.app import cli, load_commands
from factory.config import Settings
from tests.pipeline.test_channels_run import customers, renewal_job, run

load_commands()

#: Prefers email; no SMS consent: print is the route's next usable channel.
CASE = ("C000201", "cs", {"preferred_channel": "email", "consent_sms": "false"})
OTHER = ("C000202", "en", {"preferred_channel": "email", "consent_sms": "false"})


def rows(settings: Settings) -> dict[tuple[str, str], DeliveryRow]:
    index = open_index(settings.default_index_url)
    try:
        return {(r.record_key, r.channel): r for r in index.deliveries.where()}
    finally:
        index.close()


def test_a_permanent_smtp_refusal_falls_back_to_print_once(
        tmp_path: Path, sample_dir: Path, settings: Settings, smtp_server) -> None:
    job = renewal_job(tmp_path / "jobs", customers(tmp_path / "data", sample_dir, [CASE]))
    settings = settings.with_overrides(email_url=smtp_server.url())
    smtp_server.handler.replies = ["550 5.1.1 <c000201@example.com>: mailbox unavailable"]
    report = run(job, settings)
    assert report.counts.archived == 1 and report.counts.failed == 0 and report.balanced
    assert report.channels["print"].queued == 1
    assert report.channels["email"].suppressed == 1
    assert smtp_server.messages == []
    found = rows(settings)
    email, paper = found[("C000201", "email")], found[("C000201", "print")]
    assert email.status == "fell_back"
    assert "550 5.1.1" in email.reason and email.reason.endswith("fell back to print")
    assert paper.status == "queued"
    assert paper.reason.startswith("fallback from email: refused at send") and \
        "550" in paper.reason
    attempts = email.attempts
    again = run(job, settings)  # nothing is sent again, nothing queued twice
    assert again.counts.skipped == 1 and again.counts.archived == 0, again.as_dict()
    assert rows(settings)[("C000201", "email")].attempts == attempts
    assert smtp_server.messages == []


def test_without_a_usable_next_channel_the_refusal_fails_the_record(
        tmp_path: Path, sample_dir: Path, settings: Settings, smtp_server) -> None:
    job = renewal_job(tmp_path / "jobs", customers(tmp_path / "data", sample_dir, [CASE]),
                      routing__fallback=["email"])
    settings = settings.with_overrides(email_url=smtp_server.url())
    smtp_server.handler.replies = ["550 5.1.1 mailbox unavailable"]
    report = run(job, settings)
    assert report.counts.failed == 1 and report.balanced
    assert rows(settings)[("C000201", "email")].status == "failed"
    assert ("C000201", "print") not in rows(settings)


def dsn(recipient: str) -> bytes:
    """A delivery status notification (RFC 3464) as a mail server sends it back."""
    return f"""From: MAILER-DAEMON@mx.example
To: care@northwind.example
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="BOUNDARY"

--BOUNDARY
Content-Type: text/plain

Your message could not be delivered to one or more recipients.

--BOUNDARY
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example

Final-Recipient: rfc822; {recipient}
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 user unknown

--BOUNDARY--
""".replace("\n", "\r\n").encode()


def test_a_dsn_in_the_mailbox_later_falls_back_once_idempotently(
        tmp_path: Path, sample_dir: Path, settings: Settings, smtp_server) -> None:
    job = renewal_job(tmp_path / "jobs", customers(tmp_path / "data", sample_dir,
                                                   [CASE, OTHER]))
    settings = settings.with_overrides(email_url=smtp_server.url())
    report = run(job, settings)
    assert report.counts.archived == 2 and len(smtp_server.messages) == 2
    box = mailbox.Maildir(str(tmp_path / "bounces"), create=True)
    box.add(dsn("c000201@example.com"))
    box.add(dsn("somebody-else@example.org"))
    env = {"FACTORY_VAR": str(settings.var_dir), "FACTORY_HOME": str(settings.root),
           "FACTORY_EMAIL_URL": smtp_server.url()}
    args = ["-q", "fallbacks", str(job.path), "--period", "2026-12", "--mailbox",
            str(tmp_path / "bounces")]
    first = CliRunner().invoke(cli, args, env=env, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    summary = json.loads(first.output)
    assert summary["dsn_messages"] == 2 and summary["dsn_matched"] == 1
    assert [o["record_key"] for o in summary["outcomes"]] == ["C000201"]
    assert summary["outcomes"][0]["channels"]["print"] == "done"
    found = rows(settings)
    assert found[("C000201", "email")].status == "fell_back"
    assert "DSN" in found[("C000201", "email")].reason
    assert found[("C000201", "print")].status == "queued"
    assert found[("C000202", "email")].status == "sent"
    assert ("C000202", "print") not in found
    second = CliRunner().invoke(cli, args, env=env, catch_exceptions=False)
    again = json.loads(second.output)
    assert again["dsn_matched"] == 0 and again["pending"] == 0 and again["outcomes"] == []
    assert len(smtp_server.messages) == 2  # no email was sent again


def test_a_gateway_report_of_an_undeliverable_sms_falls_back_once(
        tmp_path: Path, sample_dir: Path, sms_gateway) -> None:
    import hashlib
    import hmac

    import httpx

    from tests.archive_fixtures import Built, start_server

    built = Built(tmp_path / "project")
    case = ("C000301", "uk", {"preferred_channel": "sms", "consent_email": "false"})
    job = renewal_job(built.jobs, customers(tmp_path / "data", sample_dir, [case]))
    settings = built.settings.with_overrides(sms_url=sms_gateway.url())
    report = run(job, settings)
    assert report.counts.archived == 1 and len(sms_gateway.delivered) == 1
    key = sms_gateway.requests[0]["headers"]["Idempotency-Key"]
    secret = "gateway-webhook-secret"
    server = start_server(built, env={"FACTORY_SMS_WEBHOOK_SECRET": secret,
                                      "FACTORY_API_AUTH_FAILURES": "100000"})
    try:
        body = json.dumps({"reports": [{"key": key, "status": "undeliverable",
                                        "reason": "absent subscriber"},
                                       {"key": "not-ours", "status": "undeliverable"}]})
        signature = hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
        with httpx.Client(base_url=server.url, timeout=30) as client:
            def post(sig: str) -> httpx.Response:
                return client.post("/hooks/sms-reports", content=body, headers={
                    "Content-Type": "application/json", "X-Signature": f"sha256={sig}"})

            assert post("0" * 64).status_code == 401
            assert post(signature[:-1] + "0").status_code == 401
            first = post(signature)
            assert first.status_code == 200, first.text
            assert first.json() == {"received": 2, "recorded": 1}
            assert post(signature).json()["recorded"] == 0  # the same report again
    finally:
        assert server.stop() == 0
    found = rows(settings)
    assert found[("C000301", "sms")].status == "bounced"
    assert "absent subscriber" in found[("C000301", "sms")].reason
    env = {**built.env(), "FACTORY_SMS_URL": sms_gateway.url()}
    args = ["-q", "fallbacks", str(job.path), "--period", "2026-12"]
    first_run = json.loads(CliRunner().invoke(cli, args, env=env,
                                              catch_exceptions=False).output)
    assert first_run["outcomes"][0]["channels"]["print"] == "done"
    found = rows(settings)
    assert found[("C000301", "sms")].status == "fell_back"
    assert found[("C000301", "print")].reason.startswith("fallback from sms: undeliverable")
    again = json.loads(CliRunner().invoke(cli, args, env=env, catch_exceptions=False).output)
    assert again["pending"] == 0 and len(sms_gateway.delivered) == 1
