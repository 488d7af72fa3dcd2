"""The web app in a real browser: a cell secretary records a whole meeting through the forms and the ward's
dashboard shows it; a ward user cannot open another ward's pages; no page logs a console error."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import requests

from tests.browser.conftest import ARTEFACTS, PASSWORD, yesterday_vn
from tests.support import wait_for

# Markup checks on every page: each form control has a label, ids are unique, the page has a title, one h1
# and a language. (Not a full audit: what a test can check without an accessibility engine.)
A11Y_CHECK = """
const problems = [];
const ids = {};
document.querySelectorAll('[id]').forEach(e => { ids[e.id] = (ids[e.id] || 0) + 1; });
Object.keys(ids).filter(k => ids[k] > 1).forEach(k => problems.push('duplicate id ' + k));
document.querySelectorAll('input, select, textarea').forEach(e => {
  if (e.type === 'hidden') return;
  const labelled = e.getAttribute('aria-label') || e.getAttribute('aria-labelledby') ||
    (e.id && document.querySelector('label[for="' + e.id + '"]')) || e.closest('label');
  if (!labelled) problems.push('no label for ' + (e.name || e.id || e.outerHTML.slice(0, 60)));
});
if (!document.title) problems.push('no title');
if (!document.documentElement.lang) problems.push('no lang');
if (document.querySelectorAll('h1').length !== 1) problems.push('h1 count ' + document.querySelectorAll('h1').length);
return problems;
"""


class Pages:
    """The browser, with what the tests do on the pages; console errors are collected from every page."""

    def __init__(self, driver: Any, base: str):
        self.driver, self.base = driver, base
        self.console: list[tuple[str, dict[str, Any]]] = []

    def _collect(self) -> None:
        """Every console error, and every failed load of a script, a stylesheet or an image. Only the page's own
        document may answer a deliberate refusal (a form refused with 422, another ward's page with 403): the
        tests check those statuses themselves."""
        here = self.driver.current_url.split("?")[0]
        for entry in self.driver.get_log("browser"):
            if entry.get("level") not in ("SEVERE", "ERROR"):
                continue
            message = str(entry.get("message", ""))
            refusal = re.search(r"status of (403|422) ", message)
            if entry.get("source") == "network" and refusal and message.split(" ")[0].split("?")[0] == here:
                continue
            self.console.append((self.driver.current_url, entry))
        for problem in self.driver.execute_script(A11Y_CHECK):
            self.console.append((self.driver.current_url, {"accessibility": problem}))

    def visit(self, path: str) -> None:
        self.driver.get(self.base + path)
        self._collect()

    def css(self, selector: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def all(self, selector: str) -> list[Any]:
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def set(self, selector: str, value: str) -> None:
        """Set an input's value (date and time inputs too, whatever the browser's locale)."""
        self.driver.execute_script("arguments[0].value = arguments[1];", self.css(selector), value)

    def type(self, selector: str, value: str) -> None:
        element = self.css(selector)
        element.clear()
        element.send_keys(value)

    def submit(self, selector: str) -> None:
        """Click a submit button and wait for the next page."""
        old = self.css("html")
        self.css(selector).click()
        wait_for(lambda: _stale(old), timeout=30, what=f"the page after {selector}")
        self._collect()

    def sign_in(self, user: str) -> None:
        self.driver.delete_all_cookies()
        self.visit("/")
        self.type("#username", user)
        self.type("#password", PASSWORD)
        self.submit("form[action='/web/sign-in'] button[type=submit]")
        assert "/web/sign-in" not in self.driver.current_url, self.text()

    def sign_out(self) -> None:
        self.submit("form[action='/web/sign-out'] button")

    def text(self) -> str:
        return str(self.css("body").text)

    def shot(self, name: str) -> None:
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(ARTEFACTS / f"{name}.png"))

    def tile(self, figure: str) -> str:
        return str(self.css(f"li[data-figure='{figure}'] .tile-value").text)


def _stale(element: Any) -> bool:
    from selenium.common.exceptions import StaleElementReferenceException

    try:
        element.tag_name  # noqa: B018 - raises once the page it belonged to is gone
        return False
    except StaleElementReferenceException:
        return True


@pytest.fixture(scope="module")
def pages(browser: Any, world: dict[str, Any]) -> Pages:
    return Pages(browser, world["base"])


def dashboard_path(world: dict[str, Any]) -> str:
    return f"/web/dashboard?unit={world['ward']}&period={yesterday_vn().year}"


def test_secretary_records_a_meeting_and_the_ward_dashboard_counts_it(pages: Pages, world: dict[str, Any]) -> None:
    day = yesterday_vn() - dt.timedelta(days=1)  # the meeting; a second one reviews its resolution a day later
    pages.sign_in("ward")
    pages.visit(dashboard_path(world))
    before = int(pages.tile("meetings"))
    assert pages.css("html").get_attribute("lang") == "vi" and "Bảng theo dõi" in pages.text()
    pages.sign_out()

    pages.sign_in("secretary")
    assert f"/web/cells/{world['cell']}" in pages.driver.current_url  # a secretary lands on the cell page
    pages.shot("cell-page")
    pages.set("#date", day.isoformat())
    pages.set("#start_time", "19:00")
    pages.submit("#schedule button[type=submit]")
    assert "/web/meetings/" in pages.driver.current_url, pages.text()
    meeting_url = pages.driver.current_url.split("?")[0]
    m = world["m"]
    # hold: the end before the start is refused next to the field, in Vietnamese
    pages.set("#date", day.isoformat())
    pages.set("#start_time", "19:00")
    pages.set("#end_time", "18:00")
    pages.submit("#hold button[type=submit]")
    error = pages.css("#err-end_time").text
    assert error and pages.css("#end_time").get_attribute("aria-invalid") == "true", pages.text()
    pages.set("#date", day.isoformat())
    pages.set("#start_time", "19:00")
    pages.set("#end_time", "21:00")
    pages.submit("#hold button[type=submit]")
    assert pages.css("#meeting-status").text == "đã diễn ra", pages.text()

    # attendance: four present, one excused with a reason
    for member in m:
        value = "excused" if member == m[3] else "present"
        pages.css(f"input[name='att_{member}'][value='{value}']").click()
    pages.type(f"#reason_{m[3]}", "ốm")
    pages.submit("#attendance button[type=submit]")
    assert "Có mặt: 4/5" in pages.css("#att-h").text, pages.text()

    for step in ("opening", "news_and_policy", "review_and_follow_up", "ho_chi_minh_study", "discussion",
                 "praise_and_criticism", "next_month_tasks", "conclusion_and_vote", "minutes_read"):
        pages.css(f"#step-{step}").click()
    pages.type("#note_opening", "Thông qua chương trình")
    pages.submit("#agenda-steps button[type=submit]")
    assert len(pages.all("#agenda-steps input[type=checkbox]:checked")) == 9

    pages.type("#gist", "Báo cáo tình hình khu phố")
    pages.submit("#speakers button[type=submit]")
    assert "Báo cáo tình hình khu phố" in pages.css("#speakers").text

    # a vote with a missing count: the API's Vietnamese message beside the field
    pages.type("#text", "Vận động vệ sinh môi trường")
    pages.submit("#resolutions button[type=submit]")
    assert pages.css("#err-votes_for").text, pages.text()
    pages.type("#votes_for", str(len(pages.all("input[name=voters]:checked"))))
    pages.submit("#resolutions button[type=submit]")
    assert "Thông qua" in pages.css("#resolutions").text, pages.text()
    pages.shot("meeting-recording")

    pages.submit("#close-button")
    assert pages.css("#meeting-status").text == "đã khóa sổ", pages.text()
    pages.visit(meeting_url.replace(world["base"], "") + "/minutes.html")
    assert "BIÊN BẢN" in pages.text().upper()
    pages.visit(f"/web/cells/{world['cell']}")  # the cell page: the meeting in the calendar, its resolution open
    assert meeting_url.replace(world["base"], "") in pages.driver.page_source
    assert "Vận động vệ sinh môi trường" in pages.css("#pending").text

    # the next day's meeting reviews that resolution
    later = day + dt.timedelta(days=1)
    pages.set("#date", later.isoformat())
    pages.submit("#schedule button[type=submit]")
    for selector, value in (("#date", later.isoformat()), ("#start_time", "19:00"), ("#end_time", "20:45")):
        pages.set(selector, value)
    pages.submit("#hold button[type=submit]")
    pages.css("button.all-present").click()  # the progressive "all present" button
    pages.submit("#attendance button[type=submit]")
    assert "Có mặt: 5/5" in pages.css("#att-h").text, pages.text()
    pages.css("#step-opening").click()
    pages.css("#step-review_and_follow_up").click()
    pages.submit("#agenda-steps button[type=submit]")
    pages.css("#outcome option[value='partly']").click()
    pages.type("#note", "còn 2 hộ")
    pages.submit("#reviews button[type=submit]")
    assert "Vận động vệ sinh môi trường: thực hiện một phần — còn 2 hộ" in pages.css("#reviews").text, pages.text()
    pages.submit("#close-button")
    pages.visit(f"/web/cells/{world['cell']}")
    assert "Vận động vệ sinh môi trường" not in pages.css("#pending").text  # reviewed: no longer open
    pages.sign_out()

    pages.sign_in("ward")

    def counted() -> bool:
        pages.visit(dashboard_path(world))
        return int(pages.tile("meetings")) == before + sum(d.year == yesterday_vn().year for d in (day, later))

    wait_for(counted, timeout=30, interval=0.5, what="the ward dashboard to count the new meeting")
    pages.shot("dashboard")
    assert pages.css("svg.chart") is not None and pages.all("#by-child-table tbody tr")
    pages.css("li[data-figure='meetings'] a").click()  # drill down to the meetings behind the figure
    wait_for(lambda: "/web/drill" in pages.driver.current_url, timeout=10)
    meeting_id = meeting_url.rsplit("/", 1)[1]
    assert f"/web/meetings/{meeting_id}" in pages.driver.page_source and "Chi bộ tổ 1" in pages.text()
    pages.visit(f"/web/audit/meeting/{meeting_id}")
    assert "Closed" in pages.text() and "secretary" in pages.text()  # who closed it
    pages.visit("/web/lang?to=en&next=/web/members")
    assert "Members" in pages.text() and pages.css("html").get_attribute("lang") == "en"
    pages.type("#q", "nguyen van a")  # without diacritics
    pages.submit("form[role=search] button")
    assert "Nguyễn Văn A" in pages.text()
    pages.visit("/web/lang?to=vi&next=/web/")
    assert not pages.console, pages.console


def test_a_ward_user_cannot_open_another_wards_pages(pages: Pages, world: dict[str, Any]) -> None:
    pages.sign_in("other_ward")
    for path in (dashboard_path(world), f"/web/cells/{world['cell']}", f"/web/members?unit={world['ward']}"):
        pages.visit(path)
        assert "không có quyền" in pages.text(), (path, pages.text())
    pages.visit(f"/web/cells/{world['foreign_cell']}")  # its own cell opens
    assert "Chi bộ phường khác" in pages.text()
    # the same over plain HTTP: the status is 403, and a POST to another ward's cell is refused
    session = requests.Session()
    page = session.get(world["base"] + "/web/sign-in")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    session.post(world["base"] + "/web/sign-in", data={"csrf": csrf, "username": "other_ward", "password": PASSWORD})
    assert session.get(world["base"] + dashboard_path(world)).status_code == 403
    assert session.get(world["base"] + f"/web/cells/{world['cell']}").status_code == 403
    refused = session.post(world["base"] + f"/web/cells/{world['cell']}/schedule",
                           data={"csrf": csrf, "date": "2026-01-01", "start_time": "19:00"})
    assert refused.status_code == 403
    assert not pages.console, pages.console


def test_sign_in_refusals_and_csrf(world: dict[str, Any]) -> None:
    base = world["base"]
    session = requests.Session()
    csrf = re.search(r'name="csrf" value="([^"]+)"', session.get(base + "/web/sign-in").text).group(1)
    wrong = session.post(base + "/web/sign-in", data={"csrf": csrf, "username": "ward", "password": "sai-mat-khau"})
    nobody = session.post(base + "/web/sign-in", data={"csrf": csrf, "username": "khong-co", "password": "x" * 10})
    assert wrong.status_code == nobody.status_code == 401
    assert "Tên đăng nhập hoặc mật khẩu không đúng." in wrong.text and "Tên đăng nhập hoặc mật khẩu không đúng." in \
        nobody.text  # the same answer: no hint whether the user exists
    forged = requests.post(base + "/web/sign-in", data={"csrf": "x" * 40, "username": "ward", "password": PASSWORD},
                           cookies={"chibo_csrf": "y" * 40}, allow_redirects=False)
    assert forged.status_code == 400
    ok = session.post(base + "/web/sign-in", data={"csrf": csrf, "username": "ward", "password": PASSWORD},
                      allow_redirects=False)
    assert ok.status_code == 303
    cookie = next(c for c in session.cookies if c.name == "chibo_session")
    assert cookie.has_nonstandard_attr("HttpOnly") and ok.headers["Set-Cookie"].count("SameSite=Strict") >= 1
    assert session.get(base + "/web/dashboard").status_code == 200
    bad = session.get(base + "/web/drill", params={"figure": "khong-co"})  # the API's 422, as a page naming it
    assert bad.status_code == 422 and "Yêu cầu không hợp lệ." in bad.text and "khong-co" in bad.text
    # the export buttons: the reporting service's documents, fetched with the user's token
    year = str(yesterday_vn().year)
    xlsx = session.get(base + "/web/export/rollup.xlsx", params={"unit": world["ward"], "period": year})
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK" and "attachment" in xlsx.headers[
        "Content-Disposition"]
    csv = session.get(base + "/web/export/flagged.csv", params={"unit": world["ward"], "year": year})
    assert csv.status_code == 200 and "text/csv" in csv.headers["Content-Type"]
    assert session.get(base + "/web/export/rollup.xlsx", params={"unit": world["other_ward"],
                                                                 "period": year}).status_code == 403
    session.post(base + "/web/sign-out", data={"csrf": csrf})
    # the token is revoked, not just forgotten: the old cookie no longer opens a page
    stale = requests.get(base + "/web/dashboard", cookies={"chibo_session": cookie.value}, allow_redirects=False)
    assert stale.status_code == 303 and "/web/sign-in" in stale.headers["Location"]
    # throttled after a burst of wrong passwords for one name
    statuses = [session.post(base + "/web/sign-in", data={"csrf": csrf, "username": "auditor",
                                                          "password": f"wrong-{i}"}).status_code for i in range(7)]
    assert statuses[:5] == [401] * 5 and statuses[5:] == [429, 429], statuses


def test_ward_staff_keep_the_register(pages: Pages, world: dict[str, Any], tmp_path: Any) -> None:
    from tests.register_files import csv_file

    day = yesterday_vn().isoformat()
    pages.sign_in("ward")
    pages.visit("/web/members")
    pages.type("#code", "W-0001")
    pages.type("#full_name", "Trần Thị Hồng")
    pages.css(f"#cell_id option[value='{world['cell']}']").click()
    pages.set("#admitted_on", day)
    pages.submit("#admit-form button[type=submit]")
    assert "/web/members/" in pages.driver.current_url and "Trần Thị Hồng" in pages.text(), pages.text()
    pages.set("#official_since", "")  # confirming without a date: refused beside the field
    pages.submit("#confirm button[type=submit]")
    assert pages.css("#err-official_since").text, pages.text()
    pages.css("#exempt-reason option[value='health']").click()
    pages.set("#exempt-from", day)
    pages.submit("#exempt button[type=submit]")
    assert "Đã ghi." in pages.text(), pages.text()
    member_page = pages.driver.current_url.split("?")[0].replace(world["base"], "")
    pages.css(f"#to_cell_id option[value='{world['other_cell']}']").click()
    pages.set("#effective_from", day)
    pages.submit("#transfer button[type=submit]")
    assert "Đã ghi." in pages.text(), pages.text()
    pages.visit("/web/members?q=TRAN+THI+HONG")  # no diacritics, any case
    assert [r.text for r in pages.all("#members-table tbody tr")] == ["Trần Thị Hồng W-0001 Chi bộ tổ 2 miễn sinh hoạt"]
    pages.visit(member_page)
    pages.css("#remove-reason option[value='moved_away']").click()
    pages.set("#remove-from", day)
    pages.submit("#remove button[type=submit]")
    assert "Đã ghi." in pages.text() and not pages.all("#remove"), pages.text()  # no longer active: no forms
    pages.visit("/web/members?q=tran thi hong")
    assert not pages.all("#members-table tbody tr")
    cell_code = world["client"].get("members", f"/units/{world['cell']}")["code"]
    sheet = tmp_path / "so-dang-vien.csv"
    sheet.write_bytes(csv_file([[1, "W-0100", "Lê Văn Nhập", "01/01/1980", cell_code, "03/02/2010", "03/02/2011",
                                 "", ""],
                                [2, "W-0101", "Phạm Thị Lỗi", "01/01/1981", cell_code, "31/02/2010", "", "", ""]]))
    pages.css("#file").send_keys(str(sheet))
    pages.submit("button[name=mode][value=dry_run]")
    report = pages.css("#import-report").text
    assert "Lê Văn Nhập" in report and "Phạm Thị Lỗi" in report and "problem" in report, report
    pages.visit("/web/members?q=le+van+nhap")  # a dry run records nothing
    assert not pages.all("#members-table tbody tr")
    pages.shot("member-register")
    assert not pages.console, pages.console
