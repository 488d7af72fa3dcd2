"""Register spreadsheets for the import tests, made here (no binary fixtures in the repository)."""

from __future__ import annotations

import io
from typing import Any

HEADER = ["STT", "Mã đảng viên", "Họ và tên", "Ngày sinh", "Chi bộ", "Ngày vào Đảng", "Ngày chính thức",
          "Miễn sinh hoạt", "Ngày miễn"]
# Three members of ward TG: official, probationary, exempted for age.
ROWS = [
    [1, "01001", "Nguyễn Thị Ánh Tuyết", "17/05/1980", "TG-1", "03/02/2010", "03/02/2011", "", ""],
    [2, "01002", "Đặng Quốc Khánh", "1975-01-09", "TG-2", "2/9/2024", "", "", ""],
    [3, "01003", "Trần Văn Bình", "01/01/1940", "TG-1", "19/05/1965", "19/05/1966", "Tuổi cao", "01/01/2020"],
]


def xlsx(rows: list[list[Any]], header: list[str] | None = None, title_rows: int = 0) -> bytes:
    """An XLSX workbook whose first sheet holds `header` (row 1 + title_rows) and `rows`."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Danh sách đảng viên"
    for _ in range(title_rows):
        sheet.append(["DANH SÁCH ĐẢNG VIÊN ĐẢNG BỘ PHƯỜNG TÂN GIANG"])
    sheet.append(header or HEADER)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_file(rows: list[list[Any]], header: list[str] | None = None, sep: str = ",", bom: bool = False) -> bytes:
    import csv

    out = io.StringIO()
    writer = csv.writer(out, delimiter=sep, lineterminator="\r\n")
    writer.writerow(header or HEADER)
    writer.writerows(rows)
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode("utf-8")
