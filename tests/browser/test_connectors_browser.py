"""An admin adds an EHR source in a real Chromium: chooses its type, fills the settings from the template, tests
the connection (which fails, then works once the folder has an export), saves it, sees it listed as added here,
and removes it."""

from __future__ import annotations

import json

import pytest

from tests.browser.conftest import sign_in
from tests.browser.test_ui import expect

pytestmark = pytest.mark.browser


def test_an_admin_adds_tests_and_removes_a_source(page, server, tmp_path):
    folder = tmp_path / "bulk-export"
    folder.mkdir()
    sign_in(page, server, "admin")
    page.get_by_role("link", name="Connectors").first.click()
    page.get_by_role("link", name="Add a source").click()
    expect(page.get_by_role("heading", name="Add an EHR source")).to_be_visible()
    page.locator("#choose-type select[name=type]").select_option("fhir_bulk")
    page.get_by_role("button", name="Use this type").click()
    expect(page.locator("#fields")).to_contain_text("folder with <ResourceType>.*.ndjson files")

    page.locator("input[name=name]").fill("bulk-export")
    page.locator("textarea[name=settings]").fill(f"folder: {folder}\n")
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#test-result")).to_contain_text("The connection failed: source bulk-export: no "
                                                         "Encounter.*.ndjson")
    (folder / "Encounter.000.ndjson").write_text(json.dumps({"resourceType": "Encounter", "id": "e"}) + "\n")
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#test-result")).to_contain_text("The connection works")

    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").first).to_contain_text("Source bulk-export saved (revision 1)")
    row = page.locator("#source-bulk-export")
    expect(row).to_contain_text("added here")
    row.get_by_role("button", name="Test connection").click()
    expect(page.get_by_role("status").first).to_contain_text("Source bulk-export: the connection works")

    page.locator("#source-bulk-export").get_by_role("link", name="Change").click()
    page.get_by_role("button", name="Remove source bulk-export").click()
    expect(page.get_by_role("status").first).to_contain_text("Source bulk-export removed")
    expect(page.locator("#source-bulk-export")).to_have_count(0)
