"""Customers list their own documents after a one-time code, over real HTTP (``docfactory
serve`` on loopback), with the code sent through the job's transports to a real SMTP server
(aiosmtpd) and an HTTP SMS gateway on loopback: by customer id, by the email address on
record, by SMS when there is no email; only that customer's documents, in their language,
each behind a signed link to that document; nothing else on the page; the same answer for a
stranger (no enumeration); wrong, reused and exhausted codes refused; expiry; the throttle;
every use audited, never the code."""

from __future__ import annotations

import email
import email.policy
import re
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import tomli_w

from factory.api.codes import CodeBook, CodeRefused
from factory.executors import InlineExecutor
from factory.jobs import load_job
from factory.links import LinkSigner
from factory.runner import RunOptions, run_job
from factory.samples.customers import generate
from tests.archive_fixtures import Built, Server, make_keys, start_server
from tests.conftest import REPO
from tests.support.servers import Gateway, SmtpServer

SECRET = "test-link-secret-" + "y" * 40
PUBLIC = "https://docs.example.test"
CHALLENGE = re.compile(r'name="challenge" value="([^"]+)"')


def notice_job(built: Built) -> Path:
    """The renewal notice, archived as PDF and emailed (or sent by SMS to the outbox)."""
    data = tomllib.loads((REPO / "jobs" / "renewal_notice.toml").read_text(encoding="utf-8"))
    data["source"] = {"type": "csv", "path": str(built.var / "sample" / "customers.csv")}
    data["channels"] = ["pdf", "email", "sms"]
    data["routing"] = {"fallback": ["email", "sms"], "always": ["pdf"]}
    data["print"] = {"enabled": False}
    path = built.jobs / "renewal_notice.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return path


class Site:
    def __init__(self, built: Built, server: Server, smtp: SmtpServer, gateway: Gateway,
                 keys: dict[str, str]) -> None:
        self.built, self.server, self.smtp, self.gateway = built, server, smtp, gateway
        self.keys = keys
        self.client = httpx.Client(base_url=server.url, timeout=60)

    def ask(self, who: str, lang: str = "en") -> httpx.Response:
        return self.client.post(f"/my?lang={lang}", data={"who": who})

    def enter(self, challenge: str, code: str) -> httpx.Response:
        return self.client.post("/my/code", data={"challenge": challenge, "code": code})

    def mails_to(self, address: str) -> list[str]:
        texts = []
        for message in self.smtp.messages:
            if address in message["to"]:
                parsed = email.message_from_bytes(message["data"], policy=email.policy.default)
                body = parsed.get_body(("plain",))
                assert body is not None
                texts.append(body.get_content())
        return texts

    def wait(self, found: Any, what: str) -> Any:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            value = found()
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"no {what} arrived:\n" + "\n".join(self.server.lines[-20:]))

    def code_by_mail(self, who: str, address: str) -> tuple[str, str, str]:
        """Ask for a code as ``who``; (challenge, code, the email's text) sent to ``address``
        (the emails the batch sent there before are not it)."""
        before = len(self.mails_to(address))
        challenge = challenge_of(self.ask(who))
        text = self.wait(lambda: self.mails_to(address)[before:], f"email to {address}")[0]
        match = re.search(r"\b(\d{6})\b", text)
        assert match, text
        return challenge, match.group(1), text

    def audit(self) -> list[dict[str, Any]]:
        found = self.client.get("/api/audit?limit=1000",
                                headers={"Authorization": f"Bearer {self.keys['compliance']}"})
        assert found.status_code == 200, found.text
        entries: list[dict[str, Any]] = found.json()["entries"]
        return entries


def build(root: Path, smtp: SmtpServer) -> Built:
    built = Built(root)
    generate(6, built.var / "sample", seed=11, period="2026-11", fmt="csv")
    job = load_job(notice_job(built))
    settings = built.settings.with_overrides(email_url=smtp.url())
    for period in ("2026-10", "2026-11"):
        report = run_job(job, settings, RunOptions(period=period), InlineExecutor())
        assert report.counts.archived == 6 and report.counts.failed == 0, report.as_dict()
    return built


def serve(built: Built, smtp: SmtpServer, gateway: Gateway, failures: int) -> Server:
    return start_server(built, env={
        "FACTORY_LINK_SECRET": SECRET, "FACTORY_PUBLIC_URL": PUBLIC,
        "FACTORY_EMAIL_URL": smtp.url(), "FACTORY_SMS_URL": gateway.url(),
        "FACTORY_API_AUTH_FAILURES": str(failures)})


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    smtp, gateway = SmtpServer(), Gateway()
    built = build(tmp_path_factory.mktemp("mydocs") / "project", smtp)
    server = serve(built, smtp, gateway, 100000)
    site = Site(built, server, smtp, gateway, make_keys(built))
    try:
        yield site
    finally:
        site.client.close()
        assert server.stop() == 0, "\n".join(server.lines[-20:])
        smtp.close()
        gateway.close()


def challenge_of(page: httpx.Response) -> str:
    assert page.status_code == 200, page.text
    match = CHALLENGE.search(page.text)
    assert match, page.text
    return match.group(1)


def listed_documents(page: str) -> list[str]:
    """The document ids behind the list's download links (signed links, checked here)."""
    signer = LinkSigner(SECRET)
    urls = re.findall(r'href="(https://docs\.example\.test/d/[^"]+)"', page)
    return [signer.open(url.rsplit("/d/", 1)[1]).document_id for url in urls]


def test_a_code_by_customer_id_lists_only_their_documents_in_their_language(site: Site) -> None:
    mine = {e.document_id for e in site.built.entries(customer_id="C000001") if e.channel == "pdf"}
    assert len(mine) == 2  # two periods
    challenge, code, text = site.code_by_mail("C000001", "hanna.tkachenko1@example.com")
    assert "одноразовий код" in text  # Ukrainian, the customer's language
    listed = site.enter(challenge, code)
    assert listed.status_code == 200, listed.text
    assert '<html lang="uk">' in listed.text and "Повідомлення про поновлення" in listed.text
    assert set(listed_documents(listed.text)) == mine
    # Nothing beyond the list: no name, address, account, email, phone, other customers.
    page = listed.text
    for field in ("Tkachenko", "Ткаченко", "hanna", "@", "+421", "C000001", "C000002", "IBAN"):
        assert field not in page, field
    assert code not in page
    # A link opens that customer's document, and only that one.
    link = re.findall(r'href="https://docs\.example\.test(/d/[^"]+)"', page)[0]
    assert site.client.get(link + "/pdf").status_code == 200
    # Single use: the same code again is refused.
    again = site.enter(challenge, code)
    assert again.status_code == 401 and not listed_documents(again.text)
    actions = [(e["action"], e["outcome"]) for e in site.audit()]
    for expected in [("otp.request", "ok"), ("otp.send", "ok"), ("otp.verify", "ok"),
                     ("otp.refused", "denied"), ("link.issue", "ok")]:
        assert expected in actions, expected
    assert not any(code in str(e) for e in site.audit())  # never the code


def test_the_email_on_record_finds_the_customer(site: Site) -> None:
    challenge, code, text = site.code_by_mail("Jack.Taylor4@example.com",
                                              "jack.taylor4@example.com")
    assert "one-time code" in text
    listed = site.enter(challenge, code)
    ids = set(listed_documents(listed.text))
    assert ids == {e.document_id for e in site.built.entries(customer_id="C000004")
                   if e.channel == "pdf"}


def test_without_an_email_the_code_goes_by_sms(site: Site) -> None:
    challenge = challenge_of(site.ask("C000005"))
    sms = site.wait(lambda: [r for r in site.gateway.requests
                             if r["json"].get("to") == "+420777248693"], "SMS")[0]
    assert "jednorázový kód" in sms["json"]["text"]  # Czech
    code = re.search(r"\b(\d{6})\b", sms["json"]["text"]).group(1)  # type: ignore[union-attr]
    listed = site.enter(challenge, code)
    assert '<html lang="cs">' in listed.text
    assert set(listed_documents(listed.text)) == {
        e.document_id for e in site.built.entries(customer_id="C000005") if e.channel == "pdf"}


def test_a_stranger_gets_the_same_answer_and_nothing_is_sent(site: Site) -> None:
    before = len(site.mails_to("james.taylor6@example.com"))
    known = site.ask("C000006")
    site.wait(lambda: site.mails_to("james.taylor6@example.com")[before:], "the known code")
    sent_before = len(site.smtp.messages), len(site.gateway.requests)
    answers = [site.ask(who) for who in ("C999999", "nobody@example.com", "+420700000000")]
    strip = lambda page: CHALLENGE.sub("", page.text)  # noqa: E731
    assert all(a.status_code == known.status_code for a in answers)
    assert all(strip(a) == strip(known) for a in answers)
    time.sleep(1)
    assert (len(site.smtp.messages), len(site.gateway.requests)) == sent_before
    unmatched = [e for e in site.audit() if e["action"] == "otp.unmatched"]
    assert len(unmatched) >= 3


def test_wrong_codes_are_refused_and_exhaust_the_challenge(site: Site) -> None:
    challenge, code, _text = site.code_by_mail("C000003", "tereza.nemcova3@example.com")
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    for _ in range(5):
        refused = site.enter(challenge, wrong)
        assert refused.status_code == 401 and not listed_documents(refused.text)
    late = site.enter(challenge, code)  # the right code, after five wrong ones
    assert late.status_code == 401 and not listed_documents(late.text)
    assert site.enter("not-a-challenge", code).status_code == 401


@pytest.mark.fast
def test_codes_expire_and_belong_to_their_server() -> None:
    book = CodeBook(lifetime=0.3)
    challenge = book.issue()
    book.bind(challenge, "C000001")
    time.sleep(0.4)
    with pytest.raises(CodeRefused) as caught:
        book.verify(challenge.challenge_id, challenge.code)
    assert caught.value.why in ("expired", "unknown challenge")
    fresh = CodeBook().issue()
    with pytest.raises(CodeRefused, match="not valid"):
        CodeBook().verify(fresh.challenge_id, fresh.code)  # another server's challenge


@pytest.mark.fast
def test_code_requests_and_codes_sent_are_limited_per_client_and_customer() -> None:
    book = CodeBook()
    assert all(book.customers.take("C000001") for _ in range(3))
    assert not book.customers.take("C000001")  # a fourth code in 15 minutes: not sent
    assert book.customers.take("C000002")  # another customer is not affected
    assert all(book.clients.take("10.0.0.1") for _ in range(10))
    assert not book.clients.take("10.0.0.1") and book.clients.take("10.0.0.2")


def test_wrong_codes_are_throttled_like_failed_logins(tmp_path: Path) -> None:
    smtp, gateway = SmtpServer(), Gateway()
    built = build(tmp_path / "project", smtp)
    server = serve(built, smtp, gateway, 3)
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            page = client.post("/my", data={"who": "C000001"})
            challenge = challenge_of(page)
            answers = [client.post("/my/code", data={"challenge": challenge, "code": "000000"})
                       for _ in range(4)]
            assert [a.status_code for a in answers[:3]] == [401, 401, 401]
            assert answers[3].status_code == 429
            assert client.post("/my", data={"who": "C000001"}).status_code == 429
    finally:
        assert server.stop() == 0
        smtp.close()
        gateway.close()
