from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from core.roles import DOCUMENT_ADMINS
from tests.factories import collection_create, user_create
from tests.helpers import database_url_for, sign_in
from tests.ingestion import samples

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_upload_on_documents_page_reaches_ready_live(
    daphne_server: str, celery_worker_for, browser_page, artifacts_dir: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    celery_worker_for(settings.REDIS_URL, database_url_for(settings.DATABASES["default"]["NAME"]))
    user_create(username="docadmin-e2e", groups=(DOCUMENT_ADMINS, "team"))
    collection_create(name="Team handbook", groups=("team",))
    upload = tmp_path / "gadget-manual.md"
    upload.write_bytes(samples.MARKDOWN)
    bad = tmp_path / "slides.pptx"
    bad.write_bytes(b"not supported")

    page = browser_page
    sign_in(page, daphne_server, "docadmin-e2e", "/documents/")
    expect(page).to_have_url(f"{daphne_server}/documents/")
    expect(page.locator("#connection")).to_have_text("live", timeout=10_000)

    page.set_input_files("#id_files", [str(upload), str(bad)])
    expect(page.locator("#drop-label")).to_contain_text("2 file(s) chosen")
    page.click("#upload-form button[type=submit]")
    row = page.locator("#document-rows tr").first
    expect(row).to_contain_text("gadget-manual.md", timeout=10_000)
    expect(page.locator("#upload-errors")).to_contain_text("not a supported type")
    page.screenshot(path=str(artifacts_dir / "issue3-documents-uploading.png"), full_page=True)
    # Status arrives over the websocket: queued -> parsing -> ... -> ready, without a reload.
    expect(row).to_have_attribute("data-status", "ready", timeout=90_000)
    expect(row).to_contain_text("Ready")
    expect(row).to_contain_text("Gadget Manual")
    page.screenshot(path=str(artifacts_dir / "issue3-documents-ready.png"), full_page=True)
