"""`chibo import-register`: the CLI posts the file to a running members service and prints the problems."""

from services.cli import main
from tests.register_files import ROWS, csv_file, xlsx
from tests.service.test_register_import_service import published, units
from tests.service.test_services import api, config, members, post  # noqa: F401 - fixtures
from tests.support import person_token

BAD_ROW = [4, "01004", "Vũ Minh Châu", "", "TG-9", "01/01/2020", "", "", ""]


def run(capsys, *args):
    code = main(["import-register", *args])
    return code, capsys.readouterr().out


def test_cli_dry_run_apply_and_reapply(members, config, tmp_path, capsys):  # noqa: F811
    ward = units(members)["id"]
    url = members.removesuffix("/members")
    path = tmp_path / "so-dang-vien.xlsx"
    path.write_bytes(xlsx(ROWS))
    token = person_token(config, "cán bộ", "ward_staff", ward)  # the ward's own staff imports its register
    code, out = run(capsys, str(path), "--ward", "TG", "--url", url, "--token", token)
    assert code == 0, out
    assert "3 dòng: 3 sẽ nhập" in out and "Chạy thử: chưa ghi gì" in out
    assert not [e for e in published(members) if e["type"] == "MemberAdmitted"]

    code, out = run(capsys, str(path), "--ward", "TG", "--url", url, "--apply", "--token", token)
    assert (code, out.strip()) == (0, "3 dòng: 3 đã nhập")
    admitted = [e for e in published(members) if e["type"] == "MemberAdmitted"]
    assert [e["recorded_by"] for e in admitted] == ["cán bộ"] * 3

    code, out = run(capsys, str(path), "--ward", "TG", "--url", url, "--apply", "--lang", "en", "--token", token)
    assert (code, out.strip()) == (0, "3 rows: 3 unchanged")

    other = person_token(config, "cán bộ khác", "ward_staff", str(__import__("uuid").uuid4()))
    code, out = run(capsys, str(path), "--ward", "TG", "--url", url, "--apply", "--token", other)
    assert code == 1 and "ngoài phạm vi" in out  # another ward's staff: refused, nothing recorded
    assert len([e for e in published(members) if e["type"] == "MemberAdmitted"]) == 3


def test_cli_prints_each_problem_as_a_table_and_exits_1(members, config, tmp_path, capsys):  # noqa: F811
    token = person_token(config, "cán bộ", "ward_staff", units(members)["id"])
    url = members.removesuffix("/members")
    path = tmp_path / "so.csv"
    path.write_bytes(csv_file([*ROWS, BAD_ROW], sep=";", bom=True))
    code, out = run(capsys, str(path), "--ward", "TG", "--url", url, "--token", token)
    assert code == 1
    lines = out.splitlines()
    assert lines[0].split() == ["Dòng", "Cột", "Vấn", "đề"]
    assert lines[2].split(None, 3) == ["5", "Chi", "bộ", "không có chi bộ mã TG-9"]
    assert "4 dòng: 3 sẽ nhập, 1 có lỗi" in out

    code, out = run(capsys, str(path), "--ward", "TG", "--url", url, "--apply", "--lang", "en", "--token", token)
    assert code == 1
    assert out.startswith("Refused: 1 row(s) have problems (rows 5); nothing was imported")
    assert "5  Chi bộ  no cell with the code TG-9" in out

    broken = tmp_path / "broken.csv"
    broken.write_bytes(csv_file([["1", "Lê Hoa"]], header=["STT", "Họ và tên"]))
    code, out = run(capsys, str(broken), "--ward", "TG", "--url", url, "--token", token)
    assert code == 1 and "Mã đảng viên" in out and "thiếu cột bắt buộc" in out


def test_cli_without_a_service_says_so_and_exits_2(tmp_path, capsys):
    path = tmp_path / "so.csv"
    path.write_bytes(csv_file(ROWS))
    assert main(["import-register", str(path), "--ward", "TG", "--url", "http://127.0.0.1:9", "--token", "t"]) == 2
    assert "chibo import-register" in capsys.readouterr().err
    assert main(["import-register", str(path), "--ward", "TG", "--url", "http://127.0.0.1:9"]) == 2  # no token
    assert "--token" in capsys.readouterr().err
