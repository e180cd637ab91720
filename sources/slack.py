"""Slack workspace exports -> RawMessage records.

A Slack export ("Workspace settings -> Import/Export data", or slackdump) is a zip, or the folder it unpacks to:

- ``users.json`` (ids -> names), ``channels.json`` and, where present, ``groups.json`` (private channels),
  ``mpims.json`` (group DMs) and ``dms.json`` (direct messages; their folder is named by id, not by name);
- one folder per conversation holding ``YYYY-MM-DD.json`` files, each a JSON array of message objects.

A zip is read through ``sources.safezip``: an archive with ``..`` paths, symlinks or bomb-sized members is
refused as a whole (``UnsafeArchive``, a ``SourceError``). Ordinary user messages are yielded, and so are
``file_share``, ``thread_broadcast`` and ``me_message`` messages that carry text. Bot messages, joins, topic
changes and every other subtype are counted in ``SlackStats`` and not yielded. Slack mark-up is turned into
plain text: ``<@U123>`` -> ``@Name``, ``<#C1|general>`` -> ``#general``, ``<http://x|label>`` ->
``label (http://x)``, ``<!here>`` -> ``@here``, and ``&amp;`` / ``&lt;`` / ``&gt;`` unescaped. A day file
that is not valid JSON and a message without a usable ``ts`` each become one ``Quarantined`` record, and
reading goes on.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

from sources.records import Quarantined, RawMessage, SourceError, load_json
from sources.safezip import SafeZip, UnsafeArchive

CHANNEL = "slack"
RAW_CAP = 50 * 1024 * 1024  # bytes of a broken file kept in its Quarantined record
FILE_LIMIT = 512 * 1024 * 1024  # one JSON file of the export; a day file is normally a few kilobytes
_DAY_FILE = re.compile(r"^(?P<folder>[^/]+)/(?P<day>\d{4}-\d{2}-\d{2})\.json$")
_TS = re.compile(r"^\d{1,12}(?:\.\d{1,9})?$")
_META = ("channels.json", "groups.json", "mpims.json", "dms.json")
_KEPT_SUBTYPES = (None, "file_share", "thread_broadcast", "me_message")
_MARKUP = re.compile(r"<((?:[@#!]|[A-Za-z][A-Za-z0-9+.-]*:)[^<>\n]{0,2000})>")  # Slack escapes other < and >
_SCHEME = re.compile(r"^(?:mailto:|tel:|https?://)", re.IGNORECASE)


class SlackMessageError(ValueError):
    """One message object cannot be read; it becomes a Quarantined record."""


@dataclass
class SlackStats:
    """What one read saw. Skipped items are counted here because they are never yielded."""

    files: int = 0  # day files read (including broken ones)
    channels: int = 0  # conversation folders with day files
    messages: int = 0  # RawMessage records yielded
    bots: int = 0  # bot_message, and messages carrying a bot_id or written by a bot user
    skipped: Counter[str] = field(default_factory=Counter)  # other subtypes: channel_join, bot_add, ...
    empty: int = 0  # kept kinds without text (a file shared without a comment)
    quarantined: int = 0


def read_slack(source: str, path: Path, *, stats: SlackStats | None = None) -> Iterator[RawMessage | Quarantined]:
    """Yield the messages of the Slack export (a ``.zip`` or an unpacked folder) at ``path``.

    Conversations are read in folder order, days in date order, messages in file order. ``sent_at`` is the
    UTC time of ``ts``; ``item_id`` is ``"<channel id>:<ts>"``; ``thread_id`` is the thread's ``thread_ts``
    (a message outside any thread is its own thread); a reply has ``in_reply_to = "<channel id>:<thread_ts>"``.

    Raises ``SourceError`` at call time (before iterating) when the path is missing, is not a Slack export,
    or is a zip that ``safezip`` refuses (``UnsafeArchive``).

    Example::

        for record in read_slack("slack", Path("exports/slack.zip")):
            ...
    """
    path = Path(path)
    with _open_tree(path) as tree:
        _layout(tree)  # fail now, not on the first next()
    return _read(source, path, stats if stats is not None else SlackStats())


class _Tree:
    """The files of an export, by relative POSIX name: an unpacked folder or a zip read through safezip."""

    path: Path
    names: list[str]

    def read(self, name: str) -> bytes:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> _Tree:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Folder(_Tree):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.names = sorted(p.relative_to(path).as_posix() for p in path.rglob("*.json") if p.is_file())

    def read(self, name: str) -> bytes:
        file = self.path / name
        size = file.stat().st_size
        if size > FILE_LIMIT:
            raise OSError(f"file is {size} bytes (limit {FILE_LIMIT})")
        return file.read_bytes()


class _Zip(_Tree):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.archive = SafeZip(path)
        self.infos = {info.filename: info for info in self.archive.members}
        self.names = sorted(self.infos)

    def read(self, name: str) -> bytes:
        return self.archive.read(self.infos[name], FILE_LIMIT)

    def close(self) -> None:
        self.archive.close()


def _open_tree(path: Path) -> _Tree:
    if not path.exists():
        raise SourceError(f"Slack export not found: {path}")
    if path.is_dir():
        return _Folder(path)
    if path.is_file():
        return _Zip(path)  # UnsafeArchive (a SourceError) when it is no zip or a hostile one
    raise SourceError(f"Slack export is neither a zip nor a folder: {path}")


@dataclass
class _Layout:
    meta: dict[str, str]  # "users.json" -> name inside the tree
    days: list[tuple[str, str]]  # (folder/day.json relative to the export root, name inside the tree)


def _layout(tree: _Tree) -> _Layout:
    """Where the export root is (zips sometimes wrap it in a folder) and which files hold what."""
    markers = [n for n in tree.names if PurePosixPath(n).name in ("users.json", *_META)]
    roots = sorted({str(PurePosixPath(n).parent) for n in markers}, key=lambda r: (r.count("/"), r))
    root = "" if not roots or roots[0] == "." else roots[0] + "/"
    inside = {n[len(root):]: n for n in tree.names if n.startswith(root)}
    meta = {key: inside[key] for key in ("users.json", *_META) if key in inside}
    days = [(rel, name) for rel, name in inside.items() if _DAY_FILE.match(rel)]
    if not days and "channels.json" not in meta:
        raise SourceError(
            f"not a Slack export: no channels.json and no <channel>/YYYY-MM-DD.json files in {tree.path}"
        )
    return _Layout(meta, sorted(days))


def _read(source: str, path: Path, stats: SlackStats) -> Iterator[RawMessage | Quarantined]:
    with _open_tree(path) as tree:
        layout = _layout(tree)
        docs: dict[str, list[Any]] = {}
        for key, name in layout.meta.items():
            doc, broken = _load(tree, name, key)
            if broken is not None:
                stats.quarantined += 1
                yield replace(broken, source=source, item_id=key)
                continue
            docs[key] = [item for item in doc if isinstance(item, dict)]
        names, bots = _users(docs.get("users.json", []))
        folders, channel_names = _conversations(docs)
        current = None
        for rel, name in layout.days:
            folder = rel.split("/", 1)[0]
            if folder != current:
                current = folder
                stats.channels += 1
            channel_id, chat = folders.get(folder, (folder, folder))
            stats.files += 1
            doc, broken = _load(tree, name, "day file")
            if broken is not None:
                stats.quarantined += 1
                yield replace(broken, source=source, item_id=rel)
                continue
            for position, message in enumerate(doc):
                try:
                    record = _message(source, message, channel_id, chat, names, bots, channel_names, stats)
                except SlackMessageError as exc:
                    stats.quarantined += 1
                    yield Quarantined(source, f"{rel}:message #{position}", str(exc), raw=_dump(message))
                    continue
                if record is not None:
                    stats.messages += 1
                    yield record


def _load(tree: _Tree, name: str, what: str) -> tuple[list[Any], Quarantined | None]:
    """The JSON array in one export file, or the problem as a Quarantined record (without the source)."""
    data = b""
    try:
        data = tree.read(name)
        doc = load_json(data)
    except (OSError, UnsafeArchive) as exc:
        problem = f"cannot read: {exc}"
    except json.JSONDecodeError as exc:
        truncated = exc.msg.startswith("Unterminated string") or not exc.doc[exc.pos :].strip()
        problem = f"not valid JSON ({exc})" + ("; the file looks truncated" if truncated else "")
    except UnicodeDecodeError as exc:
        problem = f"not valid UTF-8 at byte {exc.start} of {len(data)}"
    except RecursionError:
        problem = "JSON nested too deeply to be a Slack export file"
    else:
        if isinstance(doc, list):
            return doc, None
        problem = f"not a Slack {what}: the top level is a JSON {_kind(doc)}, not an array"
    if len(data) > RAW_CAP:
        problem += f"; raw capped at the first {RAW_CAP} of {len(data)} bytes"
    return [], Quarantined("", name, problem, raw=data[:RAW_CAP])


def _users(users: list[dict[str, Any]]) -> tuple[dict[str, str], set[str]]:
    names: dict[str, str] = {}
    bots = {"USLACKBOT"}
    for user in users:
        user_id = user.get("id")
        if not isinstance(user_id, str):
            continue
        name = _person_name(user.get("profile"), user)
        if name:
            names[user_id] = name
        if user.get("is_bot") is True:
            bots.add(user_id)
    return names, bots


def _person_name(profile: Any, user: Any = None) -> str:
    """Real name first (it is what a configuration lists), then the display name, then the handle."""
    for holder, key in ((profile, "real_name"), (user, "real_name"), (profile, "display_name"),
                        (user, "name"), (profile, "name")):
        value = holder.get(key) if isinstance(holder, dict) else None
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def _conversations(docs: dict[str, list[dict[str, Any]]]) -> tuple[dict[str, tuple[str, str]], dict[str, str]]:
    """folder -> (channel id, chat name), and channel id -> name for ``<#C…>`` links."""
    folders: dict[str, tuple[str, str]] = {}
    channel_names: dict[str, str] = {}
    for key in _META:
        for conversation in docs.get(key, []):
            channel_id, name = conversation.get("id"), conversation.get("name")
            if not isinstance(channel_id, str):
                continue
            if isinstance(name, str) and name:
                channel_names[channel_id] = name
                folders.setdefault(name, (channel_id, name))
            folders.setdefault(channel_id, (channel_id, name if isinstance(name, str) and name else channel_id))
    return folders, channel_names


def _message(
    source: str,
    message: Any,
    channel_id: str,
    chat: str,
    names: dict[str, str],
    bots: set[str],
    channel_names: dict[str, str],
    stats: SlackStats,
) -> RawMessage | None:
    """One message object -> RawMessage, or None when it is skipped (counted in ``stats``)."""
    if not isinstance(message, dict):
        raise SlackMessageError(f"message is a JSON {_kind(message)}, not an object")
    ts = message.get("ts")
    if not isinstance(ts, str) or not _TS.match(ts):
        raise SlackMessageError(f"message has no usable 'ts': {ts!r}")
    subtype = message.get("subtype")
    user = message.get("user")
    if not isinstance(user, str):
        shared = message.get("file")
        user = shared.get("user") if isinstance(shared, dict) else None  # 2016 file_share has no "user"
        user = user if isinstance(user, str) else ""
    profile = message.get("user_profile")
    if user and user not in names and _person_name(profile):
        names[user] = _person_name(profile)  # Slack Connect guests are missing from users.json
    if subtype != "bot_message" and subtype not in _KEPT_SUBTYPES:
        stats.skipped[str(subtype)] += 1  # channel_join, bot_add, channel_topic, tombstone, ...
        return None
    if subtype == "bot_message" or message.get("bot_id") or user in bots:
        stats.bots += 1  # integrations and apps; a person's message carries "bot_id": null at most
        return None
    text = message.get("text") or ""
    if not isinstance(text, str):
        raise SlackMessageError(f"'text' is a JSON {_kind(text)}, not a string")
    text = plain_text(text, names, channel_names).strip()
    if not text:
        stats.empty += 1
        return None

    notes: list[str] = []
    if subtype is not None:
        notes.append(subtype)
    if isinstance(message.get("edited"), dict):
        notes.append("edited")  # the export keeps only the final text
    thread_ts = message.get("thread_ts")
    thread_ts = thread_ts if isinstance(thread_ts, str) and _TS.match(thread_ts) else ts
    is_reply = thread_ts != ts
    return RawMessage(
        source=source,
        item_id=f"{channel_id}:{ts}",
        channel=CHANNEL,
        sent_at=_sent_at(ts),
        author_name=names.get(user, "") or _name_field(message),
        author_address=user,
        text=text,
        chat=chat,
        chat_id=channel_id,
        thread_id=thread_ts,
        in_reply_to=f"{channel_id}:{thread_ts}" if is_reply else "",
        raw=_dump(message),
        notes=tuple(notes),
    )


def plain_text(text: str, names: dict[str, str], channel_names: dict[str, str]) -> str:
    """Slack mark-up -> readable text; only the three entities Slack escapes are unescaped."""
    parts: list[str] = []
    last = 0
    for match in _MARKUP.finditer(text):
        parts.append(_unescape(text[last : match.start()]))
        parts.append(_token(match.group(1), names, channel_names))
        last = match.end()
    parts.append(_unescape(text[last:]))
    return "".join(parts)


def _token(inner: str, names: dict[str, str], channel_names: dict[str, str]) -> str:
    target, _, label = inner.partition("|")
    label = _unescape(label)
    if target.startswith("@"):
        return "@" + (names.get(target[1:]) or label.lstrip("@") or target[1:])
    if target.startswith("#"):
        return "#" + (label or channel_names.get(target[1:]) or target[1:])
    if target.startswith("!"):
        if label:  # <!subteam^S1|@team>, <!date^1392734382^{date}|Feb 18, 2014>
            return label
        return "@" + target[1:].split("^", 1)[0]  # <!here>, <!channel>, <!everyone>
    target = _unescape(target)
    if not label or label == target:
        return target
    bare = _SCHEME.sub("", target)
    if label.rstrip("/") == bare.rstrip("/"):
        return label  # <mailto:a@b.ru|a@b.ru>, <http://site.ru|site.ru>: what the user typed
    return f"{label} ({target})"


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _sent_at(ts: str) -> datetime:
    seconds, _, fraction = ts.partition(".")  # float() would round away the microseconds
    micros = int(fraction[:6].ljust(6, "0")) if fraction else 0
    return datetime.fromtimestamp(int(seconds), tz=UTC) + timedelta(microseconds=micros)


def _name_field(message: dict[str, Any]) -> str:
    value = message.get("username")
    return value if isinstance(value, str) else ""


def _kind(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def _dump(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")[:RAW_CAP]
