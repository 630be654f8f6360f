"""The ``letters`` table (``index.letters``) on SQLite and PostgreSQL: a letter moves only
forward, the author can never review their own letter (refused in the statement too), two
reviews of one letter cannot both win, and every move is audited with it."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import UTC, datetime

import pytest

from factory.archive import open_index
from factory.archive.audit import Actor
from factory.archive.letters import LetterConflict, LetterRow
from factory.errors import NotFoundError, PermissionDeniedError

AUTHOR = Actor("key:author000001", "agent")
SECOND = Actor("key:second000001", "agent")
THIRD = Actor("key:third0000001", "operations")


def letter(letter_id: str, status: str = "pending") -> LetterRow:
    content = json.dumps({"record": {"customer_id": "C000001"}, "blocks": {"answer": "<p>x</p>"}})
    now = datetime.now(UTC)
    return LetterRow(letter_id=letter_id, job="complaint_letter", record_key="C000001",
                     customer_id="C000001", status=status, four_eyes=status == "pending",
                     author=AUTHOR.id, author_role=AUTHOR.role, created_at=now,
                     content=content, content_sha256=hashlib.sha256(content.encode()).hexdigest(),
                     updated_at=now)


def test_a_letter_is_reviewed_once_by_a_second_person_and_settled(index_url: str) -> None:
    index = open_index(index_url)
    try:
        index.letters.add(letter("l1"), {"job": "complaint_letter"})
        assert [r.letter_id for r in index.letters.where(("pending",))] == ["l1"]
        with pytest.raises(PermissionDeniedError, match="written by you"):
            index.letters.review("l1", AUTHOR, True, "")
        with pytest.raises(NotFoundError):
            index.letters.review("nope", SECOND, True, "")
        with pytest.raises(LetterConflict, match="not waiting to be sent"):
            index.letters.settle("l1", True, document_id="d1", run_id="r1", reason=None)
        approved = index.letters.review("l1", SECOND, True, "")
        assert approved.status == "approved" and approved.reviewer == SECOND.id
        assert approved.reviewed_at is not None
        with pytest.raises(LetterConflict, match="is approved, not pending"):
            index.letters.review("l1", THIRD, False, "too late")
        failed = index.letters.settle("l1", False, document_id=None, run_id="r1",
                                      reason="email: refused")
        assert failed.status == "failed" and failed.reason == "email: refused"
        sent = index.letters.settle("l1", True, document_id="d1", run_id="r1", reason=None)
        assert (sent.status, sent.document_id, sent.reason) == ("sent", "d1", None)
        with pytest.raises(LetterConflict):
            index.letters.settle("l1", True, document_id="d2", run_id="r1", reason=None)
        assert index.letters.get("l1").document_id == "d1"  # type: ignore[union-attr]
        index.letters.add(letter("l2"), {})
        rejected = index.letters.review("l2", THIRD, False, "wrong customer")
        assert (rejected.status, rejected.review_reason) == ("rejected", "wrong customer")
        newest = index.letters.where(("sent", "rejected"), newest_first=True)
        assert [r.letter_id for r in newest] == ["l2", "l1"]
        actions = [(e.action, e.actor, e.outcome) for e in index.audit.entries()]
    finally:
        index.close()
    assert actions == [("letter.submit", AUTHOR.id, "ok"), ("letter.approve", SECOND.id, "ok"),
                       ("letter.submit", AUTHOR.id, "ok"), ("letter.reject", THIRD.id, "ok")]


def test_two_reviewers_at_once_one_wins(index_url: str) -> None:
    index = open_index(index_url)
    try:
        for n in range(5):
            index.letters.add(letter(f"race{n}"), {})
        results: dict[str, list[str]] = {}

        def review(actor: Actor, approve: bool, letter_id: str) -> None:
            try:
                index.letters.review(letter_id, actor, approve, "r")
                results.setdefault(letter_id, []).append(actor.id)
            except LetterConflict:
                results.setdefault(letter_id, []).append("conflict")

        for n in range(5):
            threads = [threading.Thread(target=review, args=(SECOND, True, f"race{n}")),
                       threading.Thread(target=review, args=(THIRD, False, f"race{n}"))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        reviews = [e for e in index.audit.entries() if e.action in ("letter.approve",
                                                                     "letter.reject")]
    finally:
        index.close()
    assert all(sorted(v).count("conflict") == 1 for v in results.values()), results
    assert len(reviews) == 5  # one review each, audited once
