import threading

from sqlalchemy import inspect

from claimbridge.store import open_store


def test_migrations_create_every_table_and_are_idempotent(store):
    tables = set(inspect(store.engine).get_table_names())
    assert {"bookmarks", "sync_runs", "quarantine", "encounters", "claims", "claim_versions", "claim_events",
            "batches", "control_counters", "alembic_version", "claim_lines", "finding_overrides",
            "audit_log"} <= tables
    assert store.is_current()
    store.migrate()  # a second run changes nothing and does not fail
    assert store.is_current()


def test_control_numbers_are_never_reused_across_restarts(db_url):
    first = open_store(db_url)
    with first.transaction() as session:
        a = first.allocate_control_number(session, "ZZ:A>ZZ:B", "ISA13")
        b = first.allocate_control_number(session, "ZZ:A>ZZ:B", "ISA13")
    first.dispose()
    again = open_store(db_url)
    with again.transaction() as session:
        c = again.allocate_control_number(session, "ZZ:A>ZZ:B", "ISA13")
        other_partner = again.allocate_control_number(session, "ZZ:A>ZZ:C", "ISA13")
    again.dispose()
    assert (a, b, c) == (1, 2, 3)
    assert other_partner == 1


def test_control_numbers_are_unique_under_concurrent_workers(db_url):
    stores = [open_store(db_url) for _ in range(4)]
    got: list[int] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker(store):
        try:
            for _ in range(25):
                with store.transaction() as session:
                    value = store.allocate_control_number(session, "P", "ISA13")
                with lock:
                    got.append(value)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        s.dispose()
    assert not errors
    assert sorted(got) == list(range(1, 101))


def test_a_rolled_back_allocation_is_not_visible(store):
    try:
        with store.transaction() as session:
            store.allocate_control_number(session, "P", "GS06")
            raise RuntimeError("crash before the batch was recorded")
    except RuntimeError:
        pass
    with store.transaction() as session:
        # nothing reached a file, so the number may be handed out again
        assert store.allocate_control_number(session, "P", "GS06") == 1
