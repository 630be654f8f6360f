"""The HTTP API over real HTTP: ``docfactory serve`` on a free loopback port, httpx as the
client. The full role matrix on every route, 401 for every request without a valid key, path
traversal and injection attempts in ids and parameters, exports, and runs started by finance
(an invoice-like job) with the real process-pool executor. Plus a walk over ``app.routes``
proving that every route checks the caller's role."""

from __future__ import annotations

import hashlib
import http.client
import io
import json
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from factory.api import ApiConfig, create_app
from factory.api.guard import PUBLIC_CUSTOMER, PUBLIC_GET_PREFIXES, PUBLIC_HOOKS
from factory.api.pages import PUBLIC
from factory.api.security import ApiRole, PageRole, RoleCheck, api_principal, page_principal
from factory.archive.store import sha256_of
from factory.compliance import AuditLog
from factory.config import load_settings
from tests.archive_fixtures import Server, copy_archive, make_keys, start_server
from tests.conftest import REPO

if TYPE_CHECKING:
    from tests.archive_fixtures import Built



class Site:
    def __init__(self, built: Built, server: Server, keys: dict[str, str]) -> None:
        self.built = built
        self.server = server
        self.keys = keys
        self.client = httpx.Client(base_url=server.url, timeout=60)
        statements = built.entries(job="monthly_statements", period="2026-11")
        self.doc = statements[0]
        self.customer = self.doc.customer_id
        index = built.index()
        runs = index.runs.recent(limit=10)
        index.close()
        self.statement_run = next(r.run_id for r in runs if r.job == "monthly_statements")
        self.invoice_run = next(r.run_id for r in runs if r.job == "monthly_invoices")

    def call(self, method: str, path: str, role: str | None = None, **kwargs: Any
             ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if role is not None:
            headers["Authorization"] = f"Bearer {self.keys[role]}"
        return self.client.request(method, path, headers=headers, **kwargs)


@pytest.fixture(scope="module")
def site(golden_archive: Built, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    built = copy_archive(golden_archive, tmp_path_factory.mktemp("api") / "project")
    largest = max(e.byte_size for e in built.entries())
    # Every client here is 127.0.0.1: the failed-authentication throttle has its own test.
    server = start_server(built, env={"FACTORY_EXPORT_MAX_BYTES": str(largest + 1000),
                                      "FACTORY_API_AUTH_FAILURES": "100000"})
    site = Site(built, server, make_keys(built))
    try:
        yield site
    finally:
        site.client.close()
        assert server.stop() == 0, "\n".join(server.lines[-20:])
        assert server.lines[-1] == "stopped"


ROLES = ("operations", "finance", "compliance")


def matrix(site: Site) -> list[tuple[str, str, dict[str, Any], dict[str, int]]]:
    """(method, path, request options, expected status per role)."""
    doc = site.doc.document_id
    hold = {"json": {"reason": "matrix"}}
    bad_start = {"json": {"job": "monthly_statements", "period": "2026-13"}}
    bad_invoice = {"json": {"job": "monthly_invoices", "period": "2026-13"}}
    return [
        ("GET", "/api/whoami", {}, {"operations": 200, "finance": 200, "compliance": 200}),
        ("GET", "/api/openapi.json", {}, {"operations": 200, "finance": 200, "compliance": 200}),
        ("GET", "/api/docs", {}, {"operations": 200, "finance": 200, "compliance": 200}),
        ("GET", "/api/docs/assets/swagger-ui-bundle.js", {},
         {"operations": 200, "finance": 200, "compliance": 200}),
        ("GET", "/api/docs/assets/secret.txt", {},
         {"operations": 404, "finance": 404, "compliance": 404}),
        ("GET", f"/api/documents?customer={site.customer}", {},
         {"operations": 403, "finance": 403, "compliance": 200}),
        ("GET", f"/api/documents/{doc}", {}, {"operations": 403, "finance": 403,
                                               "compliance": 200}),
        ("GET", f"/api/documents/{doc}/content", {},
         {"operations": 403, "finance": 403, "compliance": 200}),
        ("POST", f"/api/documents/{doc}/hold", hold,
         {"operations": 403, "finance": 403, "compliance": 200}),
        ("POST", f"/api/documents/{doc}/release", hold,
         {"operations": 403, "finance": 403, "compliance": 200}),
        ("POST", "/api/exports", {"json": {"customer": site.customer, "from": "2026-11",
                                           "to": "2026-11", "type": "statement"}},
         {"operations": 403, "finance": 403, "compliance": 200}),
        ("GET", f"/api/audit?document={doc}", {},
         {"operations": 403, "finance": 403, "compliance": 200}),
        ("GET", "/api/jobs", {}, {"operations": 200, "finance": 200, "compliance": 403}),
        ("GET", "/api/runs", {}, {"operations": 200, "finance": 200, "compliance": 200}),
        ("GET", f"/api/runs/{site.statement_run}", {},
         {"operations": 200, "finance": 403, "compliance": 200}),
        ("GET", f"/api/runs/{site.invoice_run}", {},
         {"operations": 200, "finance": 200, "compliance": 200}),
        ("POST", "/api/runs", bad_start, {"operations": 400, "finance": 403, "compliance": 403}),
        ("POST", "/api/runs", bad_invoice, {"operations": 400, "finance": 400,
                                            "compliance": 403}),
        ("GET", "/api/no/such/route", {}, {"operations": 404, "finance": 404, "compliance": 404}),
    ]


def test_the_role_matrix_on_every_route(site: Site) -> None:
    failures = []
    for method, path, options, expected in matrix(site):
        for role in ROLES:
            response = site.call(method, path, role, **options)
            if response.status_code != expected[role]:
                failures.append(f"{role} {method} {path}: {response.status_code}"
                                f" (expected {expected[role]}): {response.text[:200]}")
            if response.status_code == 403:
                assert f"the {role} role may" in response.json()["detail"]
    assert failures == []


@pytest.mark.parametrize("credentials", [
    {}, {"Authorization": "Bearer"}, {"Authorization": "Bearer dfk_000000000000_" + "A" * 43},
    {"X-API-Key": "not a key"}, {"Authorization": "Basic dXNlcjpwYXNz"}, "revoked", "tampered",
    "query",
])
def test_every_request_without_a_valid_key_gets_401(site: Site, credentials: Any) -> None:
    if credentials == "revoked":
        credentials = {"X-API-Key": site.keys["revoked"]}
    elif credentials == "tampered":
        credentials = {"X-API-Key": site.keys["compliance"][:-2] + "zz"}
    params = {"key": site.keys["compliance"]} if credentials == "query" else None
    headers = {} if credentials == "query" else credentials
    paths = {(method, path.split("?")[0]) for method, path, _, _ in matrix(site)}
    for method, path in sorted(paths):
        response = site.client.request(method, path, headers=headers, params=params,
                                       json={"job": "monthly_invoices", "period": "2026-12"})
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["detail"] == "a valid API key is required"


def test_document_content_is_the_verified_archived_bytes(site: Site) -> None:
    response = site.call("GET", f"/api/documents/{site.doc.document_id}/content", "compliance")
    assert response.status_code == 200
    assert sha256_of(response.content) == site.doc.sha256 == response.headers["x-content-sha256"]
    assert response.headers["content-type"] == "application/pdf"
    assert site.doc.document_id in response.headers["content-disposition"]
    found = site.call("GET", "/api/documents", "compliance",
                      params={"customer": site.customer, "type": "statement", "from": "2026-11",
                              "to": "2026-11"}).json()
    assert [d["document_id"] for d in found["documents"]] == [site.doc.document_id]


def login_token(browser: httpx.Client) -> str:
    """The login form's CSRF token (its nonce cookie stays in ``browser``)."""
    form = browser.get("/login").text
    return form.split('name="csrf" value="', 1)[1].split('"', 1)[0]


def session_cookie(site: Site, role: str) -> str:
    with httpx.Client(base_url=site.server.url) as browser:
        response = browser.post("/login", data={"key": site.keys[role],
                                                "csrf": login_token(browser)})
        assert response.status_code == 303
        return f"docfactory_session={browser.cookies['docfactory_session']}"


def raw_get(site: Site, path: str) -> tuple[int, bytes]:
    """A GET with the path sent exactly as given (no client-side normalisation)."""
    parts = urlsplit(site.server.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.putrequest("GET", path, skip_accept_encoding=True)
        if path.startswith("/api/"):
            conn.putheader("Authorization", f"Bearer {site.keys['compliance']}")
        else:
            conn.putheader("Cookie", session_cookie(site, "compliance"))
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.mark.parametrize("path", [
    "/api/documents/../../../../etc/passwd/content",
    "/api/documents/..%2F..%2F..%2F..%2Fetc%2Fpasswd/content",
    "/api/documents/%2e%2e%2f%2e%2e%2fetc%2fpasswd/content",
    "/api/documents/....//....//etc/passwd/content",
    "/api/documents/%2Fetc%2Fpasswd/content",
    "/api/documents/monthly_statements%2F2026-11%2FC000001/content",
    "/api/runs/..%2F..%2Fetc%2Fpasswd",
    "/documents/..%2F..%2Fetc%2Fpasswd/download",
    "/documents/%2e%2e%2f%2e%2e%2fvar%2findex.db/download",
    "/archive?customer=..%2F..%2Fetc%2Fpasswd",
])
def test_path_traversal_in_ids_reveals_nothing(site: Site, path: str) -> None:
    status, body = raw_get(site, path)
    assert status in (400, 404) or (status == 200 and b"0 documents" in body), \
        (status, body[:200])
    assert b"root:" not in body and b"%PDF" not in body and b"SQLite" not in body


@pytest.mark.parametrize(("path", "params", "status", "message"), [
    ("/api/documents/1' OR '1'='1/content", None, 400, "is not a document id"),
    ("/api/documents/00000000-0000-0000-0000-000000000000/content", None, 404, "no document"),
    ("/api/documents", {"customer": "C1\x00"}, 400, "no control characters"),
    ("/api/documents", {"customer": "x" * 300}, 422, ""),
    ("/api/documents", {"type": "<script>alert(1)</script>"}, 400, "is not a lower-case name"),
    ("/api/documents", {"job": "monthly_statements; DROP TABLE documents"}, 400,
     "is not a job name"),
    ("/api/documents", {"from": "2026-01' --"}, 400, "is not a month like 2026-11"),
    ("/api/documents", {"from": "2026-11", "to": "2026-01"}, 400, "the range is reversed"),
    ("/api/documents", {"limit": "100000"}, 422, ""),
    ("/api/runs", {"job": "../../etc"}, 400, "is not a job name"),
    ("/api/runs/bad%20id!", None, 400, "is not a run id"),
    ("/api/runs/20990101T000000Z-000000", None, 404, "no run"),
])
def test_injection_attempts_are_clear_errors(site: Site, path: str, params: Any, status: int,
                                             message: str) -> None:
    response = site.call("GET", path, "compliance", params=params)
    assert response.status_code == status, response.text
    assert message in response.text


def test_sql_injection_in_a_free_text_filter_matches_nothing(site: Site) -> None:
    for value in ("' OR '1'='1", "C000001' --", "%", "_%"):
        found = site.call("GET", "/api/documents", "compliance", params={"customer": value})
        assert found.status_code == 200 and found.json()["count"] == 0
    assert site.call("GET", "/api/documents", "compliance").json()["count"] == 9


def test_exports_over_http_and_the_size_limit(site: Site) -> None:
    one = site.call("POST", "/api/exports", "compliance",
                    json={"customer": site.customer, "type": "statement", "from": "2026-11",
                          "to": "2026-11"})
    assert one.status_code == 200 and one.headers["content-type"] == "application/zip"
    assert sha256_of(one.content) == one.headers["x-content-sha256"]
    with zipfile.ZipFile(io.BytesIO(one.content)) as bundle:
        manifest = json.loads(bundle.read("manifest.json"))
        (row,) = manifest["documents"]
        assert sha256_of(bundle.read(row["path"])) == site.doc.sha256
    big = site.call("POST", "/api/exports", "compliance", json={"customer": site.customer})
    assert big.status_code == 413 and "over the limit" in big.json()["detail"]
    bad = site.call("POST", "/api/exports", "compliance",
                    json={"customer": site.customer, "from": "2026-12", "to": "2026-01"})
    assert bad.status_code == 400
    extra = site.call("POST", "/api/exports", "compliance",
                      json={"customer": site.customer, "path": "/etc/passwd"})
    assert extra.status_code == 422


def wait_for_run(site: Site, run_id: str, role: str) -> dict[str, Any]:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        run = site.call("GET", f"/api/runs/{run_id}", role).json()
        if run["status"] not in ("starting", "running"):
            return run
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} did not finish: {run}")


def test_finance_starts_and_watches_invoice_runs_only(site: Site) -> None:
    jobs = site.call("GET", "/api/jobs", "finance").json()["jobs"]
    assert [j["name"] for j in jobs] == ["monthly_invoices"]
    assert {j["name"] for j in site.call("GET", "/api/jobs", "operations").json()["jobs"]} == \
        {"monthly_invoices", "monthly_statements"}
    denied = site.call("POST", "/api/runs", "finance",
                       json={"job": "monthly_statements", "period": "2026-12"})
    assert denied.status_code == 403
    assert "monthly_statements is a statement job" in denied.json()["detail"]
    started = site.call("POST", "/api/runs", "finance",
                        json={"job": "monthly_invoices", "period": "2026-12"})
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    again = site.call("POST", "/api/runs", "operations",
                      json={"job": "monthly_invoices", "period": "2026-12"})
    assert again.status_code == 409 and run_id in again.json()["detail"]
    run = wait_for_run(site, run_id, "finance")
    assert run["status"] == "completed", run
    assert run["report"]["counts"]["archived"] == 3
    assert run["report"]["executor"] == "pool"
    assert run["reconciliation"]["balanced"] is True
    listed = site.call("GET", "/api/runs", "finance").json()["runs"]
    assert run_id in [r["run_id"] for r in listed]
    assert {r["job"] for r in listed} == {"monthly_invoices"}
    assert {r["job"] for r in site.call("GET", "/api/runs", "operations").json()["runs"]} == \
        {"monthly_invoices", "monthly_statements"}
    assert site.call("GET", "/api/runs", "finance",
                     params={"job": "monthly_statements"}).status_code == 403
    log = AuditLog(site.built.index())
    starts = [e for e in log.entries() if e.action == "run.start"]
    finance_id = site.keys["finance"].split("_")[1]
    assert [(e.actor, e.outcome) for e in starts if e.run_id == run_id] == \
        [(f"key:{finance_id}", "ok")]
    assert any(e.outcome == "denied" and "monthly_statements" in e.details for e in starts)
    assert all(site.keys["finance"] not in e.details for e in log.entries())
    assert log.verify().ok


def test_retrievals_and_denials_are_audited(site: Site) -> None:
    log = AuditLog(site.built.index())
    before = log.head()[0]
    site.call("GET", f"/api/documents/{site.doc.document_id}/content", "compliance")
    site.call("GET", "/api/documents", "operations")
    new = [e for e in log.entries() if e.seq > before]
    assert [(e.action, e.outcome, e.role) for e in new] == [
        ("archive.get", "ok", "compliance"), ("access.denied", "denied", "operations")]
    assert json.loads(new[1].details)["permission"] == "archive:search"


def test_the_audit_api_filters_by_document_customer_actor_and_action(site: Site) -> None:
    doc = site.doc.document_id
    site.call("GET", f"/api/documents/{doc}/content", "compliance")
    site.call("POST", f"/api/documents/{doc}/hold", "compliance", json={"reason": "case 9"})
    site.call("POST", f"/api/documents/{doc}/release", "compliance", json={"reason": "done"})
    response = site.call("GET", "/api/audit", "compliance", params={"document": doc})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == len(body["entries"]) >= 3
    assert {e["document_id"] for e in body["entries"]} == {doc}
    seqs = [e["seq"] for e in body["entries"]]
    assert seqs == sorted(seqs, reverse=True)  # newest first
    holds = site.call("GET", "/api/audit", "compliance",
                      params={"document": doc, "action": "archive.hold"}).json()["entries"]
    assert holds and all(e["action"] == "archive.hold" for e in holds)
    assert holds[0]["details"]["reason"] == "case 9"
    actor = holds[0]["actor"]
    by_actor = site.call("GET", "/api/audit", "compliance",
                         params={"actor": actor, "limit": 500}).json()["entries"]
    assert by_actor and {e["actor"] for e in by_actor} == {actor}
    other = next(e for e in site.built.entries() if e.customer_id != site.customer)
    mine = site.call("GET", "/api/audit", "compliance",
                     params={"customer": site.customer, "limit": 1000}).json()["entries"]
    mine_ids = {e.document_id for e in site.built.entries(customer_id=site.customer)}
    assert mine and {e["document_id"] for e in mine} <= mine_ids
    assert other.document_id not in {e["document_id"] for e in mine}
    one = site.call("GET", "/api/audit", "compliance", params={"limit": 1}).json()
    assert one["count"] == 1 and one["more"] is True
    bad = site.call("GET", "/api/audit", "compliance", params={"document": "x; DROP"})
    assert bad.status_code == 400 and "is not a document id" in bad.json()["detail"]
    bad = site.call("GET", "/api/audit", "compliance", params={"action": "Get Everything"})
    assert bad.status_code == 400 and "is not an action" in bad.json()["detail"]


# -- every route checks the role ------------------------------------------------------------------


def dependency_calls(dependant: Any) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from dependency_calls(sub)


def test_every_route_checks_the_role(tmp_path: Path) -> None:
    settings = load_settings(REPO, {}, var_dir=str(tmp_path / "var"))
    app = create_app(ApiConfig(settings=settings, store_url=settings.default_archive_url,
                               index_url=settings.default_index_url, jobs_dir=REPO / "jobs"))
    checked = 0
    for context in iter_route_contexts(app.routes):  # the routes as served, routers included
        route = context.original_route
        assert isinstance(route, APIRoute), f"{route} is not an APIRoute: it bypasses the checks"
        for method in route.methods:
            calls = list(dependency_calls(context.dependant))
            checks = [c for c in calls if isinstance(c, RoleCheck)]
            if (method, route.path) in PUBLIC:
                assert checks == [], route.path
                continue
            if (method, route.path) in PUBLIC_HOOKS:
                assert checks == [], route.path  # the webhook checks its body's HMAC
                continue
            if (method, route.path) in PUBLIC_CUSTOMER:
                assert checks == [], route.path  # /my: the one-time code checks
                continue
            if method == "GET" and route.path.startswith(PUBLIC_GET_PREFIXES):
                assert checks == [], route.path  # a customer's signed link: the link checks
                continue
            assert len(checks) == 1, f"{method} {route.path} has no role check"
            expected = ApiRole if route.path.startswith("/api/") else PageRole
            assert isinstance(checks[0], expected), route.path
            principal = api_principal if route.path.startswith("/api/") else page_principal
            assert any(d.call is principal for d in context.dependant.dependencies), \
                f"{route.path}: its router does not authenticate"
            changes_state = route.name != "unknown"  # the catch-alls only answer 404
            if method == "POST" and not route.path.startswith("/api/") and changes_state:
                names = {p.alias for p in route.dependant.body_params}
                assert "csrf" in names, f"{route.path} takes no CSRF token"
            checked += 1
    assert checked >= 30
    assert {path for _, path in PUBLIC} == {"/login", "/logout", "/healthz", "/readyz",
                                            "/metrics"}
    assert {("GET", "/my"), ("POST", "/my"), ("POST", "/my/code")} == PUBLIC_CUSTOMER


def test_served_connections_turn_nagle_off() -> None:
    """Keep-alive clients would otherwise wait ~40 ms per response (Nagle + delayed ACK)."""
    import asyncio
    import socket

    from factory.cli.serve import listen_socket

    async def accepted_nodelay() -> int:
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                sock = transport.get_extra_info("socket")
                seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        server = await asyncio.get_running_loop().create_server(
            Probe, sock=listen_socket("127.0.0.1", 0))
        port = server.sockets[0].getsockname()[1]
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            return await asyncio.wait_for(seen, 30)
        finally:
            writer.close()
            server.close()

    assert asyncio.run(accepted_nodelay()) != 0


def test_a_forced_run_over_http_needs_a_reason_and_keeps_the_old_revision(site: Site) -> None:
    """Today's bug: operations, with no archive rights, destroyed archived documents with
    {"force": true}. Now force needs a reason and the old revision stays, linked on the
    document page and found by a search with revisions=true."""
    body = {"job": "monthly_statements", "period": "2026-10", "limit": 1, "force": True}
    refused = site.call("POST", "/api/runs", "operations", json=body)
    assert refused.status_code == 400 and "--reason" in refused.json()["detail"], refused.text
    old = site.built.entries(job="monthly_statements", period="2026-10")[0]
    started = site.call("POST", "/api/runs", "operations",
                        json={**body, "reason": "misprinted address"})
    assert started.status_code == 202, started.text
    run = wait_for_run(site, started.json()["run_id"], "operations")
    assert run["status"] == "completed" and run["report"]["counts"]["archived"] == 1, run
    found = site.call("GET", "/api/documents", "compliance",
                      params={"customer": old.customer_id, "from": "2026-10", "to": "2026-10",
                              "type": "statement", "revisions": "true"}).json()
    revisions = {d["document_id"]: d for d in found["documents"]}
    assert old.document_id in revisions and len(revisions) == 2
    assert revisions[old.document_id]["supersede_reason"] == "misprinted address"
    current = site.call("GET", "/api/documents", "compliance",
                        params={"customer": old.customer_id, "from": "2026-10",
                                "to": "2026-10", "type": "statement"}).json()
    (newest,) = current["documents"]
    assert newest["revision"] == 2
    content = site.call("GET", f"/api/documents/{old.document_id}/content", "compliance")
    assert content.status_code == 200
    assert hashlib.sha256(content.content).hexdigest() == old.sha256
    page = httpx.get(f"{site.server.url}/documents/{old.document_id}",
                     headers={"Cookie": session_cookie(site, "compliance")})
    assert page.status_code == 200
    assert 'id="superseded"' in page.text and f'href="/documents/{newest["document_id"]}"' \
        in page.text and "misprinted address" in page.text


def test_search_by_customer_name_and_account_in_the_api_and_the_archive_page(
        site: Site) -> None:
    name, account = site.doc.customer_name, site.doc.account
    assert name and account  # the run indexed them from the record
    part = name.split()[-1][1:].swapcase()  # a piece of the surname, in another case
    found = site.call("GET", "/api/documents", "compliance",
                      params={"name": part, "job": "monthly_statements"}).json()
    assert site.doc.document_id in [d["document_id"] for d in found["documents"]]
    assert all(part.lower() in d["customer_name"].lower() for d in found["documents"])
    assert found["query"]["customer_name"] == part
    found = site.call("GET", "/api/documents", "compliance",
                      params={"account": account}).json()
    assert {d["account"] for d in found["documents"]} == {account}
    assert site.doc.document_id in [d["document_id"] for d in found["documents"]]
    nobody = site.call("GET", "/api/documents", "compliance", params={"name": "zz-nobody"})
    assert nobody.status_code == 200 and nobody.json()["count"] == 0
    bad = site.call("GET", "/api/documents", "compliance", params={"account": "CZ*1"})
    assert bad.status_code == 400 and "account" in bad.text
    page = httpx.get(f"{site.server.url}/archive", params={"name": part},
                     headers={"Cookie": session_cookie(site, "compliance")}, timeout=60)
    assert page.status_code == 200 and site.doc.document_id in page.text
    assert f'value="{part}"' in page.text
