"""Reading zip archives that may be hostile: path tricks, symlinks and zip bombs.

Connectors read exports (Slack workspace zips, WhatsApp chat zips) that come from outside. Nothing is ever
extracted to disk: members are read into memory, one at a time, under limits. ``SafeZip`` refuses an archive
at open time when a member

- has an absolute path (``/etc/passwd``, ``C:/x``, ``\\\\server\\x``), a ``..`` component, a NUL or a backslash
  path that climbs out, or is a symlink;
- is encrypted or appears twice, or two members share the same bytes (the "overlapping" zip bomb);
- would expand past ``max_ratio`` times its compressed size (above a small floor, so tiny files that compress
  well stay readable), or when there are more than ``max_members`` members or their declared sizes add up to more
  than ``max_total`` bytes.

``read_member`` then inflates in chunks and stops as soon as the real output passes the declared size, the
caller's limit or the ratio, so a member whose header lies cannot expand either. Every refusal is an
``UnsafeArchive`` (a ``SourceError``) with one line naming the archive, the member and the limit.

Example::

    with SafeZip(Path("export.zip")) as archive:
        for info in archive.members:
            data = archive.read(info)
"""

from __future__ import annotations

import stat
import zipfile
import zlib
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path, PurePosixPath
from types import TracebackType

from sources.records import SourceError

CHUNK = 1024 * 1024


class UnsafeArchive(SourceError):
    """A zip archive (or one of its members) is refused: hostile, over a limit, or corrupt. One clear line."""


@dataclass(frozen=True)
class Limits:
    max_members: int = 100_000  # a large Slack workspace has one file per channel per day
    max_total: int = 2 * 1024**3  # declared uncompressed bytes of all members together
    max_ratio: float = 100.0  # uncompressed : compressed, per member
    ratio_floor: int = 1024 * 1024  # members that expand to less than this are never refused for their ratio


DEFAULT_LIMITS = Limits()


def safe_members(path: Path, *, limits: Limits = DEFAULT_LIMITS) -> list[zipfile.ZipInfo]:
    """The file members of the zip at ``path`` (directories left out), or ``UnsafeArchive``."""
    with SafeZip(path, limits=limits) as archive:
        return archive.members


def read_member(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int | None = None, *, limits: Limits = DEFAULT_LIMITS
) -> bytes:
    """Inflate one member in chunks, refusing it once it passes ``limit``, its declared size or the ratio."""
    where = _where(zf, info)
    if limit is not None and info.file_size > limit:
        raise UnsafeArchive(f"{where} declares {info.file_size} bytes (limit {limit})")
    ratio_cap = max(limits.ratio_floor, int(limits.max_ratio * info.compress_size))
    parts: list[bytes] = []
    total = 0
    try:
        with zf.open(info) as stream:
            while chunk := stream.read(CHUNK):
                total += len(chunk)
                if total > info.file_size:
                    raise UnsafeArchive(f"{where} inflates past its declared {info.file_size} bytes")
                if total > ratio_cap:
                    raise UnsafeArchive(f"{where} expands more than {limits.max_ratio:g}:1 (limit)")
                parts.append(chunk)
    except zipfile.BadZipFile as exc:
        if "CRC" in str(exc):
            raise UnsafeArchive(
                f"{where} fails its CRC check: corrupt, or it inflates to other than its declared "
                f"{info.file_size} bytes"
            ) from None
        raise UnsafeArchive(f"{where} is corrupt: {exc}") from None
    except (zlib.error, EOFError, OSError, NotImplementedError, RuntimeError, ValueError) as exc:
        raise UnsafeArchive(f"{where} cannot be read: {exc or type(exc).__name__}") from None
    if total != info.file_size:
        raise UnsafeArchive(f"{where} inflates to {total} bytes, not its declared {info.file_size}")
    return b"".join(parts)


class SafeZip:
    """An open zip whose members passed every check; a context manager. ``members`` excludes directories."""

    def __init__(self, path: Path, *, limits: Limits = DEFAULT_LIMITS) -> None:
        self.path = Path(path)
        self.limits = limits
        try:
            self.zip = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
            raise UnsafeArchive(f"{self.path.name} is not a readable zip archive: {exc}") from None
        except OSError as exc:
            raise UnsafeArchive(f"cannot open zip archive {self.path}: {exc.strerror or exc}") from None
        try:
            self.members = check_members(self.zip, limits)
        except UnsafeArchive:
            self.zip.close()
            raise

    def read(self, info: zipfile.ZipInfo, limit: int | None = None) -> bytes:
        return read_member(self.zip, info, limit, limits=self.limits)

    def close(self) -> None:
        self.zip.close()

    def __enter__(self) -> SafeZip:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


def check_members(zf: zipfile.ZipFile, limits: Limits = DEFAULT_LIMITS) -> list[zipfile.ZipInfo]:
    """Every check that needs only the central directory; returns the file members in archive order."""
    infos = zf.infolist()
    name = _archive_name(zf)
    if len(infos) > limits.max_members:
        raise UnsafeArchive(f"unsafe zip {name}: {len(infos)} members (limit {limits.max_members})")
    seen: set[str] = set()
    total = 0
    for info in infos:
        where = _where(zf, info)
        problem = path_problem(info.filename)
        if problem is not None:
            raise UnsafeArchive(f"{where} {problem}")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise UnsafeArchive(f"{where} is a symlink")
        if info.flag_bits & 0x1:
            raise UnsafeArchive(f"{where} is encrypted")
        key = info.filename.rstrip("/")
        if key in seen:
            raise UnsafeArchive(f"{where} appears twice")
        seen.add(key)
        if info.is_dir():
            continue
        if info.file_size > limits.ratio_floor and (
            info.compress_size == 0 or info.file_size > limits.max_ratio * info.compress_size
        ):
            ratio = info.file_size / max(info.compress_size, 1)
            raise UnsafeArchive(
                f"{where} would expand {ratio:.0f}:1 to {info.file_size} bytes (limit {limits.max_ratio:g}:1)"
            )
        total += info.file_size
        if total > limits.max_total:
            raise UnsafeArchive(
                f"unsafe zip {name}: members expand to more than {limits.max_total} bytes "
                f"(limit reached at member '{info.filename}')"
            )
    _check_overlaps(zf, infos)
    return [info for info in infos if not info.is_dir()]


def path_problem(filename: str) -> str | None:
    """Why a member name could escape the folder it is unpacked into, or None when it is a plain relative path."""
    if "\x00" in filename:
        return "has a NUL in its name"
    unified = filename.replace("\\", "/")
    if unified.startswith("/") or (len(unified) > 1 and unified[1] == ":"):
        return "has an absolute path"
    if ".." in PurePosixPath(unified).parts:
        return "has a '..' path component"
    return None


def _check_overlaps(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> None:
    # Many central-directory entries pointing into the same compressed bytes is the non-recursive zip bomb.
    files = sorted((i for i in infos if not i.is_dir() or i.compress_size), key=lambda i: i.header_offset)
    for before, after in pairwise(files):
        if before.header_offset + 30 + before.compress_size > after.header_offset:
            raise UnsafeArchive(f"{_where(zf, after)} overlaps member '{before.filename}' (a zip bomb trick)")


def _archive_name(zf: zipfile.ZipFile) -> str:
    filename = zf.filename
    return Path(filename).name if filename else "archive"


def _where(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> str:
    return f"unsafe zip {_archive_name(zf)}: member '{info.filename}'"
