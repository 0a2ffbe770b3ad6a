"""The server-rendered pages as a biller uses them (the browser tests drive the same pages in Chromium)."""

from __future__ import annotations

import re

from tests.web.conftest import csrf_of


def test_the_dashboard_shows_claims_by_status_and_the_money(as_role):
    page = as_role("viewer").get("/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert re.search(r'<a href="/claims\?status=held">held</a></td><td class="num">3</td>', text)
    assert 'id="billed">0.00<' in text and "No open denials." in text


def test_claims_filter_by_status_and_open_a_claim(as_role, world):
    client = as_role("viewer")
    held = client.get("/claims?status=held").get_data(as_text=True)
    assert held.count('<td>held</td>') == 3 and "<td>ready</td>" not in held
    pcn = world.pcn_of("enc-028")
    page = client.get(f"/claims/{pcn}").get_data(as_text=True)
    assert f"Claim {pcn}" in page and "psychotherapy.time_band" in page and '&#34;resourceType&#34;: &#34;Claim&#34;' in page
    assert client.get("/claims/NOPE").status_code == 404


def test_a_biller_overrides_a_held_claim_from_the_queue(as_role, world):
    client = as_role("biller")
    pcn = world.pcn_of("enc-028")
    queue = client.get("/held").get_data(as_text=True)
    assert f'id="held-{pcn}"' in queue and 'name="reason"' in queue
    done = client.post(f"/claims/{pcn}/override", data={"rule": "psychotherapy.time_band",
                                                         "reason": "payer confirmed 41 minutes bills as 90837",
                                                         "csrf_token": csrf_of(client)}, follow_redirects=True)
    assert done.status_code == 200
    assert f"{pcn}: psychotherapy.time_band overridden; the claim is ready" in done.get_data(as_text=True)
    assert world.version(pcn).status == "ready"
    assert f'id="held-{pcn}"' not in client.get("/held").get_data(as_text=True)


def test_a_viewer_sees_the_queue_without_the_override_form_and_cannot_post_one(as_role, world):
    client = as_role("viewer")
    assert 'name="reason"' not in client.get("/held").get_data(as_text=True)
    pcn = world.pcn_of("enc-028")
    refused = client.post(f"/claims/{pcn}/override", data={"rule": "psychotherapy.time_band", "reason": "x",
                                                            "csrf_token": csrf_of(client)})
    assert refused.status_code == 403 and world.version(pcn).status == "held"


def test_signing_out_ends_the_session(as_role):
    client = as_role("viewer")
    out = client.post("/logout", data={"csrf_token": csrf_of(client)})
    assert out.status_code == 302 and out.headers["Location"] == "/login"
    assert client.get("/api/v1/me").status_code == 401


def test_a_held_replacement_is_released_from_the_queue_page(as_role, world):
    _, replacement = world.held_replacement("enc-002")
    viewer = as_role("viewer")
    assert f"/claims/{replacement}/release" not in viewer.get("/held").get_data(as_text=True)
    biller = as_role("biller")
    queue = biller.get("/held").get_data(as_text=True)
    assert f'action="/claims/{replacement}/release"' in queue
    done = biller.post(f"/claims/{replacement}/release", data={"reason": "checked against the chart",
                                                               "csrf_token": csrf_of(biller)}, follow_redirects=True)
    assert done.status_code == 200 and world.version(replacement).status == "ready"


def test_claims_page_filters_sorts_and_exports_csv(as_role, world):
    client = as_role("viewer")
    pcn = world.pcn_of("enc-002")
    detail = client.get(f"/api/v1/claims/{pcn}").json
    page = client.get(f"/claims?payer={detail['payer']}&provider={detail['provider']}"
                      f"&service_from={detail['service_date']}&service_to={detail['service_date']}")
    assert pcn in page.get_data(as_text=True)
    assert client.get("/claims?service_to=1990-01-01").get_data(as_text=True).count("No claims.") == 1
    assert "service_from must be a date" in client.get("/claims?service_from=soon").get_data(as_text=True)
    by_status = client.get("/claims?sort=status&dir=asc").get_data(as_text=True)
    assert by_status.index("<td>held</td>") < by_status.index("<td>ready</td>")
    exported = client.get("/claims?status=held&format=csv")
    assert exported.headers["Content-Disposition"] == 'attachment; filename="claims.csv"'
    lines = exported.get_data(as_text=True).splitlines()
    assert lines[0] == "pcn,status,version,source,payer,provider,service_date,updated_at,hold_reason"
    assert len(lines) == 4 and all(",held," in line for line in lines[1:])
