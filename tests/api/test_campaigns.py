"""Campaigns: creation through the API and the CLI, the one-time export, storage after a leak."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from stdnum import luhn

from app.campaigns import codes as campaign_codes
from app.campaigns import export as campaign_export
from app.campaigns import issuing
from app.campaigns.models import Campaign
from app.extensions import db
from coupons.codes import ALPHABET, format_code, generate_codes, normalise_code
from coupons.storage import code_lookup_hash
from tests.api.test_coupon_helpers import member_coupon, new_codes, problem_type, redeem, validate
from tests.conftest import Shop, bearer

FIVE_OFF = {"kind": "amount_off", "amount_cents": 500}


def _create(shop: Shop, token: str, **fields: Any) -> Any:
    """Create a campaign through the API."""
    body = {"name": "Spring", "benefit": FIVE_OFF, "code_count": 20, **fields}
    return shop.client.post("/api/v1/campaigns", json=body, headers=bearer(token))


def _export(shop: Shop, token: str, campaign_id: int) -> Any:
    """Download a campaign's codes through the API."""
    return shop.client.get(f"/api/v1/campaigns/{campaign_id}/codes.csv", headers=bearer(token))


def test_campaign_codes_are_exported_once_and_the_second_export_is_refused(shop: Shop) -> None:
    manager = shop.login_staff("manager")
    created = _create(shop, manager, code_count=25)
    assert created.status_code == 201, created.get_json()
    campaign = created.get_json()
    assert (campaign["code_count"], campaign["audience"]) == (25, "anonymous")
    export = _export(shop, manager, campaign["campaign_id"])
    assert export.status_code == 200
    assert export.mimetype == "text/csv"
    assert export.headers["Cache-Control"] == "no-store"
    rows = export.get_data(as_text=True).splitlines()
    assert len(rows) == len(set(rows)) == 25
    for row in rows:
        canonical = row.replace("-", "")
        assert row == format_code(canonical)
        # An independent Luhn mod 32 check: python-stdnum, not the project's own code.
        assert luhn.is_valid(canonical, alphabet=ALPHABET)
    again = _export(shop, shop.login_staff("admin"), campaign["campaign_id"])
    assert again.status_code == 409
    problem = again.get_json()
    assert problem["type"] == "codes-already-exported"
    assert problem["exported_by"]["staff_id"] == shop.logins["manager"]["staff_id"]
    assert problem["exported_at"]
    assert redeem(shop.client, shop.open_till(0), rows[0]).status_code == 200


def test_codes_are_unique_across_campaigns_even_when_the_generator_repeats_one(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    [existing] = new_codes(shop)
    real_generate = generate_codes
    calls = {"count": 0}

    def repeating(count: int) -> list[str]:
        """Draw codes, the first batch starting with an existing one."""
        calls["count"] += 1
        fresh = real_generate(count)
        return [existing, *fresh[1:]] if calls["count"] == 1 else fresh

    monkeypatch.setattr(issuing, "generate_codes", repeating)
    codes = new_codes(shop, 10)
    assert existing not in codes
    assert len(set(codes)) == 10
    till = shop.open_till(0)
    assert all(redeem(shop.client, till, code).status_code == 200 for code in codes[:2])


def test_batch_hashing_and_csv_agree_with_the_coupon_library(app: Flask) -> None:
    codes = generate_codes(50)
    with app.app_context():
        key = campaign_codes.storage_keys().lookup
        assert issuing._lookup_hashes(codes, key) == [code_lookup_hash(c, key) for c in codes]
    assert campaign_export.codes_csv(codes) == "".join(format_code(c) + "\r\n" for c in codes)


def test_member_campaign_puts_one_coupon_in_each_listed_wallet(shop: Shop) -> None:
    admin = shop.login_staff("admin")
    created = _create(
        shop, admin, audience="members", code_count=None, member_ids=[shop.member_id(0)]
    )
    assert created.status_code == 201, created.get_json()
    campaign_id = created.get_json()["campaign_id"]
    ada = shop.client.get("/api/v1/me/coupons", headers=bearer(shop.login_member(0))).get_json()
    grace = shop.client.get("/api/v1/me/coupons", headers=bearer(shop.login_member(1))).get_json()
    assert [c["campaign_id"] for c in ada] == [campaign_id]
    assert grace == []
    export = _export(shop, admin, campaign_id)
    assert (export.status_code, problem_type(export)) == (409, "campaign-has-no-export")
    till = shop.open_till(0)
    answer = redeem(shop.client, till, ada[0]["code"], card_code=shop.static_code(0))
    assert answer.status_code == 200


def test_managers_run_campaigns_only_in_their_own_stores(shop: Shop) -> None:
    admin = bearer(shop.login_staff("admin"))
    store = shop.client.post("/api/v1/stores", json={"name": "Köln"}, headers=admin).get_json()
    manager = shop.login_staff("manager")
    refused = _create(shop, manager, store_ids=[store["id"]])
    assert (refused.status_code, problem_type(refused)) == (403, "forbidden")
    mine = _create(shop, manager).get_json()
    assert mine["store_ids"] == sorted(t["store_id"] for t in shop.tills)
    assert _create(shop, shop.login_staff("cashier")).status_code == 403


INCONSISTENT_CAMPAIGNS: list[dict[str, Any]] = [
    {"benefit": {"kind": "percent_off", "percent": 150}},
    {"benefit": {"kind": "amount_off", "amount_cents": 100, "percent": 5}},
    {"code_count": 0},
    {"code_count": None},
    {"valid_from": "2030-01-02T00:00:00+00:00", "valid_until": "2030-01-01T00:00:00+00:00"},
    {"audience": "members", "code_count": None, "member_ids": []},
]


def test_inconsistent_campaigns_are_refused(shop: Shop) -> None:
    admin = shop.login_staff("admin")
    for fields in INCONSISTENT_CAMPAIGNS:
        response = _create(shop, admin, **fields)
        assert (response.status_code, problem_type(response)) == (422, "validation-error"), fields


def test_voiding_a_campaign_voids_its_coupons_and_destroys_unexported_codes(shop: Shop) -> None:
    manager = shop.login_staff("manager")
    campaign_id = _create(shop, manager, code_count=3).get_json()["campaign_id"]
    with shop.app.app_context():
        codes = campaign_export.export_campaign_codes(campaign_id, staff_id=None, via="test")
        db.session.rollback()  # take the codes but leave the campaign unexported
    voided = shop.client.post(f"/api/v1/campaigns/{campaign_id}/void", headers=bearer(manager))
    assert voided.status_code == 200
    assert voided.get_json()["voided_count"] == 3
    response = redeem(shop.client, shop.open_till(0), codes[0])
    assert (response.status_code, problem_type(response)) == (410, "coupon-voided")
    export = _export(shop, manager, campaign_id)
    assert (export.status_code, problem_type(export)) == (410, "campaign-voided")


def _dump(app: Flask) -> list[bytes]:
    """Return every text, bytes and JSON value of every table, as bytes."""
    values: list[bytes] = []
    with app.app_context():
        metadata = sa.MetaData()
        metadata.reflect(bind=db.engine)
        with db.engine.connect() as connection:
            for table in metadata.sorted_tables:
                for row in connection.execute(sa.select(table)):
                    for value in row:
                        if isinstance(value, str):
                            values.append(value.encode())
                        elif isinstance(value, bytes | bytearray | memoryview):
                            values.append(bytes(value))
                        elif isinstance(value, dict | list):
                            values.append(json.dumps(value).encode())
    return values


def _assert_no_code_in(dump: list[bytes], codes: list[str]) -> None:
    """Assert that no code appears in the dump, canonical or formatted."""
    forms = [form.encode() for code in codes for form in (code, format_code(code))]
    for value in dump:
        upper = value.upper()
        leaked = [form for form in forms if form in upper]
        assert not leaked, f"plain code found in the database: {leaked[0]!r}"


def test_a_database_dump_holds_no_redeemable_plain_code(shop: Shop, app: Flask) -> None:
    manager = shop.login_staff("manager")
    campaign_id = _create(shop, manager, code_count=200).get_json()["campaign_id"]
    wallet = member_coupon(shop, 0)
    with app.app_context():
        # The test peeks at the codes without exporting them (rolled back).
        codes = campaign_export.export_campaign_codes(campaign_id, staff_id=None, via="test")
        db.session.rollback()
    till = shop.open_till(0)
    assert validate(shop.client, till, codes[0]).status_code == 200
    assert redeem(shop.client, till, codes[1]).status_code == 200
    wrong_check = "0" if codes[2][-1] != "0" else "1"
    assert redeem(shop.client, till, codes[2][:-1] + wrong_check).status_code == 422
    everything = [*codes, wallet.code]
    _assert_no_code_in(_dump(app), everything)
    exported = _export(shop, manager, campaign_id).get_data(as_text=True).splitlines()
    assert sorted(normalise_code(row) for row in exported) == sorted(codes)
    _assert_no_code_in(_dump(app), everything)
    with app.app_context():
        campaign = db.session.get(Campaign, campaign_id)
        assert campaign is not None and campaign.export_sealed is None


def test_cli_generates_codes_into_a_private_file_and_records_the_export(
    shop: Shop, runner: Any, tmp_path: Path
) -> None:
    output = tmp_path / "codes.csv"
    result = runner.invoke(
        args=["coupons", "generate", "--name", "Flyer", "--count", "30"]
        + ["--percent-off", "10", "--cap", "500", "--output", str(output)]
    )
    assert result.exit_code == 0, result.output
    rows = output.read_text().splitlines()
    assert len(set(rows)) == 30
    assert output.stat().st_mode & 0o077 == 0
    with shop.app.app_context():
        campaign = db.session.scalar(sa.select(Campaign).where(Campaign.name == "Flyer"))
        assert campaign is not None
        assert campaign.exported_via == "cli"
        campaign_id = campaign.id
    export = _export(shop, shop.login_staff("admin"), campaign_id)
    assert (export.status_code, problem_type(export)) == (409, "codes-already-exported")
    answer = redeem(shop.client, shop.open_till(0), rows[0], basket_cents=10_000).get_json()
    assert answer["discount_cents"] == 500
    again = runner.invoke(args=["coupons", "generate", "--name", "X", "--count", "1"])
    assert again.exit_code != 0
    base = ["coupons", "generate", "--name", "Kept", "--count", "5", "--amount-off", "100"]
    elsewhere = runner.invoke(args=[*base, "--store", "999", "--keep-for-export"])
    assert elsewhere.exit_code != 0
    assert "There is no store 999" in elsewhere.output
    kept = runner.invoke(args=[*base, "--keep-for-export"])
    assert kept.exit_code == 0, kept.output
    manager = shop.login_staff("manager")
    listed = shop.client.get("/api/v1/campaigns", headers=bearer(manager)).get_json()
    assert [(c["name"], c["redeemed_count"]) for c in listed] == [("Kept", 0), ("Flyer", 1)]
    export = _export(shop, manager, listed[0]["campaign_id"])
    assert len(export.get_data(as_text=True).splitlines()) == 5
