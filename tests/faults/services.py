"""What the fault rounds break and mend: the network path to the S3 service (a forwarder
that goes down and comes back on the same port), a PostgreSQL server to restart, and a tiny
ext4 filesystem to fill and then grow."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class S3Endpoint:
    """An S3 Object Lock service (Ceph radosgw) and the vault's credentials on it."""

    endpoint: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"

    def env(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def new_bucket(self) -> str:
        """A fresh bucket with Object Lock: each round's orphan check sees only its own."""
        import boto3
        from botocore.config import Config

        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(s3={"addressing_style": "path"}),
        )
        name = f"evf-{uuid.uuid4().hex[:16]}"
        client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
        return name


class Link:
    """A TCP forwarder to the S3 endpoint that can be taken down like a stopped gateway
    (open connections reset, new ones refused) and brought back on the same port."""

    def __init__(self, endpoint: str) -> None:
        host, _, port = endpoint.removeprefix("http://").partition(":")
        self.target = (host, int(port))
        self.lock = threading.Lock()
        self.sockets: list[socket.socket] = []
        self.listener: socket.socket | None = None
        self.port = 0
        self.up()
        self.url = f"http://127.0.0.1:{self.port}"

    @property
    def is_up(self) -> bool:
        return self.listener is not None

    def up(self) -> None:
        if self.listener is not None:
            return
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def down(self) -> None:
        with self.lock:
            listener, self.listener = self.listener, None
            sockets, self.sockets = self.sockets, []
        if listener is not None:
            # shutdown() first: a plain close() leaves the accept() of the other thread
            # blocked on a socket that still listens (and accepts).
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=10)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(256 * 1024):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


class PostgresServer:
    """A throwaway server from scripts/start-test-pg: a database per round, and restarts."""

    def __init__(self, url: str, directory: Path, owned: bool) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url
        from sqlalchemy.pool import NullPool

        self.url, self.dir, self.owned = make_url(url), directory, owned
        self.admin = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)

    @classmethod
    def start(cls) -> PostgresServer | str:
        """A server to break: EVAULT_TEST_PG_URL with EVAULT_TEST_PG_DIR, else a new one
        (scripts/start-test-pg); or why there is none."""
        url, directory = os.environ.get("EVAULT_TEST_PG_URL"), os.environ.get("EVAULT_TEST_PG_DIR")
        if url and directory:
            return cls(url, Path(directory), owned=False)
        try:
            done = subprocess.run(
                [str(ROOT / "scripts" / "start-test-pg")],
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"scripts/start-test-pg could not run: {exc}"
        found = dict(
            line.removeprefix("export ").split("=", 1)
            for line in done.stdout.splitlines()
            if line.startswith("export ") and "=" in line
        )
        if done.returncode or "EVAULT_TEST_PG_URL" not in found:
            tail = " / ".join(done.stderr.strip().splitlines()[-3:])
            return f"scripts/start-test-pg failed (exit {done.returncode}): {tail}"
        return cls(found["EVAULT_TEST_PG_URL"], Path(found["EVAULT_TEST_PG_DIR"]), owned=True)

    def new_database(self, name: str) -> str:
        with self.admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            connection.exec_driver_sql(f"CREATE DATABASE {name}")
        return self.url.set(database=name).render_as_string(hide_password=False)

    def drop_database(self, name: str) -> None:
        with self.admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def restart(self, mode: str) -> None:
        """pg_ctl restart: 'fast' (clients disconnected, clean shutdown) or 'immediate'
        (as after a crash: recovery from the WAL at the next start)."""
        data = self.dir / "data"
        version = (data / "PG_VERSION").read_text().strip()
        pg_ctl = os.environ.get("EVAULT_PG_BIN", f"/usr/lib/postgresql/{version}/bin")
        argv = [f"{pg_ctl}/pg_ctl", "-D", str(data), "-m", mode, "-w", "-t", "60"]
        argv += ["-l", str(self.dir / "server.log"), "restart"]
        owner = data.owner()
        if os.geteuid() == 0 and owner != "root":
            argv = ["runuser", "-u", owner, "--", *argv]
        subprocess.run(argv, check=True, capture_output=True, timeout=90)

    def close(self) -> None:
        self.admin.dispose()
        if self.owned:
            stop = ROOT / "scripts" / "stop-test-pg"
            subprocess.run([str(stop), str(self.dir)], check=False, capture_output=True)


class TinyDisk:
    """A small ext4 filesystem on a loop device (the store or the spool), to fill."""

    def __init__(self, image: Path, mount: Path, size_mb: int) -> None:
        if os.geteuid() != 0 or shutil.which("mkfs.ext4") is None:
            raise RuntimeError("a tiny filesystem needs root and mkfs.ext4")
        self.image, self.mount = image, mount
        subprocess.run(["truncate", "-s", f"{size_mb}M", str(image)], check=True)
        subprocess.run(["mkfs.ext4", "-q", "-m", "0", str(image)], check=True)
        done = subprocess.run(
            ["losetup", "-f", "--show", str(image)], check=True, capture_output=True, text=True
        )
        self.devname = done.stdout.strip()
        mount.mkdir(parents=True, exist_ok=True)
        try:
            subprocess.run(["mount", self.devname, str(mount)], check=True, capture_output=True)
        except subprocess.CalledProcessError:
            subprocess.run(["losetup", "-d", self.devname], check=False)
            raise

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.mount).free

    def close(self) -> None:
        subprocess.run(["umount", "-l", str(self.mount)], check=False, capture_output=True)
        subprocess.run(["losetup", "-d", self.devname], check=False, capture_output=True)
