"""Customers fetch their own documents over real HTTP (``docfactory serve`` on loopback):
signed, expiring links to one document; the public page in the document's language with its
name, date and a download, and no customer data; every use audited; expired, tampered, forged
and revoked links refused; no other document reachable; forged links throttled."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from factory.links import LinkSigner
from tests.api.test_ondemand import sample_records
from tests.archive_fixtures import Server, copy_archive, make_keys, start_server

if TYPE_CHECKING:
    from tests.archive_fixtures import Built

SECRET = "test-link-secret-" + "x" * 40


class Site:
    def __init__(self, built: Built, server: Server, keys: dict[str, str]) -> None:
        self.built = built
        self.server = server
        self.keys = keys
        self.client = httpx.Client(base_url=server.url, timeout=60)
        self.docs = built.entries(job="monthly_statements", period="2026-11")

    def api(self, path: str, body: dict[str, Any] | None = None, role: str = "service"
            ) -> httpx.Response:
        return self.client.post(path, json=body or {},
                                headers={"Authorization": f"Bearer {self.keys[role]}"})

    def link(self, doc_id: str, **body: Any) -> dict[str, Any]:
        answer = self.api(f"/api/documents/{doc_id}/links", body)
        assert answer.status_code == 201, answer.text
        return answer.json()

    def open(self, url: str) -> httpx.Response:
        return self.client.get(url.removeprefix(self.server.url))  # no key, no cookie

    def audit(self) -> list[dict[str, Any]]:
        found = self.client.get("/api/audit?limit=500",
                                headers={"Authorization": f"Bearer {self.keys['compliance']}"})
        return found.json()["entries"]


def serve(built: Built, failures: int) -> Site:
    server = start_server(built, env={"FACTORY_LINK_SECRET": SECRET,
                                      "FACTORY_API_AUTH_FAILURES": str(failures),
                                      "FACTORY_PUBLIC_URL": "https://docs.example.test"})
    return Site(built, server, make_keys(built))


@pytest.fixture(scope="module")
def site(golden_archive: Built, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    built = copy_archive(golden_archive, tmp_path_factory.mktemp("links") / "project")
    site = serve(built, 100000)
    try:
        yield site
    finally:
        site.client.close()
        assert site.server.stop() == 0


def local(url: str) -> str:
    assert url.startswith("https://docs.example.test/d/")
    return url.removeprefix("https://docs.example.test")


def test_a_link_opens_a_page_with_name_date_download_and_nothing_else(site: Site) -> None:
    doc = site.docs[0]
    link = site.link(doc.document_id)
    page = site.open(local(link["url"]))
    assert page.status_code == 200
    html = page.text
    lang = doc.locale.split("_")[0]
    assert f'lang="{lang}"' in html
    assert "2026-11" in html and "/pdf" in html
    record = json.loads(site.built.store().get(doc.record_storage_key or ""))["record"]
    for private in (record["name"], record["customer_id"], record["account_iban"],
                    record["address_line1"], record["city"], doc.document_id):
        assert str(private) not in html, private
    assert len(re.findall(r"<a ", html)) == 1  # one download, no other links
    download = site.open(local(link["url"]) + "/pdf")
    assert download.status_code == 200
    assert hashlib.sha256(download.content).hexdigest() == doc.sha256
    actions = [(e["action"], e["actor"], e["document_id"]) for e in site.audit()]
    actor = f"link:{link['link_id']}"
    for action in ("link.open", "link.download", "archive.get"):
        assert (action, actor, doc.document_id) in actions, action
    assert any(a == "link.issue" and d == doc.document_id for a, _, d in actions)


def test_tampered_forged_and_unknown_links_are_refused(site: Site) -> None:
    doc, other = site.docs[0], site.docs[1]
    path = local(site.link(doc.document_id)["url"])
    token = path.removeprefix("/d/")
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    forged, _ = LinkSigner("another-secret-" + "y" * 40).issue(other.document_id, 1)
    for bad in (flipped, forged, token[:20], "x", token + "x"):
        assert site.open(f"/d/{bad}").status_code == 404, bad
        assert site.open(f"/d/{bad}/pdf").status_code == 404, bad
    # The only document a link reaches is its own.
    assert site.open(path + "/pdf").content == site.built.store().get(doc.storage_key)
    assert site.open(path + f"/../{other.document_id}").status_code in (404, 405)
    failures = [e for e in site.audit() if e["action"] == "auth.failed"]
    assert failures and all(SECRET not in json.dumps(e) for e in failures)


def test_an_expired_link_is_refused(site: Site) -> None:
    doc = site.docs[0]
    token, _ = LinkSigner(SECRET).issue(doc.document_id, 1, now=time.time() - 2 * 86400)
    assert site.open(f"/d/{token}").status_code == 410
    assert site.open(f"/d/{token}/pdf").status_code == 410
    fresh, _ = LinkSigner(SECRET).issue(doc.document_id, 1)
    assert site.open(f"/d/{fresh}").status_code == 200  # the same key, within its lifetime


def test_revoked_links_are_refused(site: Site) -> None:
    doc = site.docs[2]
    one, two = site.link(doc.document_id), site.link(doc.document_id)
    answer = site.api(f"/api/documents/{doc.document_id}/links/revoke",
                      {"link_id": one["link_id"], "reason": "sent to a wrong address"})
    assert answer.status_code == 200, answer.text
    assert site.open(local(one["url"])).status_code == 410
    assert site.open(local(one["url"]) + "/pdf").status_code == 410
    assert site.open(local(two["url"])).status_code == 200
    assert site.api(f"/api/documents/{doc.document_id}/links/revoke",
                    {"reason": "all"}).status_code == 200
    assert site.open(local(two["url"])).status_code == 410
    time.sleep(2.1)  # links are stamped to the second
    three = site.link(doc.document_id)
    assert site.open(local(three["url"])).status_code == 200
    assert site.api(f"/api/documents/{doc.document_id}/links/revoke", {},
                    role="compliance").status_code == 403


def test_an_on_demand_document_comes_with_a_customer_link(site: Site) -> None:
    record = sample_records(site.built)[0]
    answer = site.client.post("/api/documents", json={"job": "monthly_statements",
                                                      "record": record},
                              headers={"Authorization": f"Bearer {site.keys['service']}",
                                       "Idempotency-Key": "link-1"})
    assert answer.status_code == 201, answer.text
    link = answer.json()["customer_link"]
    download = site.open(local(link) + "/pdf")
    assert download.status_code == 200 and download.content.startswith(b"%PDF-")


def test_forged_links_are_throttled(golden_archive: Built, tmp_path_factory) -> None:
    built = copy_archive(golden_archive, tmp_path_factory.mktemp("throttle") / "project")
    site = serve(built, 3)
    try:
        good = local(site.link(site.docs[0].document_id)["url"])
        for attempt in range(3):
            assert site.open(f"/d/guess{attempt}").status_code == 404
        assert site.open("/d/guess-again").status_code == 429
        assert site.open(good).status_code == 429  # this client is blocked for the minute
    finally:
        site.client.close()
        site.server.stop()


def test_emails_and_sms_carry_the_link_to_the_records_pdf(tmp_path, sample_dir, settings
                                                          ) -> None:
    import email
    import shutil

    from factory.archive import Slot, open_index
    from tests.conftest import REPO
    from tests.pipeline.test_channels_run import CASES, customers, renewal_job, run

    shutil.copytree(REPO / "templates", tmp_path / "templates")
    folder = tmp_path / "templates" / "renewal_notice"
    for name in ("email.txt", "sms.txt"):
        text = (folder / name).read_text(encoding="utf-8")
        (folder / name).write_text(text.rstrip("\n") + " {{ document.link or '' }}\n",
                                   encoding="utf-8")
    outbox = tmp_path / "outbox"
    settings = settings.with_overrides(templates_dir=tmp_path / "templates",
                                       email_url=f"outbox://{outbox}",
                                       sms_url=f"outbox://{outbox}", link_secret=SECRET,
                                       public_url="https://docs.example.test")
    cases = [CASES[0], CASES[2]]  # one email (cs), one SMS (uk)
    job = renewal_job(tmp_path / "jobs", customers(tmp_path / "data", sample_dir, cases),
                      sms__max_segments=8)
    report = run(job, settings)
    assert report.counts.archived == 2 and report.balanced, report.as_dict()
    index = open_index(settings.default_index_url)
    try:
        pdfs = {key: index.documents.find(Slot(job.name, "2026-12", key, "pdf", job.document_type))
                for key, _, _ in cases}
    finally:
        index.close()
    (eml,) = outbox.rglob("*.eml")
    body = email.message_from_bytes(eml.read_bytes())
    text = next(p for p in body.walk() if p.get_content_type() == "text/plain")
    found = re.findall(r"https://docs\.example\.test/d/(\S+)",
                       text.get_payload(decode=True).decode("utf-8"))
    assert len(found) == 1
    assert LinkSigner(SECRET).open(found[0]).document_id == pdfs["C000101"].document_id
    sms = [json.loads(p.read_text()) for p in outbox.rglob("*.json")]
    texts = " ".join(json.dumps(s, ensure_ascii=False) for s in sms)
    tokens = re.findall(r"https://docs\.example\.test/d/([A-Za-z0-9_.\-]+)", texts)
    assert tokens
    assert {LinkSigner(SECRET).open(t).document_id for t in tokens} == \
        {pdfs["C000103"].document_id}
