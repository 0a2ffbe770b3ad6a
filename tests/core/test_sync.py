"""The sync runner owns bookmarks, checkpoints, upserts and quarantine (a source only yields)."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from claimbridge import BadRecord, EhrSource, Record, Stream, TransientSourceError
from claimbridge.store.models import Bookmark, QuarantinedRecord, StoredEncounter, SyncRun
from claimbridge.sync import SyncRunner, format_cursor, parse_cursor

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


class ListStream(Stream):
    """Serves an in-memory list of (key, updated, data) like a sorted FHIR search would."""

    name = "encounters"
    cursor_field = "meta.lastUpdated"
    is_sorted = True

    def __init__(self, rows, fail_after=None, bad=()):
        self.rows = rows
        self.fail_after = fail_after
        self.bad = set(bad)
        self.calls = []

    def read(self, since, until):
        self.calls.append((since, until))
        served = 0
        for key, updated, data in sorted(self.rows, key=lambda r: r[1]):
            if (since is not None and updated <= since) or updated > until:
                continue
            if self.fail_after is not None and served >= self.fail_after:
                raise TransientSourceError("server went away")
            served += 1
            if key in self.bad:
                yield BadRecord(key=key, reason="Patient.birthDate is missing", field="Patient.birthDate",
                                cursor=format_cursor(updated), payload={"resourceType": "Encounter"})
            else:
                yield Record(key=key, cursor=format_cursor(updated), data=data)


class ListSource(EhrSource):
    type_name = "list"

    def __init__(self, stream):
        super().__init__("test-source", None)
        self.stream = stream

    def streams(self):
        return [self.stream]


def rows(n, start=T0):
    return [(f"Encounter/{i}", start + timedelta(seconds=i), {"id": str(i), "v": 1}) for i in range(n)]


def count(store, model):
    with store.transaction() as session:
        return session.execute(select(func.count()).select_from(model)).scalar()


def bookmark(store):
    with store.transaction() as session:
        mark = session.get(Bookmark, ("test-source", "encounters"))
        return parse_cursor(mark.cursor) if mark else None


def test_first_run_stores_everything_and_bookmarks_the_run_start(store):
    now = T0 + timedelta(hours=1)
    result = SyncRunner(store, now=lambda: now).run(ListSource(ListStream(rows(7))))
    assert result.status == "succeeded"
    assert result.total("new") == 7
    assert count(store, StoredEncounter) == 7
    assert bookmark(store) == now


def test_second_run_reads_from_the_bookmark_and_stores_nothing_twice(store):
    stream = ListStream(rows(5))
    first = T0 + timedelta(hours=1)
    SyncRunner(store, now=lambda: first).run(ListSource(stream))
    stream.rows.append(("Encounter/2", T0 + timedelta(hours=2), {"id": "2", "v": 2}))  # changed in the EHR
    second = T0 + timedelta(hours=3)
    result = SyncRunner(store, now=lambda: second).run(ListSource(stream))
    assert stream.calls[-1] == (first, second)
    assert (result.total("new"), result.total("changed")) == (0, 1)
    assert count(store, StoredEncounter) == 5


def test_records_after_the_run_start_wait_for_the_next_run(store):
    now = T0 + timedelta(seconds=3)
    result = SyncRunner(store, now=lambda: now).run(ListSource(ListStream(rows(10))))
    assert result.total("new") == 4  # seconds 0..3 inclusive
    assert bookmark(store) == now


def test_unusable_records_are_quarantined_and_the_rest_goes_on(store):
    result = SyncRunner(store, now=lambda: T0 + timedelta(hours=1)).run(
        ListSource(ListStream(rows(6), bad={"Encounter/3"})))
    assert (result.total("new"), result.total("quarantined")) == (5, 1)
    with store.transaction() as session:
        q = session.execute(select(QuarantinedRecord)).scalar_one()
        assert (q.record_key, q.field) == ("Encounter/3", "Patient.birthDate")
        assert "Encounter" in q.payload  # the payload is kept: nothing lost


def test_a_failing_stream_keeps_its_checkpoints_and_the_next_run_resumes(store):
    data = rows(25)
    runner = SyncRunner(store, now=lambda: T0 + timedelta(hours=1), checkpoint_every=10)
    with pytest.raises(TransientSourceError):
        runner.run(ListSource(ListStream(data, fail_after=17)))
    assert count(store, StoredEncounter) == 10  # one checkpoint of ten committed, the rest rolled back
    mark = bookmark(store)
    assert mark == T0 + timedelta(seconds=9)  # never past what is stored
    with store.transaction() as session:
        run = session.execute(select(SyncRun)).scalar_one()
        assert run.status == "failed" and "server went away" in run.error
    result = SyncRunner(store, now=lambda: T0 + timedelta(hours=2)).run(ListSource(ListStream(data)))
    assert result.total("new") == 15
    assert count(store, StoredEncounter) == 25


def test_checkpoints_never_split_records_with_the_same_cursor(store):
    same = [(f"Encounter/{i}", T0, {"id": str(i)}) for i in range(12)]
    later = [(f"Encounter/x{i}", T0 + timedelta(seconds=1), {"id": f"x{i}"}) for i in range(3)]
    runner = SyncRunner(store, now=lambda: T0 + timedelta(hours=1), checkpoint_every=5)
    with pytest.raises(TransientSourceError):
        runner.run(ListSource(ListStream(same + later, fail_after=14)))
    # twelve records share one timestamp: the only safe checkpoint is after all twelve
    assert count(store, StoredEncounter) == 12
    assert bookmark(store) == T0


class PaymentsStream(ListStream):
    name = "insurance_payments"


def test_records_of_other_streams_are_kept_apart_and_never_become_encounters(store):
    from claimbridge.store.models import SourceRecord

    class TwoStreams(EhrSource):
        type_name = "two"

        def __init__(self):
            super().__init__("test-source", None)

        def streams(self):
            return [ListStream(rows(3)), PaymentsStream(rows(2))]

    now = T0 + timedelta(hours=1)
    result = SyncRunner(store, now=lambda: now).run(TwoStreams())
    assert [(s.stream, s.new) for s in result.streams] == [("encounters", 3), ("insurance_payments", 2)]
    assert count(store, StoredEncounter) == 3
    assert count(store, SourceRecord) == 2
    again = SyncRunner(store, now=lambda: now + timedelta(hours=1)).run(TwoStreams())
    assert again.total("new") == again.total("changed") == 0
    with store.transaction() as session:
        streams = session.execute(select(SourceRecord.stream).distinct()).scalars().all()
        marks = session.execute(select(Bookmark.stream)).scalars().all()
    assert streams == ["insurance_payments"]
    assert sorted(marks) == ["encounters", "insurance_payments"]


def test_reread_reads_from_the_start_and_changes_only_what_changed(store):
    stream = ListStream(rows(4))
    first = T0 + timedelta(hours=1)
    SyncRunner(store, now=lambda: first).run(ListSource(stream))
    stream.rows[1] = ("Encounter/1", T0, {"id": "1", "v": 2})  # changed without a newer timestamp
    second = T0 + timedelta(hours=2)
    plain = SyncRunner(store, now=lambda: second).run(ListSource(stream))
    assert plain.total("read") == 0
    third = T0 + timedelta(hours=3)
    reread = SyncRunner(store, now=lambda: third).run(ListSource(stream), reread=True)
    assert stream.calls[-1] == (None, third)
    assert (reread.total("read"), reread.total("changed"), reread.total("unchanged")) == (4, 1, 3)


def test_a_record_read_again_with_the_same_problem_is_quarantined_once(store):
    stream = ListStream(rows(4), bad={"Encounter/2"})
    SyncRunner(store, now=lambda: T0 + timedelta(hours=1)).run(ListSource(stream))
    SyncRunner(store, now=lambda: T0 + timedelta(hours=2)).run(ListSource(stream), reread=True)
    assert count(store, QuarantinedRecord) == 1
    with store.transaction() as session:
        session.execute(select(QuarantinedRecord)).scalar_one().resolved_at = T0
    SyncRunner(store, now=lambda: T0 + timedelta(hours=3)).run(ListSource(stream), reread=True)
    assert count(store, QuarantinedRecord) == 2  # resolved, yet still broken: it comes back


def test_a_quarantined_record_that_now_reads_cleanly_is_released(store):
    stream = ListStream(rows(4), bad={"Encounter/2", "Encounter/3"})
    SyncRunner(store, now=lambda: T0 + timedelta(hours=1)).run(ListSource(stream))
    stream.bad = {"Encounter/3"}  # Encounter/2 was fixed in the EHR (same timestamp: found by a re-read)
    result = SyncRunner(store, now=lambda: T0 + timedelta(hours=2)).run(ListSource(stream), reread=True)
    assert (result.total("new"), result.total("released"), result.total("quarantined")) == (1, 1, 1)
    with store.transaction() as session:
        entries = {q.record_key: q.resolved_at for q in session.execute(select(QuarantinedRecord)).scalars()}
    assert entries["Encounter/2"] is not None and entries["Encounter/3"] is None
    assert count(store, QuarantinedRecord) == 2  # the still-broken one is not quarantined twice
    again = SyncRunner(store, now=lambda: T0 + timedelta(hours=3)).run(ListSource(stream), reread=True)
    assert again.total("released") == 0
