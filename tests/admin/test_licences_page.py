"""A tenant's licences in the admin UI, over HTTP: a licence is issued, downloaded, verified
when pasted (a tampered copy is refused), and revoked, each change with the session's CSRF
token (refused without it); seat usage is shown per app."""

from __future__ import annotations

import json
import re

import pytest

from tests.admin.stage import signed_in_client
from tests.support.cli import tenantry


@pytest.fixture
def admin(stage, urls):
    assert tenantry(urls, "licenses", "keys", "rotate").returncode == 0
    client, csrf = signed_in_client(stage)
    yield client, csrf
    client.close()


def test_issue_download_verify_and_revoke_a_licence(stage, admin) -> None:
    client, csrf = admin
    base = f"/admin/tenants/{stage.tenant}"
    assert f'href="{base}/licences"' in client.get(base).text
    page = client.get(f"{base}/licences")
    assert page.status_code == 200, page.text
    assert "No licences." in page.text

    form = {"app": "thinktank", "plan": "team", "seats": "5", "features": "reports exports"}
    assert client.post(f"{base}/licences", data=form).status_code == 403
    issued = client.post(f"{base}/licences", data={**form, "csrf": csrf})
    assert issued.status_code == 303, issued.text
    page = client.get(issued.headers["location"]).text
    assert "licence issued for thinktank" in page
    licence_id = re.search(r"<code>([0-9a-f-]{36})</code>", page).group(1)
    assert "exports, reports" in page
    # One person signed up to thinktank on the stage: 1 of 5 seats.
    assert "1 of 5" in page

    file = client.get(f"{base}/licences/{licence_id}/file")
    assert file.status_code == 200
    assert json.loads(file.content)["format"] == "tenantry-licence/1"
    verified = client.post(
        f"{base}/licences/verify", data={"document": file.text, "csrf": csrf}
    ).text
    assert f"valid: licence {licence_id}" in verified
    document = json.loads(file.content)
    document["signature"] = document["signature"][:-4] + "AAAA"
    refused = client.post(
        f"{base}/licences/verify", data={"document": json.dumps(document), "csrf": csrf}
    ).text
    assert "licence refused (bad_signature)" in refused

    revoke = f"{base}/licences/{licence_id}/revoke"
    assert client.post(revoke, data={"reason": "ended"}).status_code == 403
    revoked = client.post(revoke, data={"reason": "ended", "csrf": csrf})
    assert revoked.status_code == 303, revoked.text
    page = client.get(f"{base}/licences").text
    assert "revoked by" in page
    assert "blocked" in page
    again = client.post(revoke, data={"reason": "ended", "csrf": csrf})
    assert again.status_code == 404
