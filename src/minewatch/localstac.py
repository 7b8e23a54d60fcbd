"""The local imagery catalogue: PostgreSQL + pgstac + stac-fastapi-pgstac on 127.0.0.1.

The same server stack Planetary Computer runs, so code that searches it also searches PC.
Layout of data_dir: pgdata/ (the cluster), run/ (unix socket + postgres.log, owned by the
postgres user), api.pid, api.url, api.log. Loading goes straight into the database with
pypgstac; the API is read-only (no transaction extensions).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

DB_NAME = "minewatch"
PG_SUPERUSER = "postgres"
API_START_TIMEOUT_S = 60.0
# the API servers this process started: they outlive it on purpose, so their Popen objects are
# kept rather than collected while running (which warns "subprocess ... is still running")
_STARTED: list[subprocess.Popen] = []


class CatalogServerError(Exception):
    """The local catalogue could not be started, loaded or stopped; the message says what to do."""


# ---------------------------------------------------------------- postgres helpers

def _pg_bin() -> Path:
    """Debian keeps the server binaries off PATH, under /usr/lib/postgresql/<ver>/bin."""
    if os.environ.get("MINEWATCH_PG_BIN"):
        return Path(os.environ["MINEWATCH_PG_BIN"])
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    cands = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if cands:
        return cands[-1].parent
    raise CatalogServerError(
        "PostgreSQL server not found: apt-get install postgresql-15 postgresql-15-postgis-3 "
        "(or set MINEWATCH_PG_BIN to the folder holding pg_ctl)")


def _as_pg(cmd: list[str]) -> list[str]:
    # initdb and pg_ctl refuse to run as root: drop to the postgres user.
    if os.geteuid() == 0:
        return ["runuser", "-u", PG_SUPERUSER, "--", *cmd]
    return cmd


def _run_pg(cmd: list[str], data_dir: Path, what: str, check: bool = True) -> subprocess.CompletedProcess:
    p = subprocess.run(_as_pg(cmd), cwd=data_dir, capture_output=True, text=True)
    if check and p.returncode != 0:
        raise CatalogServerError(f"{what} failed (exit {p.returncode}): {(p.stderr or p.stdout).strip()[-2000:]}")
    return p


def _dsn(pg_port: int, db: str = DB_NAME) -> str:
    return f"postgresql://{PG_SUPERUSER}@127.0.0.1:{pg_port}/{db}"


def _pg_running(data_dir: Path) -> int | None:
    """Port of the postgres running from data_dir/pgdata, or None."""
    pgdata = data_dir / "pgdata"
    if not (pgdata / "PG_VERSION").exists():
        return None
    p = _run_pg([str(_pg_bin() / "pg_ctl"), "status", "-D", str(pgdata)], data_dir, "pg_ctl status", check=False)
    if p.returncode != 0:
        return None
    try:  # postmaster.pid line 4 is the port
        return int((pgdata / "postmaster.pid").read_text().splitlines()[3])
    except (OSError, IndexError, ValueError):
        return None


def _port_free(port: int) -> bool:
    # Probe by connecting, not binding: a just-stopped server leaves TIME_WAIT sockets
    # that make bind() fail although postgres/uvicorn (SO_REUSEADDR) can listen again.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        return s.connect_ex(("127.0.0.1", port)) != 0


def _prepare_dirs(data_dir: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    run = data_dir / "run"
    run.mkdir(exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(run, PG_SUPERUSER, PG_SUPERUSER)
        if subprocess.run(_as_pg(["test", "-w", str(run)]), capture_output=True).returncode != 0:
            raise CatalogServerError(
                f"the postgres user cannot reach {data_dir}: make its parent folders traversable "
                f"(chmod o+x) or put the catalogue data_dir elsewhere (e.g. under /var/lib or /tmp)")
    sock = run / ".s.PGSQL.XXXXX"
    if len(str(sock)) > 100:  # sun_path is 108 bytes
        raise CatalogServerError(f"data_dir path too long for a unix socket ({len(str(sock))} chars): {data_dir}; "
                                 "use a shorter one")


def _initdb(data_dir: Path) -> None:
    pgdata = data_dir / "pgdata"
    if (pgdata / "PG_VERSION").exists():
        return
    pgdata.mkdir(mode=0o700, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(pgdata, PG_SUPERUSER, PG_SUPERUSER)
    # --no-sync: a fresh, empty cluster is cheap to recreate; saves seconds on a cold start.
    _run_pg([str(_pg_bin() / "initdb"), "-D", str(pgdata), "-U", PG_SUPERUSER,
             "--auth-local=trust", "--auth-host=trust", "-E", "UTF8", "--locale=C", "--no-sync"],
            data_dir, "initdb")
    with open(pgdata / "postgresql.conf", "a") as f:
        f.write("\ninclude_if_exists = 'minewatch.conf'\n")


def _start_pg(data_dir: Path, pg_port: int) -> None:
    pgdata, run = data_dir / "pgdata", data_dir / "run"
    # Written on every start so the port can change between runs; loopback only.
    conf = pgdata / "minewatch.conf"
    conf.write_text(
        f"port = {pg_port}\nlisten_addresses = '127.0.0.1'\n"
        f"unix_socket_directories = '{run}'\nmax_connections = 50\n")
    if os.geteuid() == 0:
        shutil.chown(conf, PG_SUPERUSER, PG_SUPERUSER)
    if not _port_free(pg_port):
        raise CatalogServerError(f"port 127.0.0.1:{pg_port} is taken by another program: choose another pg_port")
    p = _run_pg([str(_pg_bin() / "pg_ctl"), "start", "-D", str(pgdata), "-l", str(run / "postgres.log"),
                 "-w", "-t", "60"], data_dir, "pg_ctl start", check=False)
    if p.returncode != 0:
        raise CatalogServerError(f"postgres did not start (exit {p.returncode}); "
                                 f"log tail:\n{_tail(run / 'postgres.log')}")


def _ensure_db_and_schema(pg_port: int) -> None:
    import psycopg
    from pypgstac.db import PgstacDB
    from pypgstac.migrate import Migrate

    with psycopg.connect(_dsn(pg_port, "postgres"), autocommit=True) as c:
        if not c.execute("SELECT 1 FROM pg_available_extensions WHERE name='postgis'").fetchone():
            raise CatalogServerError("PostGIS is not installed for this PostgreSQL: "
                                     "apt-get install postgresql-15-postgis-3")
        if not c.execute("SELECT 1 FROM pg_database WHERE datname=%s", (DB_NAME,)).fetchone():
            c.execute(f"CREATE DATABASE {DB_NAME}")
    db = PgstacDB(dsn=_dsn(pg_port))
    try:
        Migrate(db).run_migration()  # no-op when already at pypgstac's version
    except Exception as e:
        raise CatalogServerError(f"pgstac schema migration failed on {_dsn(pg_port)}: {e}") from e
    finally:
        db.close()


# ---------------------------------------------------------------- API helpers

def _tail(path: Path, n: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return f"(no log at {path})"


def _api_pid(data_dir: Path) -> int | None:
    """Pid of our uvicorn if it is still alive (checked by cmdline so a reused pid is not ours)."""
    try:
        pid = int((data_dir / "api.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return pid if b"stac_fastapi.pgstac.app" in cmd else None


def is_up(url: str, timeout: float = 2.0) -> bool:
    """True if url answers as a STAC API landing page."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never via a proxy
    try:
        with opener.open(url.rstrip("/") + "/", timeout=timeout) as r:
            return r.status == 200 and "links" in json.loads(r.read())
    except Exception:
        return False


def _pgstac_version() -> str:
    from pypgstac import __version__
    return f"pgstac-{__version__}"


def _start_api(data_dir: Path, pg_port: int, api_port: int) -> None:
    url = f"http://127.0.0.1:{api_port}"
    if not _port_free(api_port):
        raise CatalogServerError(f"port 127.0.0.1:{api_port} is taken by another program: choose another api_port")
    env = dict(os.environ)
    env.pop("ENABLED_EXTENSIONS", None)  # all read extensions (query, sort, filter, ...) on
    env.update({
        # stac-fastapi-pgstac 7 reads PG* (PostgresSettings); trust auth ignores the password
        "PGUSER": PG_SUPERUSER, "PGPASSWORD": "trust", "PGHOST": "127.0.0.1",
        "PGPORT": str(pg_port), "PGDATABASE": DB_NAME,
        "DB_MIN_CONN_SIZE": "1", "DB_MAX_CONN_SIZE": "5",
        "ENABLE_TRANSACTIONS_EXTENSIONS": "false",  # loading goes through pypgstac
        "STAC_FASTAPI_TITLE": "minewatch local catalogue", "STAC_FASTAPI_LANDING_ID": "minewatch",
        "STAC_FASTAPI_DESCRIPTION": "Sentinel-2 scenes for minewatch (pgstac on loopback)",
        "STAC_FASTAPI_VERSION": _pgstac_version(),
    })
    log = open(data_dir / "api.log", "ab")
    # cwd=data_dir: pydantic-settings reads a stray ".env" from the cwd otherwise.
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "stac_fastapi.pgstac.app:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(api_port), "--log-level", "warning"],
        cwd=data_dir, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)  # own session: outlives the CLI command that started it
    log.close()
    _STARTED.append(proc)
    (data_dir / "api.pid").write_text(str(proc.pid))
    (data_dir / "api.url").write_text(url)
    deadline = time.monotonic() + API_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if is_up(url):
            return
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    _stop_api(data_dir)
    raise CatalogServerError(f"STAC API at {url} did not come up; "
                             f"log {data_dir / 'api.log'} tail:\n{_tail(data_dir / 'api.log')}")


def _stop_api(data_dir: Path) -> None:
    pid = _api_pid(data_dir)
    if pid is not None:
        try:
            os.killpg(pid, signal.SIGTERM)  # its own session/group, started by us
        except ProcessLookupError:
            pass
        for _ in range(100):
            if _api_pid(data_dir) is None:
                break
            time.sleep(0.1)
        else:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    for f in ("api.pid", "api.url"):
        (data_dir / f).unlink(missing_ok=True)


# ---------------------------------------------------------------- public

def up(data_dir: Path, pg_port: int = 54329, api_port: int = 8082) -> str:
    """Start (or find running) postgres + pgstac + STAC API for data_dir; return the API URL."""
    data_dir = Path(data_dir).resolve()
    url = f"http://127.0.0.1:{api_port}"
    running_pg = _pg_running(data_dir)
    if running_pg is not None and running_pg != pg_port:
        raise CatalogServerError(f"the catalogue in {data_dir} already runs postgres on port {running_pg}, "
                                 f"not {pg_port}: run `minewatch catalog down` first")
    if _api_pid(data_dir) is not None:
        running_url = (data_dir / "api.url").read_text().strip() if (data_dir / "api.url").exists() else ""
        if running_url != url:
            raise CatalogServerError(f"the catalogue in {data_dir} already serves {running_url}, not {url}: "
                                     f"run `minewatch catalog down` first")
        if running_pg is not None and is_up(url):
            return url
        _stop_api(data_dir)  # half-up: restart the API cleanly
    _prepare_dirs(data_dir)
    _initdb(data_dir)
    if running_pg is None:
        _start_pg(data_dir, pg_port)
    try:
        _ensure_db_and_schema(pg_port)
        _start_api(data_dir, pg_port, api_port)
    except BaseException:
        if running_pg is None:  # a failed `up` leaves nothing running that it started
            down(data_dir)
        raise
    return url


def down(data_dir: Path) -> None:
    """Stop the API and postgres for data_dir; nothing to do if they are not running."""
    data_dir = Path(data_dir).resolve()
    _stop_api(data_dir)
    if _pg_running(data_dir) is not None:
        _run_pg([str(_pg_bin() / "pg_ctl"), "stop", "-D", str(data_dir / "pgdata"), "-m", "fast", "-w", "-t", "60"],
                data_dir, "pg_ctl stop")


def _read_json(path: Path) -> dict:
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CatalogServerError(f"cannot read STAC JSON {path}: {e}") from e
    if not isinstance(d, dict):
        raise CatalogServerError(f"STAC JSON {path} is not an object")
    return d


def load(items_dir: Path, data_dir: Path, pg_port: int = 54329) -> int:
    """Upsert items_dir/collection.json and items_dir/items/*.json into the catalogue; return item count."""
    from pypgstac.db import PgstacDB
    from pypgstac.load import Loader, Methods

    items_dir, data_dir = Path(items_dir), Path(data_dir).resolve()
    coll_path = items_dir / "collection.json"
    if not coll_path.is_file():
        raise CatalogServerError(f"no collection.json in {items_dir} "
                                 "(a catalogue folder is collection.json + items/*.json)")
    coll = _read_json(coll_path)
    if coll.get("type") != "Collection" or not coll.get("id"):
        raise CatalogServerError(f"{coll_path} is not a STAC Collection (needs type 'Collection' and an id)")
    # Parse every item first, so a bad file fails the load before anything is written.
    items = []
    for p in sorted((items_dir / "items").glob("*.json")):
        it = _read_json(p)
        if it.get("type") != "Feature" or not it.get("id"):
            raise CatalogServerError(f"{p} is not a STAC Item (needs type 'Feature' and an id)")
        if it.get("collection") != coll["id"]:
            raise CatalogServerError(f"{p}: item collection {it.get('collection')!r} "
                                     f"is not {coll['id']!r} from {coll_path}")
        if not it.get("properties", {}).get("datetime") and not it.get("properties", {}).get("start_datetime"):
            raise CatalogServerError(f"{p}: item has no properties.datetime")
        items.append(it)
    if _pg_running(data_dir) != pg_port:
        raise CatalogServerError(f"the catalogue database in {data_dir} is not running on port {pg_port}: "
                                 f"run `minewatch catalog up` first")
    db = PgstacDB(dsn=_dsn(pg_port))
    try:
        loader = Loader(db=db)
        loader.load_collections(iter([coll]), insert_mode=Methods.upsert)
        if items:
            loader.load_items(iter(items), insert_mode=Methods.upsert)
    except CatalogServerError:
        raise
    except Exception as e:
        raise CatalogServerError(f"loading {items_dir} into {_dsn(pg_port)} failed: {e}") from e
    finally:
        db.close()
    return len(items)
