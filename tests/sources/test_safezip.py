"""Hostile zips built in tmp_path: path tricks, symlinks, bombs (1 GiB of zeros in ~1 MB), lying headers."""

from __future__ import annotations

import random
import stat
import struct
import time
import zipfile
import zlib
from pathlib import Path

import pytest

from sources.records import SourceError
from sources.safezip import Limits, SafeZip, UnsafeArchive, path_problem, read_member, safe_members

GIB = 1024**3
MIB = 1024**2


def deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush()


def zeros_bomb(size: int) -> bytes:
    """A raw deflate stream of ``size`` zero bytes, built from one repeated block so no test inflates it."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = packer.compress(bytes(MIB)) + packer.flush(zlib.Z_FULL_FLUSH)  # byte-aligned, no history after it
    return block * (size // MIB) + packer.flush()


def build_zip(path: Path, entries: list[dict]) -> Path:
    """Write a zip by hand so headers can say anything. Entry keys: name, data (stored bytes as written),
    method (0 stored, 8 deflated), size (declared uncompressed), crc, attr (external), flags, offset_of."""
    body, central, offsets = bytearray(), bytearray(), {}
    for entry in entries:
        name = entry["name"].encode()
        data = entry.get("data", b"")
        method, flags = entry.get("method", 8), entry.get("flags", 0)
        crc, size = entry.get("crc", 0), entry.get("size", len(data))
        if "offset_of" in entry:
            offset = offsets[entry["offset_of"]]
        else:
            offset = offsets[entry["name"]] = len(body)
            body += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, method, 0, 0x21, crc, len(data), size,
                                len(name), 0) + name + data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, (3 << 8) | 20, 20, flags, method, 0, 0x21, crc,
                               len(data), size, len(name), 0, 0, 0, 0, entry.get("attr", 0o100644 << 16),
                               offset) + name
    count = len(entries)
    body += central + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, len(central), len(body), 0)
    path.write_bytes(bytes(body))
    return path


def honest(name: str, payload: bytes) -> dict:
    return {"name": name, "data": deflate(payload), "size": len(payload), "crc": zlib.crc32(payload)}


@pytest.fixture(scope="module")
def gib_of_zeros() -> bytes:
    return zeros_bomb(GIB)


# --- good archives -------------------------------------------------------------------------------------


def test_plain_archive_lists_files_without_directories_and_reads_them(tmp_path):
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("channels.json", "[]")
        zf.mkdir("general")
        zf.writestr("general/2026-11-20.json", '[{"text": "Привет"}]' * 1000)
    assert [i.filename for i in safe_members(path)] == ["channels.json", "general/2026-11-20.json"]
    with SafeZip(path) as archive:
        assert archive.read(archive.members[1]) == ('[{"text": "Привет"}]' * 1000).encode()
        assert read_member(archive.zip, archive.members[0]) == b"[]"


def test_a_small_file_that_compresses_very_well_is_not_a_bomb(tmp_path):
    path = build_zip(tmp_path / "ok.zip", [honest("users.json", b" " * 500_000)])  # ~1000:1, but under 1 MiB
    with SafeZip(path) as archive:
        assert len(archive.read(archive.members[0])) == 500_000


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("channel/2026-11-20.json", None),
        ("a..b/c..json", None),
        ("dir/", None),
        ("../evil.txt", "has a '..' path component"),
        ("a/../../evil.txt", "has a '..' path component"),
        ("..\\evil.txt", "has a '..' path component"),
        ("/etc/passwd", "has an absolute path"),
        ("\\\\server\\share\\x", "has an absolute path"),
        ("C:/Windows/evil.txt", "has an absolute path"),
        ("ok\x00/../x", "has a NUL in its name"),
    ],
)
def test_path_problem(name, problem):
    assert path_problem(name) == problem


# --- hostile archives ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("../evil.txt", "has a '..' path component"),
        ("/etc/passwd", "has an absolute path"),
        ("export/../../../home/user/.bashrc", "has a '..' path component"),
        ("..\\..\\evil.bat", "has a '..' path component"),
    ],
)
def test_path_tricks_refuse_the_whole_archive(tmp_path, name, problem):
    path = tmp_path / "hostile.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("users.json", "[]")
        zf.writestr(zipfile.ZipInfo(name), "pwned")
    with pytest.raises(UnsafeArchive) as caught:
        safe_members(path)
    assert str(caught.value) == f"unsafe zip hostile.zip: member '{name}' {problem}"
    assert isinstance(caught.value, SourceError)


def test_symlink_member_is_refused(tmp_path):
    path = tmp_path / "link.zip"
    link = zipfile.ZipInfo("general/2026-11-20.json")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(link, "/etc/passwd")
    with pytest.raises(UnsafeArchive, match=r"member 'general/2026-11-20.json' is a symlink"):
        safe_members(path)


@pytest.mark.parametrize(
    ("entries", "limits", "message"),
    [
        ([honest(f"f{i}.json", b"[]") for i in range(4)], Limits(max_members=3),
         "unsafe zip x.zip: 4 members (limit 3)"),
        ([honest("a.json", b"a" * 600), honest("b.json", b"b" * 600)], Limits(max_total=1000),
         "unsafe zip x.zip: members expand to more than 1000 bytes (limit reached at member 'b.json')"),
        ([honest("a.json", b"[]"), honest("a.json", b"{}")], Limits(),
         "unsafe zip x.zip: member 'a.json' appears twice"),
        ([{**honest("secret.json", b"[]"), "flags": 1}], Limits(),
         "unsafe zip x.zip: member 'secret.json' is encrypted"),
        ([honest("a.json", b"x" * 100), {"name": "b.json", "offset_of": "a.json", "size": 100}], Limits(),
         "unsafe zip x.zip: member 'b.json' overlaps member 'a.json' (a zip bomb trick)"),
    ],
    ids=["members", "total", "duplicate", "encrypted", "overlap"],
)
def test_archive_level_limits(tmp_path, entries, limits, message):
    path = build_zip(tmp_path / "x.zip", entries)
    with pytest.raises(UnsafeArchive) as caught:
        safe_members(path, limits=limits)
    assert str(caught.value) == message


def test_gigabyte_bomb_is_refused_from_its_header_without_inflating(tmp_path, gib_of_zeros):
    path = build_zip(tmp_path / "bomb.zip", [{"name": "bomb.bin", "data": gib_of_zeros, "size": GIB}])
    assert path.stat().st_size < 2 * MIB
    started = time.perf_counter()
    with pytest.raises(UnsafeArchive) as caught:
        safe_members(path)
    assert time.perf_counter() - started < 1
    assert str(caught.value) == (
        f"unsafe zip bomb.zip: member 'bomb.bin' would expand 1011:1 to {GIB} bytes (limit 100:1)")


def test_total_limit_stops_a_bomb_that_a_lenient_ratio_lets_through(tmp_path, gib_of_zeros):
    entries = [{"name": f"bomb{i}.bin", "data": gib_of_zeros, "size": GIB} for i in range(3)]
    path = build_zip(tmp_path / "bombs.zip", entries)
    with pytest.raises(UnsafeArchive, match=r"more than 2147483648 bytes \(limit reached at member 'bomb2.bin'\)"):
        safe_members(path, limits=Limits(max_ratio=10_000))


def test_member_over_the_caller_limit_is_refused_before_reading(tmp_path, gib_of_zeros):
    path = build_zip(tmp_path / "bomb.zip", [{"name": "bomb.bin", "data": gib_of_zeros, "size": GIB}])
    with SafeZip(path, limits=Limits(max_ratio=10_000)) as archive:
        with pytest.raises(UnsafeArchive, match=rf"member 'bomb.bin' declares {GIB} bytes \(limit {64 * MIB}\)"):
            archive.read(archive.members[0], limit=64 * MIB)


def test_lying_header_stops_at_the_declared_size(tmp_path, gib_of_zeros):
    # The header says 5 MiB (a harmless 5:1), the stream holds 1 GiB: reading stops after 5 MiB.
    path = build_zip(tmp_path / "liar.zip", [{"name": "day.json", "data": gib_of_zeros, "size": 5 * MIB}])
    started = time.perf_counter()
    with SafeZip(path) as archive, pytest.raises(UnsafeArchive) as caught:
        archive.read(archive.members[0])
    assert time.perf_counter() - started < 1
    assert str(caught.value).startswith("unsafe zip liar.zip: member 'day.json' fails its CRC check")
    assert f"declared {5 * MIB} bytes" in str(caught.value)


def test_short_stream_is_refused(tmp_path):
    payload = random.Random(6).randbytes(5000)
    path = build_zip(tmp_path / "short.zip", [{**honest("a.json", payload), "data": deflate(payload)[:4000]}])
    with SafeZip(path) as archive, pytest.raises(UnsafeArchive, match=r"member 'a.json' fails its CRC check: corrupt"):
        archive.read(archive.members[0])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not a zip at all", "x.zip is not a readable zip archive: File is not a zip file"),
        (b"", "x.zip is not a readable zip archive: File is not a zip file"),
    ],
)
def test_not_a_zip(tmp_path, content, message):
    path = tmp_path / "x.zip"
    path.write_bytes(content)
    with pytest.raises(UnsafeArchive) as caught:
        safe_members(path)
    assert str(caught.value) == message


def test_missing_archive(tmp_path):
    with pytest.raises(UnsafeArchive, match="cannot open zip archive .*nowhere.zip: No such file"):
        safe_members(tmp_path / "nowhere.zip")
