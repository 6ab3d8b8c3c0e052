"""MLflow tracking: an embedded sqlite store by default, any MLflow server by URI.

One parent run per invocation (per Hydra job in a sweep), one child run per
target. The client API is used with explicit run ids, so nothing depends on
MLflow's global "active run" state.
"""

from __future__ import annotations

import fcntl
import functools
import logging
import os
import random
import sqlite3
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, TypeVar

from benchmark.paths import writable_folder
from soundmatch.errors import UserError

PARAM_VALUE_MAX = 6000
BATCH = 900  # MLflow accepts at most 1000 metrics per log_batch
SEARCH_PAGE = 5000
# MLflow already sets ``PRAGMA busy_timeout = 20000`` per session, but SQLite answers
# "database is locked" at once (without waiting) when a reading transaction must be
# upgraded to a writing one while another process writes; such calls are retried.
RETRY_SECONDS = 120.0
LOCK_WAIT_S = 60.0  # the store's file lock is held for moments; a holder past this is stuck
LOCK_SAY_S = 5.0  # after this long waiting for it, say so
LOCK_MESSAGES = ("database is locked", "database table is locked", "database schema has changed")

# set by `run` in the launching process and inherited by its local workers: tags every run of
# one command, so that after Ctrl-C the runs of workers killed mid-run can be ended KILLED
INVOCATION_ENV = "SOUNDMATCH_INVOCATION"
TRAINING_TAG = "soundmatch.training."  # + a key of a solver's info["training"]: what it learnt from

T = TypeVar("T")


# a tracking server that does not answer is reported within seconds, not after MLflow's default
# 7 retries of 120 s each (about 4 minutes of back-off): 3 tries of 5 s, 1-2 s apart
SERVER_ENV = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
              "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"}  # fmt: skip
SERVER_PROBE_S = 5.0  # how long a server is given to answer its health check before a run starts
STORE_SCHEMES = ("sqlite", "http", "https")


def quiet_mlflow() -> None:
    """Keep MLflow's and alembic's start-up chatter out of the benchmark's output, and bound how
    long a silent tracking server is waited for (:data:`SERVER_ENV`; the user's settings win)."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for key, value in SERVER_ENV.items():
        os.environ.setdefault(key, value)
    for name in ("mlflow", "alembic", "sqlalchemy", "urllib3"):
        logging.getLogger(name).setLevel(logging.WARNING)


def default_uri(results_dir: str | Path) -> str:
    """``sqlite:///<abs results_dir>/mlflow.db``, creating the folder."""
    # a read-only store is still read (leaderboard, report); its writers check writability themselves
    root = writable_folder(results_dir, "results_dir", writes=False).resolve()
    return f"sqlite:///{root / 'mlflow.db'}"


def resolve_uri(uri: str | None, results_dir: str | Path) -> str:
    return uri if uri else default_uri(results_dir)


OWNER_TAG = "soundmatch.owner"  # host:pid of the process that runs a run


def owner() -> str:
    """This process as a run's owner: ``host:pid``."""
    import socket

    return f"{socket.gethostname()}:{os.getpid()}"


STORAGE_ERRNOS = {28: "no space left on the device", 30: "the file system is read-only",
                  13: "permission denied", 122: "the disk quota is exceeded"}  # fmt: skip
STORAGE_MESSAGES = {"database or disk is full": "no space left on the device",
                    "readonly database": "the store is read-only",
                    "attempt to write a readonly": "the store is read-only",
                    "Max retries exceeded": "the tracking server stopped answering",
                    "Connection refused": "the tracking server stopped answering",
                    "database is locked": "another process held the store locked for minutes"}  # fmt: skip


def storage_problem(err: BaseException) -> str | None:
    """What keeps the store or the results folder from being written (a full disk, a read-only
    file system or database, no permission), found anywhere in ``err``'s chain; else None."""
    seen: set[int] = set()
    cur: BaseException | None = err
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, OSError) and cur.errno in STORAGE_ERRNOS:
            where = f" ({cur.filename})" if cur.filename else ""
            return f"{STORAGE_ERRNOS[cur.errno]}{where}"
        for text, reason in STORAGE_MESSAGES.items():
            if text in str(cur):
                return reason
        cur = cur.__cause__ or cur.__context__
    return None


CLAIM_LEASE_S = 3600.0  # a RUNNING run of another machine holds its target this long after its start


def owner_alive(tag: str, started_ms: int | None = None) -> bool:
    """Whether the process of an owner tag (``host:pid``) still lives. On this host the process is
    asked; a run of another host (whose process cannot be asked) holds for ``CLAIM_LEASE_S`` after
    ``started_ms`` (its start, ms since the epoch), then counts as abandoned; no owner: abandoned."""
    import socket

    host, _, pid = tag.rpartition(":")
    if host and host != socket.gethostname():
        return started_ms is not None and time.time() - started_ms / 1000.0 < CLAIM_LEASE_S
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


def require_store(uri: str, command: str) -> None:
    """For commands that read a store: a ``sqlite:///`` file that does not exist is one line, not a
    new empty store made behind the user's back; a damaged one is one line too."""
    path = sqlite_path(uri)
    quiet_mlflow()
    check_store(uri)
    if path is not None and not path.is_file():
        raise UserError(
            f"{command}: no store at {path}; run `python -m benchmark run` first, or point at one "
            "with tracking.uri=sqlite:///PATH"
        )


def check_store(uri: str) -> None:
    """Refuse, in one line naming the store and the fix, a tracking URI that would lose results or
    hang: an unsupported scheme, an in-memory database, a folder, a missing parent folder, another
    application's SQLite file, a damaged one, a server that does not answer within
    :data:`SERVER_PROBE_S` s. A file that does not exist yet is fine (MLflow creates it)."""
    key = (uri, _file_identity(uri))
    if key in _checked_stores:  # once per store file per process: run, its jobs and the Tracker all ask
        return
    _check_store(uri)
    _checked_stores.add(key)


_checked_stores: set[tuple[str, tuple[int, int] | None]] = set()


def _check_store(uri: str) -> None:
    scheme = uri.split(":", 1)[0].lower() if ":" in uri else "file"
    if scheme == "file":  # a plain path is one too
        raise UserError(
            f"tracking.uri={uri} names MLflow's file store, which this MLflow refuses (retired); use "
            "sqlite:///PATH/mlflow.db"
        )
    if scheme not in STORE_SCHEMES:
        raise UserError(
            f"tracking.uri={uri}: the scheme '{scheme}' is not one soundmatch can use; use "
            "sqlite:///PATH/mlflow.db or http(s)://HOST:PORT (an MLflow server)"
        )
    if scheme == "sqlite":
        path = sqlite_path(uri)
        if path is None or str(path) in ("", ":memory:") or "mode=memory" in uri:
            raise UserError(
                f"tracking.uri={uri} is an in-memory database: every result would be lost when the "
                "command ends; use sqlite:///PATH/mlflow.db"
            )
        if path.is_dir():
            raise UserError(
                f"tracking.uri names {path}, a folder; name a database file in it, e.g. "
                f"tracking.uri=sqlite:///{path / 'mlflow.db'}"
            )
        if not path.parent.is_dir():
            raise UserError(f"tracking.uri={uri}: the folder {path.parent} does not exist; create it first")
        check_sqlite_store(uri)
    else:
        from urllib.parse import urlsplit

        parts = urlsplit(uri)
        try:
            parts.port  # noqa: B018 -- reading it checks it
        except ValueError:
            parts = None  # type: ignore[assignment]
        if parts is None or not parts.hostname:
            raise UserError(f"tracking.uri={uri} names no server; write http(s)://HOST:PORT")
        check_server(uri)


def check_server(uri: str, timeout: float = SERVER_PROBE_S) -> None:
    """One line when no MLflow server answers its health check at ``uri`` within ``timeout`` s."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout) as reply:
            reply.read(64)
    except (urllib.error.URLError, OSError, ValueError) as err:
        why = getattr(err, "reason", None) or err
        raise UserError(
            f"no MLflow server answers at {uri} within {timeout:g} s ({why}); start one "
            "(`python -m benchmark ui` serves the local store) or fix tracking.uri"
        ) from None


MLFLOW_TABLES = {"experiments", "runs", "alembic_version"}


def check_sqlite_store(uri: str) -> None:
    """A ``sqlite:///`` store that exists must be a readable SQLite database (a truncated or
    overwritten ``mlflow.db`` is one line naming it, not an 80-line SQLAlchemy traceback)."""
    path = sqlite_path(uri)
    if path is None or not path.is_file() or path.stat().st_size == 0:
        return  # nothing there yet: MLflow creates it
    tables: set[str] = set()
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            problem = db.execute("PRAGMA quick_check").fetchone()[0]
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as err:
        problem = str(err)
    if problem == "ok" and tables and not MLFLOW_TABLES <= tables:
        shown = ", ".join(sorted(tables)[:5])
        raise UserError(
            f"the store {path} is another application's SQLite database (tables: {shown}), not an "
            "MLflow store; it is left untouched: point tracking.uri= at a file of its own"
        )
    if problem != "ok":
        raise UserError(
            f"the store {path} is not a readable database ({problem}); restore it from a backup, "
            "or point tracking.uri= at another file (a new one is created on the first run)"
        )


def _file_identity(uri: str) -> tuple[int, int] | None:
    """(device, inode) of a sqlite store's file; None for servers and files not made yet."""
    path = sqlite_path(uri)
    if path is None or not path.exists():
        return None
    stat = path.stat()
    return (stat.st_dev, stat.st_ino)


def mlflow_client(uri: str):
    """An ``MlflowClient`` for ``uri``, shared within this process: opening a sqlite store checks
    its schema (about 1.2 s), which each job of a sweep run in one process would pay again. A
    sqlite file deleted and made anew is a new database and gets a new client."""
    path = sqlite_path(uri)
    identity = None
    if path is not None and path.exists():
        stat = path.stat()
        identity = (stat.st_dev, stat.st_ino)
    return _client(uri, identity)


@functools.lru_cache(maxsize=8)
def _client(uri: str, identity: tuple[int, int] | None):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI, else None."""
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri.removeprefix("sqlite:///").split("?", 1)[0])


def is_lock_error(err: BaseException) -> bool:
    """True for SQLite's transient lock errors, however MLflow or SQLAlchemy wrap them."""
    seen: set[int] = set()
    cur: BaseException | None = err
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if any(m in str(cur) for m in LOCK_MESSAGES):
            return True
        cur = cur.__cause__ or cur.__context__
    return False


def with_retry(call: Callable[[], T], budget_s: float = RETRY_SECONDS) -> T:
    """``call()``, retried with jittered exponential back-off while SQLite reports a lock."""
    deadline = time.monotonic() + budget_s
    delay = 0.05
    while True:
        try:
            return call()
        except Exception as err:
            if not is_lock_error(err) or time.monotonic() > deadline:
                raise
        time.sleep(delay * (0.5 + random.random()))
        delay = min(delay * 2, 2.0)


@contextmanager
def store_lock(uri: str) -> Iterator[None]:
    """An exclusive file lock beside a sqlite store (no-op for servers).

    Held while a process opens the store, so that parallel workers of a sweep
    do not race to create the schema (MLflow runs its migrations on first open).
    """
    db = sqlite_path(uri)
    if db is None:
        yield
        return
    db.parent.mkdir(parents=True, exist_ok=True)
    lock = db.with_name(db.name + ".lock")
    with open(lock, "a") as handle:
        deadline = time.monotonic() + LOCK_WAIT_S
        said = False
        while True:  # held for a moment by each writer; a holder that never lets go is named, not waited on
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise UserError(
                        f"the store's lock {lock} has been held by another process for {LOCK_WAIT_S:g} s; "
                        f"a stuck run? end it (`fuser {lock}` names it), or use another store"
                    ) from None
                if not said and time.monotonic() > deadline - LOCK_WAIT_S + LOCK_SAY_S:
                    print(f"waiting for the store's lock {lock} (another process holds it)", file=sys.stderr)
                    said = True
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def use_wal(uri: str) -> None:
    """Switch a sqlite store to write-ahead logging (persistent; readers then never block writers)."""
    db = sqlite_path(uri)
    if db is None or not db.exists():
        return
    con = sqlite3.connect(db, timeout=30)
    try:
        if con.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            con.execute("PRAGMA journal_mode=WAL")
    finally:
        con.close()


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mapping -> {"a.b.c": value}; lists stay whole (logged as strings)."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, prefix=f"{name}."))
        else:
            out[name] = value
    return out


class Tracker:
    """A thin layer over ``mlflow.MlflowClient`` for soundmatch's run layout.

    Every store call is retried while SQLite reports a transient lock, so many
    workers of a sweep can share one sqlite store; a sqlite store is opened
    under a file lock and switched to write-ahead logging.

    Args:
        uri: tracking URI (sqlite:///..., http://..., ...).
        experiment: experiment name, created when missing.
        artifact_root: where artifacts go for a new experiment on a local store;
            None lets the server decide (remote stores).
    """

    def __init__(self, uri: str, experiment: str, artifact_root: Path | None = None):
        import mlflow

        quiet_mlflow()

        self._mlflow = mlflow
        self.uri = uri
        self._final_status: dict[str, str] = {}
        self._withdrawn: set[str] = set()
        check_store(uri)
        with store_lock(uri):
            self.client = mlflow_client(uri)
            self._identity = _file_identity(uri)
            found = with_retry(lambda: self.client.get_experiment_by_name(experiment))
            if found is None:
                location = artifact_root.resolve().as_uri() if artifact_root is not None else None
                try:
                    self.experiment_id = self.client.create_experiment(experiment, artifact_location=location)
                except mlflow.exceptions.MlflowException:
                    # another machine of the same sweep created it first
                    self.experiment_id = self.client.get_experiment_by_name(experiment).experiment_id
            else:
                self.experiment_id = found.experiment_id
            use_wal(uri)
            self._identity = _file_identity(uri)

    def check_alive(self) -> None:
        """One line when the sqlite store this tracker writes was deleted or replaced meanwhile
        (SQLite would go on writing into the deleted file and every result would be lost)."""
        if self._identity is not None and _file_identity(self.uri) != self._identity:
            raise UserError(
                f"the store {sqlite_path(self.uri)} was deleted or replaced while this command wrote to "
                "it; the results since are lost with it: restore it, or run again (finished targets in a "
                "store that still exists are not run twice)"
            )

    @contextmanager
    def run(
        self,
        name: str,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        parent_id: str | None = None,
    ) -> Iterator[str]:
        """Start a run, yield its id, and end it FINISHED (FAILED on error or :meth:`fail`,
        KILLED on Ctrl-C)."""
        all_tags = dict(tags or {})
        if parent_id is not None:
            all_tags["mlflow.parentRunId"] = parent_id
        run = with_retry(lambda: self.client.create_run(self.experiment_id, run_name=name, tags=all_tags))
        run_id = run.info.run_id
        status = "FAILED"
        try:
            if params:
                self.log_params(run_id, params)
            yield run_id
            status = self._final_status.pop(run_id, "FINISHED")
        except KeyboardInterrupt:
            status = "KILLED"
            raise
        finally:
            with_retry(lambda: self.client.set_terminated(run_id, status=status))
            if run_id in self._withdrawn:
                self._withdrawn.discard(run_id)
                with_retry(lambda: self.client.delete_run(run_id))

    def fail(self, run_id: str, traceback_text: str | None = None) -> None:
        """End ``run_id`` FAILED when its ``run`` block exits; log the traceback as traceback.txt."""
        self._final_status[run_id] = "FAILED"
        if traceback_text:
            with_retry(lambda: self.client.log_text(run_id, traceback_text, "traceback.txt"))

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(k, str(v)[:PARAM_VALUE_MAX]) for k, v in params.items()]
        for i in range(0, len(items), 100):
            chunk = items[i : i + 100]
            with_retry(lambda chunk=chunk: self.client.log_batch(run_id, params=chunk))

    def log_metrics(self, run_id: str, metrics: Mapping[str, float | None], step: int = 0) -> None:
        self.log_series(run_id, ((k, v, step) for k, v in metrics.items() if v is not None))

    def log_series(self, run_id: str, points: Iterable[tuple[str, float, int]]) -> None:
        """Log (name, value, step) triples in batches."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [Metric(k, float(v), now, int(s)) for k, v, s in points]
        for i in range(0, len(batch), BATCH):
            chunk = batch[i : i + BATCH]
            with_retry(lambda chunk=chunk: self.client.log_batch(run_id, metrics=chunk))

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        from mlflow.entities import RunTag

        items = [RunTag(k, str(v)) for k, v in tags.items()]
        with_retry(lambda: self.client.log_batch(run_id, tags=items))

    def log_artifacts(self, run_id: str, local_dir: Path) -> None:
        with_retry(lambda: self.client.log_artifacts(run_id, str(local_dir)))

    def search(self, filter_string: str) -> list[Any]:
        """Every run of the experiment matching ``filter_string`` (all pages)."""
        found: list[Any] = []
        token = None
        while True:
            page = with_retry(
                lambda token=token: self.client.search_runs(
                    [self.experiment_id], filter_string, max_results=SEARCH_PAGE, page_token=token
                )
            )
            found.extend(page)
            token = page.token
            if not token:
                return found

    def mark_killed(self, filter_string: str, why: str) -> int:
        """End every RUNNING run matching ``filter_string`` KILLED (tag ``soundmatch.killed``: why)
        whose process is gone.

        For runs whose process died without ending them (a worker killed with SIGKILL
        when its sweep was interrupted, an out-of-memory kill, a lost node). A run
        whose owner (tag ``soundmatch.owner``, host:pid) still lives on this machine
        is another sweep's work in progress and is left alone.
        """
        runs = self.search(f"{filter_string} and attributes.status = 'RUNNING'")
        runs = [r for r in runs if not owner_alive(r.data.tags.get(OWNER_TAG, ""), r.info.start_time)]
        for run in runs:
            self.set_tags(run.info.run_id, {"soundmatch.killed": why})
            with_retry(lambda run=run: self.client.set_terminated(run.info.run_id, status="KILLED"))
        return len(runs)

    def taken(self, config_hash: str, target: str) -> str | None:
        """Why ``target`` of this config must not run here (finished meanwhile, or running in a live
        process of this machine), else None. Call under :func:`store_lock` with the run's creation,
        so two sweeps of one config never both take a target."""
        runs = self.search(
            f"tags.`soundmatch.config_hash` = '{config_hash}' and tags.`soundmatch.target` = '{target}' "
            "and tags.`soundmatch.level` = 'target'"
        )
        for run in runs:
            if run.info.status == "FINISHED":
                return "finished meanwhile by another process"
            owner = run.data.tags.get(OWNER_TAG, "")
            if run.info.status == "RUNNING" and owner_alive(owner, run.info.start_time):
                return f"being run by process {owner}"
        return None

    def lost_claim(self, config_hash: str, target: str, mine: str) -> str | None:
        """After creating run ``mine`` for ``target``: another process's claim that wins over it
        (a finished run, or a live RUNNING one created earlier), else None. Every process checks
        after creating its own run, so of two that raced exactly one keeps the target -- also
        through a tracking server, where no file lock exists."""
        runs = self.search(
            f"tags.`soundmatch.config_hash` = '{config_hash}' and tags.`soundmatch.target` = '{target}' "
            "and tags.`soundmatch.level` = 'target'"
        )
        me = next((r for r in runs if r.info.run_id == mine), None)
        my_key = (me.info.start_time, mine) if me is not None else (float("inf"), mine)
        for run in runs:
            if run.info.run_id == mine:
                continue
            owner = run.data.tags.get(OWNER_TAG, "")
            if run.info.status == "FINISHED":
                return "finished meanwhile by another process"
            if (run.info.status == "RUNNING" and owner_alive(owner, run.info.start_time)
                    and (run.info.start_time, run.info.run_id) < my_key):  # fmt: skip
                return f"being run by process {owner}"
        return None

    @contextmanager
    def claim(
        self, config_hash: str, target: str, params: Mapping[str, Any], tags: Mapping[str, str],
        parent_id: str, force: bool = False,
    ) -> Iterator[str | None]:  # fmt: skip
        """Take ``target`` of this config for this process: yield its new run's id (ended as
        :meth:`run` ends it), or None when another process has finished it or is running it (said
        in one line). With ``force`` the target is taken whatever the store holds."""
        with ExitStack() as claimed:
            run_id = busy = None
            # checked and created under the store's lock: two sweeps never both take a target
            with store_lock(self.uri):
                busy = None if force else self.taken(config_hash, target)
                if busy is None:
                    run_id = claimed.enter_context(self.run(target, params, tags, parent_id=parent_id))
            if run_id is not None and not force and sqlite_path(self.uri) is None:
                # no file lock (a server): check after claiming; under a sqlite store's lock the
                # claim above was atomic already
                busy = self.lost_claim(config_hash, target, run_id)
                if busy is not None:
                    self.withdraw(run_id)
            if busy is not None:
                print(f"{target}: not run here, {busy} (same config {config_hash})")
                run_id = None
            yield run_id

    def withdraw(self, run_id: str) -> None:
        """Delete ``run_id`` when its ``run`` block exits (a claim lost to another process: it did
        nothing, and counts nowhere)."""
        self._withdrawn.add(run_id)

    def finished_targets(self, config_hash: str) -> dict[str, Any]:
        """Target name -> its FINISHED per-target run (the latest) for one config hash."""
        runs = self.search(
            f"tags.`soundmatch.config_hash` = '{config_hash}' and tags.`soundmatch.level` = 'target' "
            "and attributes.status = 'FINISHED'"
        )
        done: dict[str, Any] = {}
        for run in sorted(runs, key=lambda r: r.info.start_time):
            done[run.data.tags.get("soundmatch.target", run.info.run_name)] = run
        return done


def end_interrupted(uri: str, experiment: str, invocation: str) -> int:
    """After Ctrl-C: end KILLED the runs of ``invocation`` still RUNNING; returns their count."""
    try:
        tracker = Tracker(uri, experiment)
        return tracker.mark_killed(f"tags.`soundmatch.invocation` = '{invocation}'", "interrupted (Ctrl-C)")
    except Exception as err:  # the store may be what failed; the interrupt still wins
        print(f"warning: could not mark interrupted runs KILLED in {uri}: {err}", file=sys.stderr)
        return 0


def log_study(
    experiment: str, values: Mapping[str, Any], metrics: dict[str, float | None], files: list[Path]
) -> str:
    """Log one study (``calibrate``, ``gradcheck`` ...) as a run of ``experiment``: its options
    (``results_dir``, ``tracking.uri`` among them) as params, ``metrics``, and ``files`` as artifacts."""
    results_dir = Path(values["results_dir"])
    uri = resolve_uri(values.get("tracking.uri") or None, results_dir)
    local = uri.startswith("sqlite:") or uri.startswith("file:")
    tracker = Tracker(uri, experiment, results_dir / "artifacts" if local else None)
    params = {k: (",".join(map(str, v)) if isinstance(v, list) else v) for k, v in values.items()}
    with tracker.run(experiment, params, {"soundmatch.level": "study"}) as run_id:
        tracker.log_metrics(run_id, metrics)
        for f in files:
            tracker.client.log_artifact(run_id, str(f))
    return run_id
