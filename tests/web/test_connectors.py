"""Connectors added, tested, changed and removed in the web UI and API: kept in the database with their secrets
encrypted, part of the running configuration at once, scheduled by a running scheduler, never shown back."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from claimbridge.connector_store import KEY_FILE, REDACTED, ConnectorInput, map_secrets
from claimbridge.pipeline import Runtime
from claimbridge.store.models import AuditEntry, ConnectorRow
from plugins.ehr_fhir.settings import FhirSourceSettings
from plugins.ehr_simplepractice.settings import SimplePracticeSettings
from tests.web.conftest import csrf_of

PARTNER = {"sender_id": "CLINIC1", "receiver_id": "OFFALLY", "receiver_name": "Office Ally"}


def sftp_settings(tmp_path, password: str = "hunter2-secret") -> dict:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("")
    return {"host": "127.0.0.1", "port": 9, "username": "clinic", "password": password,
            "known_hosts": str(known_hosts)}


def bulk_folder(tmp_path, *, with_encounters: bool = True):
    folder = tmp_path / "export"
    folder.mkdir(exist_ok=True)
    if with_encounters:
        (folder / "Encounter.000.ndjson").write_text(json.dumps({"resourceType": "Encounter", "id": "e1"}) + "\n")
    return folder


def raw_rows(world) -> list[str]:
    with world.store.transaction() as session:
        return [row.settings for row in session.execute(select(ConnectorRow)).scalars()]


def test_an_admin_adds_a_clearinghouse_whose_password_is_stored_encrypted_and_never_shown(client, token_for, world,
                                                                                      tmp_path):
    admin = token_for("admin")
    added = client.post("/api/v1/connectors", headers=admin, json={
        "kind": "clearinghouse", "name": "office-ally", "type": "sftp", "settings": sftp_settings(tmp_path),
        "trading_partner": PARTNER})
    assert added.status_code == 201, added.json
    assert added.json["settings"]["password"] == REDACTED and added.json["revision"] == 1
    # in the database only as ciphertext; in the running configuration as the plugin needs it
    (stored,) = raw_rows(world)
    assert "hunter2-secret" not in stored and '"$secret"' in stored
    entry = world.runtime.settings.clearinghouse("office-ally")
    assert entry.settings["password"] == "hunter2-secret" and entry.trading_partner.receiver_id == "OFFALLY"
    assert (world.runtime.settings.workdir / KEY_FILE).stat().st_mode & 0o777 == 0o600
    listed = client.get("/api/v1/connectors", headers=admin).json["items"]
    assert {(i["kind"], i["name"], i["origin"]) for i in listed} == {
        ("source", "demo-fhir", "file"), ("clearinghouse", "sandbox", "file"),
        ("clearinghouse", "office-ally", "database")}
    shown = client.get("/api/v1/connectors/clearinghouse/office-ally", headers=admin)
    assert shown.json["settings"]["password"] == REDACTED and "hunter2" not in shown.get_data(as_text=True)
    # the audit says what happened, never the settings
    with world.store.transaction() as session:
        details = [a.detail for a in session.execute(select(AuditEntry)).scalars()]
    assert "clearinghouse office-ally (sftp) added" in details
    assert not any("hunter2" in d for d in details)


def test_a_change_keeps_a_secret_sent_back_redacted_and_refuses_a_stale_revision(client, token_for, world,
                                                                                tmp_path):
    admin = token_for("admin")
    client.post("/api/v1/connectors", headers=admin, json={
        "kind": "clearinghouse", "name": "office-ally", "type": "sftp", "settings": sftp_settings(tmp_path),
        "trading_partner": PARTNER})
    changed = client.put("/api/v1/connectors/clearinghouse/office-ally", headers=admin, json={
        "type": "sftp", "revision": 1, "settings": {**sftp_settings(tmp_path, REDACTED), "username": "clinic2"},
        "trading_partner": PARTNER, "enabled": False})
    assert changed.status_code == 200 and changed.json["revision"] == 2 and changed.json["enabled"] is False
    entry = world.runtime.settings.clearinghouse("office-ally")
    assert entry.settings["password"] == "hunter2-secret" and entry.settings["username"] == "clinic2"
    assert not entry.enabled
    stale = client.put("/api/v1/connectors/clearinghouse/office-ally", headers=admin, json={
        "type": "sftp", "revision": 1, "settings": sftp_settings(tmp_path, REDACTED), "trading_partner": PARTNER})
    assert stale.status_code == 409 and "now revision 2" in stale.json["error"]["message"]
    # a redacted secret where nothing was stored is a problem, not an empty password
    fresh = client.post("/api/v1/connectors", headers=admin, json={
        "kind": "clearinghouse", "name": "other", "type": "sftp", "settings": sftp_settings(tmp_path, REDACTED),
        "trading_partner": PARTNER})
    assert fresh.status_code == 422
    assert fresh.json["error"]["problems"] == ["settings.password: no stored secret to keep here; enter it"]


def test_every_problem_is_named_by_its_key_path(client, token_for):
    refused = client.post("/api/v1/connectors", headers=token_for("admin"), json={
        "kind": "source", "name": "demo-fhir", "type": "fhir",
        "settings": {"base_url": "ftp://nowhere", "page_size": 0, "colour": "blue"}})
    assert refused.status_code == 422
    problems = refused.json["error"]["problems"]
    assert "name: the configuration file already has a source named 'demo-fhir'" in problems
    assert any(p.startswith("settings.base_url: String should match pattern") for p in problems)
    assert any(p.startswith("settings.page_size: Input should be greater than or equal to 1") for p in problems)
    assert "settings.colour: unknown key (check the spelling)" in problems
    unknown = client.post("/api/v1/connectors", headers=token_for("admin"), json={
        "kind": "source", "name": "new", "type": "epic", "settings": {}})
    assert unknown.json["error"]["problems"] == ["type: no plugin provides 'epic' (known: fhir, fhir_bulk, "
                                                 "simplepractice)"]
    clearinghouse = client.post("/api/v1/connectors", headers=token_for("admin"), json={
        "kind": "clearinghouse", "name": "ch", "type": "sftp", "settings": {"host": "h"}, "trading_partner": {}})
    problems = clearinghouse.json["error"]["problems"]
    assert "settings.username: required key is missing" in problems
    assert "trading_partner.sender_id: required key is missing" in problems


def test_testing_runs_the_connectors_own_check_against_the_real_folder(client, token_for, world, tmp_path):
    admin = token_for("admin")
    folder = bulk_folder(tmp_path, with_encounters=False)
    body = {"kind": "source", "name": "bulk", "type": "fhir_bulk", "settings": {"folder": str(folder)}}
    failed = client.post("/api/v1/connectors/test", headers=admin, json=body).json
    assert failed["ok"] is False and "no Encounter.*.ndjson in" in failed["error"]
    bulk_folder(tmp_path)
    assert client.post("/api/v1/connectors/test", headers=admin, json=body).json["ok"] is True
    assert raw_rows(world) == []  # a test stores nothing
    assert client.post("/api/v1/connectors", headers=admin, json=body).status_code == 201
    tested = client.post("/api/v1/sources/bulk/test", headers=admin).json
    assert tested["ok"] is True and tested["type"] == "fhir_bulk"
    # and it is a source like any other: pulled now, from its folder
    assert "bulk" in {s.name for s in world.runtime.settings.sources}


def test_removing_takes_it_out_of_the_configuration_and_file_connectors_cannot_be_removed(client, token_for, world,
                                                                                          tmp_path):
    admin = token_for("admin")
    body = {"kind": "source", "name": "bulk", "type": "fhir_bulk",
            "settings": {"folder": str(bulk_folder(tmp_path))}}
    client.post("/api/v1/connectors", headers=admin, json=body)
    removed = client.delete("/api/v1/connectors/source/bulk", headers=admin)
    assert removed.status_code == 200 and "bulk" not in {s.name for s in world.runtime.settings.sources}
    assert client.delete("/api/v1/connectors/source/demo-fhir", headers=admin).status_code == 404
    assert client.get("/api/v1/connectors/source/bulk", headers=admin).status_code == 404
    assert client.get("/api/v1/connectors/printer/x", headers=admin).status_code == 404


@pytest.mark.parametrize("role", ["viewer", "biller"])
def test_only_admins_see_or_change_connectors(client, token_for, role, tmp_path):
    headers = token_for(role)
    body = {"kind": "source", "name": "bulk", "type": "fhir_bulk", "settings": {"folder": str(tmp_path)}}
    for method, path, json_body in (("get", "/api/v1/connectors", None), ("get", "/api/v1/connector-types", None),
                                    ("post", "/api/v1/connectors", body), ("post", "/api/v1/connectors/test", body),
                                    ("get", "/api/v1/connectors/source/bulk", None),
                                    ("put", "/api/v1/connectors/source/bulk", {**body, "revision": 1}),
                                    ("delete", "/api/v1/connectors/source/bulk", None)):
        answer = getattr(client, method)(path, headers=headers, json=json_body)
        assert answer.status_code == 403, (method, path)


def test_connector_types_give_a_template_and_a_field_reference(client, token_for):
    types = client.get("/api/v1/connector-types", headers=token_for("admin")).json
    sftp = next(t for t in types["clearinghouse"] if t["type"] == "sftp")
    assert sftp["template"].startswith("# SFTP host name or address\nhost: ''\n")
    fields = {f["key"]: f for f in sftp["fields"]}
    assert fields["password"]["secret"] and not fields["host"]["secret"] and fields["port"]["default"] == "22"
    fhir = next(t for t in types["source"] if t["type"] == "fhir")
    keys = {f["key"]: f for f in next(t for t in types["source"] if t["type"] == "fhir")["fields"]}
    assert keys["auth.token"]["secret"] and keys["auth.token"]["variant"] == "'bearer'"
    assert "base_url: ''" in fhir["template"]


def test_secrets_are_found_in_unions_nested_models_and_mappings():
    fhir = {"base_url": "https://ehr/fhir", "auth": {"type": "bearer", "token": "tok-1"}}
    marked = map_secrets(fhir, FhirSourceSettings, lambda value, path: f"<{'.'.join(map(str, path))}>")
    assert marked["auth"] == {"type": "bearer", "token": "<auth.token>"} and marked["base_url"] == fhir["base_url"]
    inbox = {"folder": "in", "sftp": {"host": "h", "username": "u", "password": "p", "known_hosts": "k",
                                      "private_key_passphrase": "pp"}}
    marked = map_secrets(inbox, SimplePracticeSettings, lambda value, path: "*")
    assert marked["sftp"]["password"] == "*" and marked["sftp"]["private_key_passphrase"] == "*"
    assert marked["sftp"]["host"] == "h" and marked["folder"] == "in"


def test_another_process_and_a_running_scheduler_take_in_what_was_added(world, tmp_path):
    from claimbridge.schedule.service import JobScheduler

    store = world.runtime.connectors
    scheduler = JobScheduler(world.runtime)
    scheduler.start()
    try:
        assert "pull:bulk" not in {job.id for job in scheduler.scheduler.get_jobs()}
        store.create(ConnectorInput("source", "bulk", "fhir_bulk", settings={"folder": str(bulk_folder(tmp_path))}),
                     world.runtime.file_settings, "tests")
        assert scheduler.refresh_connectors() is True
        job = scheduler.scheduler.get_job("pull:bulk")
        assert job is not None and job.next_run_time is not None
        assert scheduler.refresh_connectors() is False  # nothing changed since
        with Runtime.open(world.config_path) as other:  # another process: it reads them when it opens
            assert "bulk" in {s.name for s in other.settings.sources}
            other.connectors.delete("source", "bulk")
        assert scheduler.refresh_connectors() is True
        assert scheduler.scheduler.get_job("pull:bulk") is None
        assert scheduler.scheduler.get_job("pull:demo-fhir") is not None
    finally:
        scheduler.stop()


def test_a_stored_connector_that_no_longer_decrypts_is_left_out_with_the_reason(client, token_for, world, tmp_path,
                                                                               as_role):
    client.post("/api/v1/connectors", headers=token_for("admin"), json={
        "kind": "clearinghouse", "name": "office-ally", "type": "sftp", "settings": sftp_settings(tmp_path),
        "trading_partner": PARTNER})
    key = world.runtime.settings.workdir / KEY_FILE
    key.write_bytes(b"Yo4FYbqGQ2kBvW8QfJ3rj9C1l4uq3aJ9cB5hV0yTz0Q=\n")  # a different (valid) key
    with Runtime.open(world.config_path) as restarted:
        assert "office-ally" not in {c.name for c in restarted.settings.clearinghouses}
        assert "cannot be decrypted" in restarted.connector_problems[("clearinghouse", "office-ally")]
        assert "sandbox" in {c.name for c in restarted.settings.clearinghouses}  # the rest runs on


# -- the pages ------------------------------------------------------------------------------------------------


def test_an_admin_adds_tests_changes_and_removes_a_source_in_the_pages(as_role, world, tmp_path):
    admin = as_role("admin")
    page = admin.get("/connectors").get_data(as_text=True)
    assert 'href="/connectors/new/source"' in page and 'href="/connectors/new/clearinghouse"' in page
    form = admin.get("/connectors/new/source?type=fhir_bulk").get_data(as_text=True)
    assert "folder with &lt;ResourceType&gt;.*.ndjson files" in form and 'value="fhir_bulk"' in form
    folder = bulk_folder(tmp_path, with_encounters=False)
    fields = {"csrf_token": csrf_of(admin), "type": "fhir_bulk", "name": "bulk", "enabled": "1",
              "settings": f"folder: {folder}\n"}
    tested = admin.post("/connectors/new/source", data={**fields, "action": "test"}).get_data(as_text=True)
    assert "The connection failed: source bulk: no Encounter.*.ndjson" in tested and raw_rows(world) == []
    assert f"folder: {folder}" in tested  # what was typed stays in the form
    broken = admin.post("/connectors/new/source", data={**fields, "settings": "folder: [", "action": "save"})
    assert broken.status_code == 422 and "settings: line 1, column 10: not valid YAML" in broken.get_data(as_text=True)
    bulk_folder(tmp_path)
    saved = admin.post("/connectors/new/source", data={**fields, "action": "save"}, follow_redirects=True)
    text = saved.get_data(as_text=True)
    assert "Source bulk saved (revision 1)" in text and "added here" in text
    assert 'href="/connectors/source/bulk/edit"' in text
    edit = admin.get("/connectors/source/bulk/edit").get_data(as_text=True)
    revision = re.search(r'name="revision" value="(\d+)"', edit).group(1)
    changed = admin.post("/connectors/source/bulk/edit", data={
        "csrf_token": csrf_of(admin), "type": "fhir_bulk", "revision": revision, "settings": f"folder: {folder}\n",
        "action": "save"}, follow_redirects=True).get_data(as_text=True)
    assert "Source bulk saved (revision 2)" in changed
    assert not world.runtime.settings.source("bulk").enabled  # the box was not ticked
    removed = admin.post("/connectors/source/bulk/remove", data={"csrf_token": csrf_of(admin)},
                         follow_redirects=True).get_data(as_text=True)
    assert "Source bulk removed" in removed and "bulk" not in {s.name for s in world.runtime.settings.sources}


def test_a_clearinghouse_form_shows_secrets_redacted_and_biller_may_not_open_it(as_role, client, token_for, tmp_path):
    client.post("/api/v1/connectors", headers=token_for("admin"), json={
        "kind": "clearinghouse", "name": "office-ally", "type": "sftp", "settings": sftp_settings(tmp_path),
        "trading_partner": PARTNER})
    edit = as_role("admin").get("/connectors/clearinghouse/office-ally/edit").get_data(as_text=True)
    assert "password: &#39;**********&#39;" in edit and "hunter2" not in edit and "receiver_id: OFFALLY" in edit
    biller = as_role("biller")
    assert biller.get("/connectors/clearinghouse/office-ally/edit").status_code == 403
    assert biller.get("/connectors/new/source").status_code == 403
    assert biller.post("/connectors/clearinghouse/office-ally/remove",
                       data={"csrf_token": csrf_of(biller)}).status_code == 403
    assert "Add a source" not in biller.get("/connectors").get_data(as_text=True)
    assert as_role("admin").get("/connectors/new/printer").status_code == 404


# -- quarantine: read the record's source again ----------------------------------------------------------------


def broken_then_fixed_source(client, headers, tmp_path) -> tuple[int, callable]:
    """A bulk-export source added over the API whose one encounter names no patient (quarantined by a pull);
    returns the quarantine id and a function that fixes the export."""
    folder = tmp_path / "bulk-export"
    folder.mkdir()
    encounter = {"resourceType": "Encounter", "id": "e1", "status": "finished",
                 "meta": {"lastUpdated": "2026-11-20T10:00:00Z"}}
    (folder / "Encounter.000.ndjson").write_text(json.dumps(encounter) + "\n")
    assert client.post("/api/v1/connectors", headers=headers, json={
        "kind": "source", "name": "bulk", "type": "fhir_bulk", "settings": {"folder": str(folder)}}).status_code == 201
    assert client.post("/api/v1/sources/bulk/run", headers=headers).json["pulled"]["quarantined"] == 1
    (entry,) = [q for q in client.get("/api/v1/quarantine", headers=headers).json["items"] if q["source"] == "bulk"]
    assert entry["field"] == "Encounter.subject"

    def fix():
        (folder / "Patient.000.ndjson").write_text(json.dumps({
            "resourceType": "Patient", "id": "p1", "birthDate": "1990-01-01",
            "name": [{"family": "Doe", "given": ["Sam"]}]}) + "\n")
        (folder / "Encounter.000.ndjson").write_text(
            json.dumps({**encounter, "subject": {"reference": "Patient/p1"}}) + "\n")

    return entry["id"], fix


def test_a_quarantined_record_fixed_in_the_ehr_is_read_again_and_resolved(client, token_for, tmp_path):
    admin = token_for("admin")
    record, fix = broken_then_fixed_source(client, admin, tmp_path)
    biller = token_for("biller")
    path = f"/api/v1/quarantine/{record}/reprocess"
    assert client.post(path, headers=token_for("viewer")).status_code == 403
    still = client.post(path, headers=biller).json
    assert still["resolved"] is False and "no subject reference" in still["still_quarantined"]["reason"]
    assert still["still_quarantined"]["id"] == record  # the same problem is not quarantined twice
    fix()
    done = client.post(path, headers=biller).json
    assert done["resolved"] is True and done["released"] == 1 and done["claims"]["claims_built"] == 1
    assert client.post(path, headers=biller).status_code == 409  # resolved already
    assert client.post("/api/v1/quarantine/999999/reprocess", headers=biller).status_code == 404


def test_the_quarantine_page_reads_a_record_again(client, token_for, as_role, tmp_path):
    record, fix = broken_then_fixed_source(client, token_for("admin"), tmp_path)
    viewer = as_role("viewer")
    assert "Read again" not in viewer.get("/quarantine").get_data(as_text=True)
    assert viewer.post(f"/quarantine/{record}/reprocess", data={"csrf_token": csrf_of(viewer)}).status_code == 403
    biller = as_role("biller")
    page = biller.get("/quarantine").get_data(as_text=True)
    assert f'action="/quarantine/{record}/reprocess"' in page
    failed = biller.post(f"/quarantine/{record}/reprocess", data={"csrf_token": csrf_of(biller)},
                         follow_redirects=True).get_data(as_text=True)
    assert f"Quarantined record #{record} (bulk/encounters Encounter/e1) still fails" in failed
    fix()
    done = biller.post(f"/quarantine/{record}/reprocess", data={"csrf_token": csrf_of(biller)},
                       follow_redirects=True).get_data(as_text=True)
    assert f"Quarantined record #{record} (bulk/encounters Encounter/e1) now reads cleanly and is resolved" in done
