"""mbox files and folders of .eml files -> RawMessage / Quarantined, in a stable order."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sources.mbox import read_mail
from sources.records import Quarantined, RawMessage, SourceError

DATA = Path(__file__).resolve().parents[1] / "data" / "email"
FIXTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures"


def shared_dir(relative: str) -> Path:
    path = FIXTURES / relative
    if not path.is_dir():
        pytest.skip(f"public fixtures absent: {path.resolve()} (see ../shared/fixtures/SOURCES.md)")
    return path


def test_tiny_mbox_quarantines_the_broken_message_and_goes_on() -> None:
    path = DATA / "tiny.mbox"
    items = list(read_mail("mail", path, folder="Archive"))
    assert [type(item) for item in items] == [RawMessage, Quarantined, RawMessage]
    first, broken, last = items
    assert isinstance(first, RawMessage) and isinstance(last, RawMessage) and isinstance(broken, Quarantined)
    assert first.item_id == "m1@romashka.ru"
    assert first.text == "Договор подписали, оригинал отправим почтой.\nFrom now on пишите на этот адрес."  # unescaped
    assert first.chat == "Archive" and first.source == "mail"
    assert broken.item_id == f"mbox:{path}#2"
    assert broken.error == "no e-mail headers found (not an RFC 5322 message)"
    assert broken.raw.decode() == "этот кусок не является письмом\nпросто мусор без заголовков\n"
    assert (last.text, last.thread_id, last.in_reply_to) == (
        "Спасибо, Иван! Ждём оригинал.",
        "m1@romashka.ru",
        "m1@romashka.ru",
    )
    assert last.raw.startswith(b"From: ") and not last.raw.endswith(b"\n\n")


def test_folder_of_eml_files_in_sorted_order_with_quarantine() -> None:
    items = list(read_mail("mail", DATA))
    assert [Path(i.item_id).name if isinstance(i, Quarantined) else i.item_id for i in items] == [
        "broken.eml",
        items[1].item_id,  # cp1251_no_charset.eml has no Message-ID: keyed by the hash of its bytes
        "4815162342@mail.yandex.ru",
        "1741845704.123456@f512.i.mail.ru",
        "0a1b2c3d.outlook@romashka.ru",
    ]
    assert items[1].item_id.startswith("sha256:")
    assert isinstance(items[0], Quarantined) and items[0].item_id == str(DATA / "broken.eml")
    assert items[0].raw == (DATA / "broken.eml").read_bytes()


def test_nested_folders_are_read_recursively_and_deterministically(tmp_path: Path) -> None:
    (tmp_path / "b" / "deep").mkdir(parents=True)
    (tmp_path / "a").mkdir()
    shutil.copy(DATA / "outlook_reply_ru.eml", tmp_path / "b" / "deep" / "1.eml")
    shutil.copy(DATA / "mailru_reply_ru.eml", tmp_path / "a" / "2.EML")
    shutil.copy(DATA / "html_only_ru.eml", tmp_path / "0.eml")
    (tmp_path / "notes.txt").write_text("not mail")
    (tmp_path / "a" / "tiny.mbox").write_bytes((DATA / "tiny.mbox").read_bytes())  # only .eml in folders
    first = [item.item_id for item in read_mail("mail", tmp_path)]
    assert first == ["4815162342@mail.yandex.ru", "1741845704.123456@f512.i.mail.ru", "0a1b2c3d.outlook@romashka.ru"]
    assert [item.item_id for item in read_mail("mail", tmp_path)] == first


def test_single_eml_file() -> None:
    (item,) = read_mail("mail", DATA / "html_only_ru.eml")
    assert isinstance(item, RawMessage) and item.item_id == "4815162342@mail.yandex.ru"


def test_missing_path_is_a_source_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.mbox"
    with pytest.raises(SourceError, match=f"^mail source 'mail': {missing} does not exist$"):
        list(read_mail("mail", missing))


def test_mbox_with_crlf_bare_from_lines_and_no_trailing_newline(tmp_path: Path) -> None:
    body = (
        "From a@b.ru Tue Mar 11 10:15:00 2025\r\nFrom: a@b.ru\r\nMessage-ID: <1@b.ru>\r\n\r\nПервое.\r\n\r\n"
        "From now on, at 10:00 in 2025, this is body text.\r\n\r\n"  # no envelope: a blank line and a date, still text
        "From - Wed Mar 12 09:00:00 2025\r\nFrom: c@d.ru\r\nMessage-ID: <2@d.ru>\r\n\r\nВторое."
    )
    path = tmp_path / "crlf.mbox"
    path.write_bytes(body.encode())
    items = list(read_mail("mail", path))
    assert [i.item_id for i in items] == ["1@b.ru", "2@d.ru"]
    assert isinstance(items[0], RawMessage) and "From now on" in items[0].text
    assert isinstance(items[1], RawMessage) and items[1].text == "Второе."


def test_file_without_envelope_line_is_one_message(tmp_path: Path) -> None:
    path = tmp_path / "export.mbox"
    path.write_bytes(b"\n\nFrom: a@b.ru\nMessage-ID: <only@b.ru>\n\nText\n")
    assert [i.item_id for i in read_mail("mail", path)] == ["only@b.ru"]


def test_empty_mbox_yields_nothing(tmp_path: Path) -> None:
    path = tmp_path / "empty.mbox"
    path.write_bytes(b"")
    assert list(read_mail("mail", path)) == []


@pytest.mark.parametrize(("folder", "count"), [("imap_tools", 10), ("talon", 13), ("flanker", 9)])
def test_public_eml_folders_read_in_place(folder: str, count: int) -> None:
    items = list(read_mail("public", shared_dir(folder)))
    assert len(items) == count
    assert all(isinstance(item, RawMessage) for item in items)
