"""Where CloudTrail files are: the delivery layout, what to skip, and local folders.

A source names files (a file, a folder, or an S3 prefix); this module turns it into the log
objects to read and the ones to skip, with the reason for each skip. It reads no file content.

Delivery layout:
``[PREFIX/]AWSLogs/[o-ORGID/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/FILE``; the date is the
*delivery* date, so a file can hold events of the day before. ``CloudTrail-Digest/`` and
``CloudTrail-Insight/`` hold no API events.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Set
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

from rightsizer.errors import SourceError

# One regex over the path tail: each field is optional so that partial layouts (a prefix that
# starts below AWSLogs/, a local copy of one region) still tell what they can.
_LAYOUT = re.compile(
    r"(?:^|/)AWSLogs/(?:(?P<org>o-[a-z0-9]{10,32})/)?(?P<account>\d{12})/"
    r"(?P<kind>CloudTrail(?:-Digest|-Insight)?)/"
    r"(?:(?P<region>[a-z0-9-]+)/(?:(?P<y>\d{4})/(?:(?P<m>\d{2})/(?:(?P<d>\d{2})/)?)?)?)?"
)

# A date folder of the delivery layout: CloudTrail[-Digest]/REGION/YYYY[/MM[/DD]] at the end of
# a path.
_DATE_FOLDER = re.compile(
    r"/AWSLogs/(?:o-[a-z0-9]{10,32}/)?\d{12}/CloudTrail(?:-Digest)?/[a-z0-9-]+/"
    r"(?P<y>\d{4})(?:/(?P<m>\d{2})(?:/(?P<d>\d{2}))?)?$")

# Folders whose files are not API events.
NOT_EVENTS = {
    "CloudTrail-Digest": "CloudTrail digest file (integrity hashes, not events)",
    "CloudTrail-Insight": "CloudTrail Insights event (not an API call)",
}


@dataclass(frozen=True, slots=True)
class LogObject:
    """One file or S3 object to read. ``fingerprint`` changes whenever its content may have."""

    uri: str
    size: int
    fingerprint: str


@dataclass(frozen=True, slots=True)
class Skipped:
    """A file or object seen and deliberately not read."""

    uri: str
    reason: str


@dataclass(frozen=True, slots=True)
class BadInput:
    """A file or object that could not be read, or held no usable CloudTrail events."""

    uri: str
    reason: str


@dataclass(frozen=True, slots=True)
class DeliveryFolder:
    """A date folder of the delivery layout whose every file was listed as a log object, with
    the fingerprint of its list of files (``folder_fingerprint``). ``known``: the store's ledger
    holds it as read whole with that fingerprint, so its files were counted, not listed."""

    path: str
    fingerprint: str
    files: int
    delivery_date: date
    known: bool = False


@dataclass(frozen=True, slots=True)
class Layout:
    """What a path says by its place in the delivery layout; None where it does not say."""

    org: str | None = None
    account: str | None = None
    kind: str | None = None
    region: str | None = None
    delivery_date: date | None = None


@dataclass(frozen=True, slots=True)
class Scope:
    """Which files to read: a window on delivery dates and optional account / region filters.

    Filters choose files by their place in the layout; files outside the layout are always read.
    The store keeps every event of every file it reads, so a later, wider run loses nothing.
    """

    since: date | None = None
    until: date | None = None
    accounts: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()

    def delivery_days(self) -> tuple[date, date] | None:
        """The delivery dates that can hold events of the window: one day of slack at the end,
        because an event of 23:58 is delivered the next day."""
        if self.since is None or self.until is None:
            return None
        return self.since, self.until + timedelta(days=1)

    def rejects_folder(self, path: str) -> str | None:
        """Why no file under this folder of the delivery layout (a year, month or day of
        ``CloudTrail/REGION/`` or ``CloudTrail-Digest/REGION/``) can be in scope, or None. Only
        dates prune: a folder outside the layout is always walked."""
        if self.since is None and self.until is None:
            return None
        match = _DATE_FOLDER.search(path.replace(os.sep, "/"))
        if not match:
            return None
        year, month, day = (int(g) if g else None for g in match.group("y", "m", "d"))
        try:
            first = date(year, month or 1, day or 1)
            if day:
                last = first
            elif month:
                last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
            else:
                last = date(year, 12, 31)
        except ValueError:
            return None  # not a date: its files say what they are
        if self.since is not None and last < self.since:
            return f"delivered before the window ({first} to {last})"
        if self.until is not None and first > self.until + timedelta(days=1):
            return f"delivered after the window (+1 day) ({first} to {last})"
        return None

    def rejects(self, layout: Layout) -> str | None:
        """Why a file with this layout is out of scope, or None if it must be read."""
        if layout.account and self.accounts and layout.account not in self.accounts:
            return f"account {layout.account} not selected"
        if layout.region and self.regions and layout.region not in self.regions:
            return f"region {layout.region} not selected"
        day = layout.delivery_date
        if day is not None:
            if self.since is not None and day < self.since:
                return f"delivered {day}, before the window"
            if self.until is not None and day > self.until + timedelta(days=1):
                return f"delivered {day}, after the window (+1 day)"
        return None


def parse_layout(path: str) -> Layout:
    """Read account, region and delivery date from a path or key in the delivery layout."""
    path = path.replace(os.sep, "/")
    # Only folders make the layout (every part of it ends in "/"): parsed once per folder, for
    # the hundreds of files a day's folder holds.
    return _folder_layout(path[:path.rfind("/") + 1])


@lru_cache(maxsize=8192)
def _folder_layout(folder: str) -> Layout:
    match = _LAYOUT.search(folder)
    if not match:
        return Layout()
    g = match.groupdict()
    day = None
    if g["y"] and g["m"] and g["d"]:
        try:
            day = date(int(g["y"]), int(g["m"]), int(g["d"]))
        except ValueError:
            day = None
    return Layout(g["org"], g["account"], g["kind"], g["region"], day)


def skip_reason(path: str, scope: Scope) -> str | None:
    """Why this path is not read (digest, insight, out of scope), or None to read it."""
    folder, _, name = path.replace(os.sep, "/").rpartition("/")
    _, not_events, out_of_scope = _folder_reasons(folder, scope)
    return not_events or _name_reason(name) or out_of_scope


def _folder_reasons(folder: str, scope: Scope) -> tuple[Layout, str | None, str | None]:
    """What a folder says of every file in it: its layout, why none is an API event (it is a
    digest or Insights folder, or under one) and why none is in the scope; each None when it
    does not say. A file's own name is judged between the two (``_name_reason``)."""
    folder = folder.replace(os.sep, "/")
    layout = parse_layout(folder + "/")
    parts = folder.split("/")
    not_events = NOT_EVENTS.get(layout.kind or "") or next(
        (reason for name, reason in NOT_EVENTS.items() if name in parts), None)
    return layout, not_events, scope.rejects(layout)


def _name_reason(name: str) -> str | None:
    """Why a file is not read whatever its folder says, by its name alone."""
    return NOT_EVENTS.get(name) or ("hidden file" if name.startswith(".") else None)


def local_objects(source: str, scope: Scope, read_folders: Mapping[str, str] | None = None
                  ) -> Iterator[LogObject | Skipped | BadInput | DeliveryFolder]:
    """Every file under a local path (a file, or a folder read recursively, sorted).

    A date folder of the delivery layout that ``read_folders`` (folder -> fingerprint, from the
    store) holds as read whole, with the fingerprint it has now, is one ``DeliveryFolder``
    (``known``) instead of its files: a daily run does not stat a month of files again. Any other
    delivery folder whose files are all log objects is followed by its ``DeliveryFolder``, for
    the caller to record once they are all read. A sub-folder that cannot be listed is a bad
    input; the walk goes on with the rest."""
    root = Path(source)
    if root.exists() and not root.is_dir():
        # A file named explicitly is read even outside the layout's filters: the user asked.
        yield _local_object(source)
        return
    if not root.exists():
        raise SourceError(f"{source}: no such file or folder")
    if not root.is_dir():
        raise SourceError(f"{source}: not a regular file or folder")
    unlistable: list[OSError] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=unlistable.append):
        while unlistable:
            exc = unlistable.pop()
            yield BadInput(str(exc.filename), f"cannot list folder: {exc.strerror}")
        dirnames.sort()
        # Prune whole folders early: a digest tree holds as many files as the log tree, and a
        # daily run's window selects a month of a year's date folders.
        kept = []
        for name in dirnames:
            reason = (NOT_EVENTS.get(name)
                      or (None if not name.startswith(".") else "hidden folder")
                      or scope.rejects_folder(os.path.join(dirpath, name)))
            if reason:
                yield Skipped(os.path.join(dirpath, name) + "/", reason)
            else:
                kept.append(name)
        dirnames[:] = kept
        if filenames:
            filenames.sort()
            yield from _folder_files(dirpath, filenames, scope, read_folders or {})
    for exc in unlistable:
        yield BadInput(str(exc.filename), f"cannot list folder: {exc.strerror}")


def _folder_files(folder: str, names: list[str], scope: Scope, read_folders: Mapping[str, str]
                  ) -> Iterator[LogObject | Skipped | BadInput | DeliveryFolder]:
    """The files of one folder, as ``skip_reason`` judges them one by one (what it says of the
    folder is worked out once), or the folder alone when the ledger holds it as read whole."""
    layout, folder_reason, scope_reason = _folder_reasons(folder, scope)
    day = layout.delivery_date
    # Only a date folder of the layout, every file of which is to be read, can be read whole.
    whole = (layout.kind == "CloudTrail" and not folder_reason and not scope_reason
             and not any(_name_reason(name) for name in names))
    fingerprint = folder_fingerprint(folder, names) if whole and day else None
    if day and fingerprint and read_folders.get(folder) == fingerprint:
        yield DeliveryFolder(folder, fingerprint, len(names), day, known=True)
        return
    all_objects = True
    for name in names:
        path = os.path.join(folder, name)
        reason = folder_reason or _name_reason(name) or scope_reason
        if reason:
            yield Skipped(path, reason)
            continue
        item = _local_object(path)
        all_objects = all_objects and isinstance(item, LogObject)
        yield item
    if day and fingerprint and all_objects:
        yield DeliveryFolder(folder, fingerprint, len(names), day)


def folders_read_whole(listed: Iterable[DeliveryFolder], failed: Iterable[str],
                       read: Iterable[tuple[str, str]],
                       held: Callable[[Sequence[tuple[str, str]]], Set[str]]
                       ) -> list[DeliveryFolder]:
    """Of the delivery folders ``listed`` file by file, those now read whole: no file of theirs
    ``failed`` (bad, or skipped), and the store ``held`` (of (uri, fingerprint) pairs, the uris
    it holds) each of their files ``read`` in this run; it held the others when they were
    listed."""
    unread = {os.path.dirname(uri) for uri in failed}
    whole = {f.path: f for f in listed if f.path not in unread}
    new = [(uri, fingerprint) for uri, fingerprint in read if os.path.dirname(uri) in whole]
    done = held(new)
    for uri, _ in new:
        if uri not in done:
            whole.pop(os.path.dirname(uri), None)
    return list(whole.values())


def folder_fingerprint(folder: str, names: Sequence[str]) -> str | None:
    """What changes when a folder's list of files may have: its mtime (a file added, removed,
    or written beside and renamed over another, as ``aws s3 sync`` and rsync do, changes it)
    and a hash of its files' names, sorted (a file system that does not keep folder mtimes
    still shows a file added or removed). A file rewritten in place changes neither: CloudTrail
    never rewrites a delivered file. None when the folder cannot be stat'ed."""
    try:
        mtime = os.stat(folder).st_mtime_ns
    except OSError:
        return None
    names_hash = hashlib.sha256("\n".join(sorted(names)).encode("utf-8", "surrogateescape"))
    return f"{mtime}:{len(names)}:{names_hash.hexdigest()[:32]}"


def _local_object(path: str) -> LogObject | BadInput:
    try:
        st = os.stat(path)
    except OSError as exc:
        # Still a LogObject: reading it will fail and be recorded as a bad input with the reason.
        return LogObject(path, 0, f"stat-error:{exc.strerror}")
    if not stat.S_ISREG(st.st_mode):
        # A FIFO would block the reader for ever, a device could be endless.
        return BadInput(path, f"not a regular file ({special_kind(st.st_mode)}): not read")
    return LogObject(path, st.st_size, f"{st.st_size}:{st.st_mtime_ns}")


def special_kind(mode: int) -> str:
    """What a file that is not a regular file is, for a message."""
    kinds = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
             (stat.S_ISDIR, "a folder"))
    return next((name for test, name in kinds if test(mode)), "a special file")
