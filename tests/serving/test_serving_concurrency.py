"""Readers never see a half-built index: searches running while items are added and deleted."""

from __future__ import annotations

import threading

from lmrec.serving import RecommendationService


def test_reads_during_writes_are_consistent(make_serving_run, encoder, monkeypatch):
    import lmrec.serving.service as service_mod

    monkeypatch.setattr(service_mod, "COMPACT_AFTER", 8)          # exercise main-index rebuilds too
    run = make_serving_run("embknn", encoder)
    svc = RecommendationService(run, encoder=encoder)
    errors: list[BaseException] = []
    stop = threading.Event()
    seen_sizes = []

    def reader():
        try:
            while not stop.is_set():
                res = svc.similar("0", 50)
                ids = [r.item_id for r in res]
                assert len(ids) == len(set(ids)) and "0" not in ids
                assert all(i in svc.store or i.startswith("n") for i in ids)
                seen_sizes.append(len(ids))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for i in range(30):
        svc.add_items([{"item_id": f"n{i}", "text": f"new item {i} space opera"}])
        if i % 3 == 0:
            svc.delete_item(f"n{i}")
    stop.set()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    assert seen_sizes and max(seen_sizes) <= 50
    assert svc.info().n_items == 12 + 30 - 10
    assert len(svc.similar("0", 100)) == 12 + 30 - 10 - 1
