"""Importing a till history: members created, points booked, idempotent, bad rows named."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.accounts.models import Member
from app.extensions import db
from app.imports.service import HEADER
from app.ledger.models import LedgerEntry, Purchase
from app.ledger.service import find_balance_mismatches
from tests.conftest import Shop, bearer

HEADER_LINE = ",".join(HEADER)


def _export(shop: Shop) -> str:
    store = shop.tills[0]["store_id"]
    other = shop.tills[1]["store_id"]
    return "\n".join(
        [
            HEADER_LINE,
            f"new.one@example.com,New One,R-1,{store},2025-03-01T10:00:00+01:00,1299,EUR",
            f"NEW.ONE@example.com,New One,R-2,{store},2025-02-01T10:00:00Z,4250,eur",
            f"grace@demo.shop,Grace Hopper,R-3,{other},2025-04-01T09:30:00,1000,EUR",
            f"second@example.com,,R-4,{store},2025-05-05T12:00:00+00:00,250,EUR",
            f"broken-email,Someone,R-5,{store},2025-05-05T12:00:00Z,100,EUR",
            f"x@example.com,X,R-6,{store},yesterday,100,EUR",
            f"x@example.com,X,R-7,{store},2025-05-05T12:00:00Z,-5,EUR",
            f"x@example.com,X,R-8,{store},2025-05-05T12:00:00Z,100,USD",
            "x@example.com,X,R-9,999,2025-05-05T12:00:00Z,100,EUR",
            f"x@example.com,X,R-10,{store},2999-01-01T00:00:00Z,100,EUR",
            "too,few,columns",
            "",
            f"new.one@example.com,New One,R-1,{store},2025-03-01T10:00:00+01:00,1299,EUR",
        ]
    )


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "export.csv"
    path.write_text(text, encoding="utf-8")
    return path


def _state(app: Flask) -> dict[str, Any]:
    with app.app_context():
        return {
            "members": db.session.scalar(select(func.count()).select_from(Member)),
            "purchases": db.session.scalar(select(func.count()).select_from(Purchase)),
            "entries": db.session.scalar(select(func.count()).select_from(LedgerEntry)),
            "balances": {
                email: balance
                for email, balance in db.session.execute(
                    select(Member.email, Member.points_balance)
                )
            },
        }


def test_cli_import_books_points_names_bad_rows_and_is_idempotent(
    app: Flask, shop: Shop, runner: Any, tmp_path: Path
) -> None:
    path = _write(tmp_path, _export(shop))
    before = _state(app)
    result = runner.invoke(args=["import", "purchases", str(path)])
    assert result.exit_code == 1, result.output  # bad rows: exit status 1, good rows in
    assert "12 rows: 4 imported, 1 already there, 7 bad; 2 members created" in result.output
    stderr = result.stderr if hasattr(result, "stderr") else result.output
    for expected in (
        "line 6: email 'broken-email' is not an e-mail address",
        "line 7: occurred_at 'yesterday' is not an ISO 8601 time",
        "line 8: amount_cents must be between 1 and",
        "line 9: currency 'USD' is not the programme's (EUR)",
        "line 10: there is no store 999",
        "line 11: occurred_at is in the future",
        "line 12: expected 7 columns, found 3",
    ):
        assert expected in stderr, expected
    after = _state(app)
    assert after["members"] == before["members"] + 2
    assert after["purchases"] == before["purchases"] + 4
    assert after["entries"] == before["entries"] + 4
    # 1 point per euro, rounded down: 12 + 42 for the new member, 10 for Grace, 2 for second.
    assert after["balances"]["new.one@example.com"] == 54
    assert after["balances"]["grace@demo.shop"] == before["balances"]["grace@demo.shop"] + 10
    assert after["balances"]["second@example.com"] == 2
    with app.app_context():
        new_one = db.session.scalar(select(Member).where(Member.email == "new.one@example.com"))
        assert new_one is not None
        # Signed up at the earliest imported purchase, R-2 (though R-1 came first in the file).
        assert new_one.created_at.isoformat() == "2025-02-01T10:00:00+00:00"
        assert new_one.display_name == "New One"
        second = db.session.scalar(select(Member).where(Member.email == "second@example.com"))
        assert second is not None and second.display_name == "second"
        purchase = db.session.scalar(select(Purchase).where(Purchase.receipt_id == "R-1"))
        assert purchase is not None and purchase.source == "import" and purchase.till_id is None
        assert purchase.created_at.isoformat() == "2025-03-01T09:00:00+00:00"
        entry = db.session.get(LedgerEntry, purchase.ledger_entry_id)
        assert entry is not None and entry.created_at == purchase.created_at
        assert entry.points == 12 and entry.kind == "earn"
        assert find_balance_mismatches() == []

    again = runner.invoke(args=["import", "purchases", str(path)])
    assert "4 rows" not in again.output and "0 imported, 5 already there, 7 bad" in again.output
    assert _state(app) == after


def test_no_points_imports_history_only(
    app: Flask, shop: Shop, runner: Any, tmp_path: Path
) -> None:
    path = _write(tmp_path, _export(shop))
    before = _state(app)
    runner.invoke(args=["import", "purchases", str(path), "--no-points"])
    after = _state(app)
    assert after["purchases"] == before["purchases"] + 4
    assert after["entries"] == before["entries"]
    assert after["balances"]["new.one@example.com"] == 0


def test_a_wrong_header_refuses_the_whole_file(
    app: Flask, shop: Shop, runner: Any, tmp_path: Path
) -> None:
    path = _write(tmp_path, "mail,name,receipt\nx@example.com,X,R-1\n")
    result = runner.invoke(args=["import", "purchases", str(path)])
    assert result.exit_code != 0
    assert "The first line must be exactly: email,display_name" in result.output


def test_manager_upload_imports_into_own_stores(
    app: Flask, shop: Shop, client: FlaskClient
) -> None:
    token = shop.login_staff("manager")
    text = _export(shop)
    answer = client.post(
        "/api/v1/imports/purchases",
        data={"file": (io.BytesIO(("\ufeff" + text).encode()), "export.csv")},
        headers=bearer(token),
        content_type="multipart/form-data",
    )
    assert answer.status_code == 200, answer.get_json()
    report = answer.get_json()
    assert (report["imported"], report["duplicates"], report["bad_row_count"]) == (4, 1, 7)
    assert {"line": 10, "reason": "there is no store 999 (or it is not one of yours)"} in report[
        "bad_rows"
    ]
    again = client.post(
        "/api/v1/imports/purchases",
        query_string={"no_points": "true"},
        data={"file": (io.BytesIO(text.encode()), "export.csv")},
        headers=bearer(token),
        content_type="multipart/form-data",
    ).get_json()
    assert (again["imported"], again["duplicates"]) == (0, 5)


def test_upload_needs_a_file_and_a_manager(shop: Shop, client: FlaskClient) -> None:
    manager = shop.login_staff("manager")
    missing = client.post("/api/v1/imports/purchases", headers=bearer(manager))
    assert missing.status_code == 400
    assert missing.get_json()["type"] == "import-file-required"
    cashier = client.post(
        "/api/v1/imports/purchases",
        data={"file": (io.BytesIO(b"x"), "x.csv")},
        headers=bearer(shop.login_staff("cashier")),
        content_type="multipart/form-data",
    )
    assert cashier.status_code == 403
    latin = client.post(
        "/api/v1/imports/purchases",
        data={"file": (io.BytesIO((HEADER_LINE + "\nJos\xe9\n").encode("latin-1")), "x.csv")},
        headers=bearer(manager),
        content_type="multipart/form-data",
    )
    assert latin.status_code == 422 and latin.get_json()["type"] == "import-not-utf8"


def test_an_upload_larger_than_the_json_body_limit_is_read(shop: Shop, client: FlaskClient) -> None:
    padding = "x" * 180
    rows = [HEADER_LINE] + [
        f"big{index}@import.test,Guest {padding},R-{index},999,2026-01-05T10:00:00Z,1000,EUR"
        for index in range(1_600)
    ]
    body = "\n".join(rows).encode()
    assert len(body) > 256 * 1024  # above MAX_CONTENT_LENGTH
    answer = client.post(
        "/api/v1/imports/purchases",
        data={"file": (io.BytesIO(body), "export.csv")},
        headers=bearer(shop.login_staff("manager")),
        content_type="multipart/form-data",
    )
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["bad_row_count"] == 1_600  # store 999 is not the manager's
