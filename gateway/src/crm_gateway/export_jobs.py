"""Export jobs: a large list export written in the background to a shared directory, then
downloaded by the user who asked.

Where the files live: `EXPORT_DIR`, a directory every gateway replica mounts (in Kubernetes a
ReadWriteMany PersistentVolumeClaim, e.g. NFS/CephFS/EFS; `make run` a local directory). A job is
two files there: `<id>.json` (its state, replaced atomically on every change) and `<id>.csv` /
`<id>.xlsx` (written under a `.part` name and renamed when complete), so any replica answers a
job's progress and download. Not Redis (not durable here), not PostgreSQL large objects (the
gateway owns no database, and a file streams to the client with no extra copy).

A job runs in a thread of the replica that accepted it, with the caller's token (visibility is
the caller's, applied by the services). That token is never written to the shared volume, so a
job cannot resume after its replica stops: the runner beats a heartbeat into the state file, and
a job whose heartbeat is older than `STALE` is answered as failed ("interrupted"), visibly, by
whichever replica is asked. Files older than the retention are removed by `sweep()` (at start and
on every new job). A data-subject erasure removes every job's file at once (`forget_files`):
any of them may hold the person, and the saga cannot look inside the gateway's volume."""
from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crm_gateway.export_tables import Cell, csv_chunks, write_xlsx

log = logging.getLogger(__name__)
STALE = 120.0  # seconds without a heartbeat: the replica running it is gone
BEAT = 2.0  # seconds between heartbeats (and progress writes)
_ID = frozenset("0123456789abcdef")
ERASURE_STAMP = "erasure-requested-at"  # in the directory: when the last erasure was asked (seconds)
ERASED = "removed: a data-subject erasure was requested after it was written; export again"


@dataclass
class Job:
    id: str
    owner: str  # the user id who asked: only they see it
    list: str
    filters: dict[str, Any]
    format: str  # csv | xlsx
    status: str = "running"  # running | done | failed
    rows_written: int = 0
    created_at: float = 0.0
    updated_at: float = 0.0  # the heartbeat
    finished_at: float = 0.0
    expires_at: float = 0.0  # the file (and the job) removed after this
    error: str = ""
    size: int = 0

    @property
    def file_name(self) -> str:
        return f"{self.list}.{self.format}"

    def as_json(self, download: str) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "id": self.id, "list": self.list, "filters": self.filters, "format": self.format,
            "status": self.status, "rows_written": self.rows_written, "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
        }
        if self.finished_at:
            doc["finished_at"] = _iso(self.finished_at)
        if self.error:
            doc["error"] = self.error
        if self.status == "done":
            doc.update(download_url=download, expires_at=_iso(self.expires_at), size=self.size)
        return doc


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class JobStore:
    """The jobs in one shared directory."""

    def __init__(self, root: Path, *, retention: float, clock: Callable[[], float] = time.time) -> None:
        self.root = root
        self.retention = retention
        self.clock = clock

    def new(self, *, owner: str, list_name: str, filters: dict[str, Any], fmt: str) -> Job:
        now = self.clock()
        job = Job(uuid.uuid4().hex, owner, list_name, filters, fmt, created_at=now, updated_at=now)
        self.save(job)
        return job

    def save(self, job: Job) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        part = self.root / f"{job.id}.json.part"
        part.write_text(json.dumps(asdict(job), ensure_ascii=False))
        os.replace(part, self._state(job.id))

    def get(self, job_id: str, owner: str) -> Job | None:
        """The caller's job (None for anyone else's: it does not exist for them), stale ones failed."""
        if len(job_id) != 32 or not set(job_id) <= _ID:
            return None
        job = self._load(self._state(job_id))
        return self._settled(job) if job is not None and job.owner == owner else None

    def owned(self, owner: str, *, size: int, after: tuple[float, str] | None = None) -> tuple[list[Job], bool]:
        """The owner's jobs, newest first (created_at, then id, both descending), the `size` after the
        cursor `after` (the last row's created_at and id), and whether more follow. It reads every
        state file: the directory holds only the jobs within the retention (hours), not a history."""
        mine = [job for state in self.root.glob("*.json") if (job := self._load(state)) is not None
                and job.owner == owner]
        mine.sort(key=lambda j: (j.created_at, j.id), reverse=True)
        if after is not None:
            mine = [j for j in mine if (j.created_at, j.id) < after]
        return [self._settled(j) for j in mine[:size]], len(mine) > size

    def _load(self, state: Path) -> Job | None:
        try:
            return Job(**json.loads(state.read_text()))
        except (OSError, ValueError, TypeError):  # removed by a sweep meanwhile, or not a job's state
            return None

    def _settled(self, job: Job) -> Job:
        """The job as it stands: a running one whose replica stopped beating is failed (and saved so)."""
        if job.status == "running" and self.clock() - job.updated_at > STALE:
            job.status, job.error, job.finished_at = "failed", "interrupted: the gateway running it stopped; " \
                "start the export again", self.clock()
            job.expires_at = job.finished_at + self.retention
            self.save(job)
        return job

    def file(self, job: Job) -> Path:
        return self.root / f"{job.id}.{job.format}"

    def _state(self, job_id: str) -> Path:
        return self.root / f"{job_id}.json"

    def sweep(self) -> int:
        """Removes the jobs (and files) past their retention; answers how many."""
        removed, now = 0, self.clock()
        if not self.root.is_dir():
            return 0
        for state in self.root.glob("*.json"):
            try:
                doc = json.loads(state.read_text())
                finished = doc["status"] != "running"
                gone = (finished and now > doc["expires_at"]) or (not finished and now - doc["updated_at"] >
                                                                   STALE + self.retention)
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if gone:
                for path in self.root.glob(f"{state.stem}.*"):
                    path.unlink(missing_ok=True)
                removed += 1
        return removed

    def forget_files(self) -> int:
        """An erasure was asked: every job's file is removed (a done job is failed, saying why), and a
        job still writing discards its file when it ends (the stamp). Answers the files removed."""
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / ERASURE_STAMP).write_text(repr(self.clock()))  # before the scan: a job ending now sees it
        removed = 0
        for state in self.root.glob("*.json"):
            job = self._load(state)
            if job is None:
                continue
            if self.file(job).is_file():
                self.file(job).unlink(missing_ok=True)
                removed += 1
            if job.status == "done":
                job.status, job.error, job.size = "failed", ERASED, 0
                self.save(job)
        return removed

    def _erasure_since(self, at: float) -> bool:
        try:
            return float((self.root / ERASURE_STAMP).read_text()) >= at
        except (OSError, ValueError):
            return False

    def run(self, job: Job, header: Sequence[str], kinds: Sequence[str], rows: Iterable[Sequence[Cell]]) -> None:
        """Writes the file, beating the heartbeat with the rows written; the job ends done or failed."""
        target = self.file(job)
        part = target.with_name(target.name + ".part")
        last = [self.clock()]

        def progress(count: int) -> None:
            job.rows_written = count
            if self.clock() - last[0] >= BEAT:
                last[0] = job.updated_at = self.clock()
                self.save(job)

        try:
            with part.open("wb") as out:
                if job.format == "xlsx":
                    job.rows_written = write_xlsx(out, job.list, header, kinds, rows, progress)
                else:
                    job.rows_written = _write_csv(out, header, rows, progress)
            os.replace(part, target)
            if self._erasure_since(job.created_at):  # its rows were read before the person was erased
                target.unlink(missing_ok=True)
                job.status, job.error = "failed", ERASED
            else:
                job.status, job.size = "done", target.stat().st_size
        except Exception as exc:  # noqa: BLE001  (any failure ends the job visibly, never silently)
            part.unlink(missing_ok=True)
            job.status, job.error = "failed", _reason(exc)
            log.warning("export job failed", extra={"job": job.id, "error": job.error})
        job.finished_at = job.updated_at = self.clock()
        job.expires_at = job.finished_at + self.retention
        self.save(job)

    def start(self, job: Job, header: Sequence[str], kinds: Sequence[str], rows: Iterable[Sequence[Cell]]) -> None:
        threading.Thread(target=self.run, args=(job, header, kinds, rows), name=f"export-{job.id[:8]}",
                         daemon=True).start()


def _write_csv(out: Any, header: Sequence[str], rows: Iterable[Sequence[Cell]],
               progress: Callable[[int], None]) -> int:
    count = 0

    def counted() -> Iterable[Sequence[Cell]]:
        nonlocal count
        for row in rows:
            count += 1
            if count % 1000 == 0:
                progress(count)
            yield row

    for chunk in csv_chunks(header, counted()):
        out.write(chunk)
    return count


def _reason(exc: Exception) -> str:
    """What the user may read: a service's refusal or absence, never an exception's text."""
    code = getattr(exc, "code", None)
    name = code().name if callable(code) else ""
    return {"PERMISSION_DENIED": "the list is not yours to export", "UNAVAILABLE": "a service was unavailable",
            "DEADLINE_EXCEEDED": "a service did not answer in time",
            "INVALID_ARGUMENT": "a filter was refused"}.get(name, "the export could not be written")
