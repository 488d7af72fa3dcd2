"""The web app's parts without a browser: accounts, the API addresses, redirects, search folding, the
dashboard's arithmetic, the chart."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from services.runner import embedded_config, service_config
from services.web.api import api_urls
from services.web.charts import Series, bars
from services.web.dashboard import monthly, period_months, tile
from services.web.signin import safe_next
from services.web.text import fold
from shared.accounts import add_account, check_password
from shared.auth import AuthStore, Role
from shared.config import StoreSettings


def test_accounts_keep_a_hash_and_answer_a_wrong_password_like_an_unknown_user(tmp_path: Path) -> None:
    store = AuthStore(StoreSettings(kind="sqlite", data_dir=str(tmp_path)))
    try:
        add_account(store, "canbo", "mat-khau-dai", Role.WARD_STAFF, "ward-1")
        row = store.account("canbo")
        assert row is not None and "mat-khau-dai" not in str(row) and len(row["hash"]) == 64
        account = check_password(store, "canbo", "mat-khau-dai")
        assert account is not None and (account.role, account.unit_id) == (Role.WARD_STAFF, "ward-1")
        assert check_password(store, "canbo", "sai") is None
        assert check_password(store, "khong-co", "mat-khau-dai") is None
        with pytest.raises(ValueError, match="ít nhất 8"):
            add_account(store, "ngan", "1234", Role.AUDITOR, None)
        with pytest.raises(ValueError, match="needs a unit"):
            add_account(store, "thieu", "mat-khau-dai", Role.WARD_STAFF, None)
        with pytest.raises(ValueError, match="API keys"):
            add_account(store, "may", "mat-khau-dai", Role.SERVICE, None)
        add_account(store, "canbo", "mat-khau-moi", Role.DISTRICT_STAFF, "d-1")  # a reset replaces the row
        assert check_password(store, "canbo", "mat-khau-dai") is None
        assert check_password(store, "canbo", "mat-khau-moi").role is Role.DISTRICT_STAFF
    finally:
        store.close()


def test_the_apis_are_the_own_port_embedded_and_configured_when_distributed() -> None:
    embedded = api_urls(embedded_config(port=8123))
    assert embedded == {s: f"http://127.0.0.1:8123/{s}" for s in ("members", "meetings", "reporting")}
    distributed = api_urls(service_config("web", {"CHIBO_REPORTING_URL": "http://reporting:8003/reporting"}))
    assert distributed["reporting"] == "http://reporting:8003/reporting"
    assert distributed["members"] == "http://127.0.0.1:8001/members"


@pytest.mark.parametrize("target, expected", [
    ("/web/cells/x", "/web/cells/x"), ("https://evil.example/", "/web/"), ("//evil.example/x", "/web/"),
    ("javascript:alert(1)", "/web/"), ("/\\evil.example", "/web/"), ("", "/web/"), (None, "/web/")])
def test_sign_in_only_returns_to_this_site(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


def test_search_ignores_diacritics_and_case() -> None:
    assert fold("Nguyễn Văn Đức") == "nguyen van duc"
    assert fold("nguyen van duc") in fold("Ông Nguyễn Văn Đức")


def test_months_and_monthly_figures() -> None:
    assert period_months("2026-Q2") == ["2026-04", "2026-05", "2026-06"]
    assert len(period_months("2025")) == 12 and period_months("2026-03") == ["2026-03"]
    rows = [{"month": "2026-04", "due": True, "regular_held": True, "present": 8, "attendance_base": 10},
            {"month": "2026-04", "due": True, "regular_held": False, "present": 0, "attendance_base": 0},
            {"month": "2026-05", "due": False, "regular_held": False, "present": 0, "attendance_base": 0}]
    april, may, june = monthly(rows, period_months("2026-Q2"))
    assert (april["due"], april["met"], april["met_rate"], april["attendance_rate"]) == (2, 1, 0.5, 0.8)
    assert may["met_rate"] is None and june["attendance_rate"] is None


def test_tiles_show_the_policy_target_and_whether_it_is_met() -> None:
    day = dt.date(2026, 3, 1)
    attendance = tile("attendance", {"present": 80, "base": 100, "rate": 0.8}, "vi", day)
    assert (attendance["value"], attendance["target"], attendance["met"]) == ("80%", "≥ 85%", False)
    assert attendance["detail"] == "80/100"
    spoke = tile("participation", {"speakers": 3, "present": 12, "rate": 0.25}, "vi", day)
    assert (spoke["value"], spoke["detail"], spoke["target"]) == ("25%", "3/12", "")
    assert tile("flagged_members", 0, "vi", day)["met"] is True
    assert tile("regular_every_month", {"count": 3, "of": 3, "rate": 1.0}, "en", day)["target"] == "100%"
    assert tile("meetings", 1234, "vi", day)["value"] == "1.234"


def test_the_chart_is_inline_svg_with_a_title_per_bar() -> None:
    svg = bars(["01", "02"], [Series("Chi bộ", "bar-a", [0.5, None], ["1/2", "—"])], "Biểu đồ <tháng>")
    assert svg.startswith("<svg") and "&lt;tháng&gt;" in svg and svg.count("<rect") == 1
    assert "<title>01 · Chi bộ: 1/2</title>" in svg
