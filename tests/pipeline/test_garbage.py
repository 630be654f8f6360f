"""The worker's garbage collection: warm state frozen, one full collection per document."""

from __future__ import annotations

import gc
import weakref

import pytest

from factory.pipeline import garbage

pytestmark = pytest.mark.fast


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


@pytest.fixture
def collector(monkeypatch):
    threshold = gc.get_threshold()
    monkeypatch.setattr(garbage, "_first_document", True)
    gc.disable()  # no automatic collection may free the cycles behind the test's back
    yield
    gc.enable()
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_warm_state_is_frozen_and_the_young_threshold_raised(collector) -> None:
    before = gc.get_freeze_count()
    garbage.settle_warm_state()
    assert gc.get_freeze_count() > before
    assert gc.get_threshold()[0] == garbage.YOUNG_THRESHOLD


def test_a_rendered_document_frees_its_cycles_at_once(collector) -> None:
    garbage.settle_warm_state()
    gc.collect(0)  # a layout's allocations: the young generation was collected since
    node = Node()
    alive = weakref.ref(node)
    del node
    garbage.after_document(rendered=False)  # nothing rendered: no collection
    assert alive() is not None
    garbage.after_document(rendered=True)
    assert alive() is None


def test_a_tiny_document_is_not_worth_a_full_collection(collector) -> None:
    garbage.settle_warm_state()  # ends with a full collection: nothing young collected since
    node = Node()
    alive = weakref.ref(node)
    del node
    garbage.after_document(rendered=True)
    assert alive() is not None


def test_what_survives_the_first_document_is_frozen_once(collector) -> None:
    garbage.settle_warm_state()
    cache = [Node()]  # filled by the first layout, kept by the process
    frozen = gc.get_freeze_count()
    gc.collect(0)
    garbage.after_document(rendered=True)
    assert gc.get_freeze_count() > frozen
    frozen = gc.get_freeze_count()
    cache.append(Node())
    gc.collect(0)
    garbage.after_document(rendered=True)
    assert gc.get_freeze_count() == frozen
