"""RabbitMQ and PostgreSQL servers of a drill's own, on spare ports of this machine: three broker nodes in
one cluster, and a PostgreSQL primary with a streaming hot standby. The machine's own servers (5672, 5432)
are not touched: each node and server has its own name, ports and directory, all under one temporary
directory that `close()` removes after stopping everything it started.

The binaries are the installed ones (Debian's rabbitmq-server, PostgreSQL's initdb, pg_ctl and
pg_basebackup). A missing one fails the drill, naming it: a drill that skipped would prove nothing.
"""

import asyncio
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

RABBITMQ_DIRECTORIES = ("/usr/lib/rabbitmq/bin",)  # Debian's scripts, not /usr/sbin's wrapper that su's
POSTGRES_DIRECTORIES = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))


class MissingEngine(AssertionError):
    """An engine the drill needs is not installed: the drill fails, it does not skip."""


def tool(name: str, variable: str, directories: list[str], package: str) -> str:
    """The executable `name`: in $variable's directory when set, else in the usual places, else on PATH."""
    candidates = [os.environ[variable]] if variable in os.environ else directories
    for directory in candidates:
        if os.access(Path(directory) / name, os.X_OK):
            return str(Path(directory) / name)
    if variable not in os.environ and (found := shutil.which(name)):
        return found
    raise MissingEngine(
        f"{name} not found in {candidates} nor on PATH: install {package} (or set {variable})"
    )


def rabbitmq_tool(name: str) -> str:
    return tool(name, "KIPP_TEST_RABBITMQ_BIN", list(RABBITMQ_DIRECTORIES), "rabbitmq-server")


def postgres_tool(name: str) -> str:
    newest_first = [str(p) for p in reversed(POSTGRES_DIRECTORIES)]
    return tool(name, "KIPP_TEST_POSTGRES_BIN", newest_first, "postgresql (initdb, pg_ctl, pg_basebackup)")


def spare_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def run(*command: str, env: dict[str, str] | None = None, within: float = 60) -> str:
    """Runs a command to its end; its output, or an error carrying the output."""
    process = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), within)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise RuntimeError(f"{' '.join(command)} did not finish within {within} s") from None
    text = output.decode(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited with {process.returncode}:\n{text}")
    return text


async def accepting(port: int, within: float, alive: "subprocess.Popen[bytes] | None" = None) -> None:
    """Waits until something accepts TCP connections on 127.0.0.1:port."""
    deadline = time.monotonic() + within
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            pass
        if alive is not None and alive.poll() is not None:
            raise RuntimeError(f"the process for port {port} exited with {alive.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"nothing accepted connections on port {port} within {within} s")
        await asyncio.sleep(0.2)


class RabbitNode:
    def __init__(self, name: str, directory: Path, cookie_home: Path, seeds: list[str]) -> None:
        self.name = name  # kippha1-<run>@localhost
        self.directory = directory
        self.port, self.dist_port = spare_port(), spare_port()
        self.process: subprocess.Popen[bytes] | None = None
        directory.mkdir()
        (directory / "enabled_plugins").write_text("[].\n")
        (directory / "rabbitmq-env.conf").write_text("")  # not the machine's (/etc/rabbitmq)
        config = [f"listeners.tcp.1 = 127.0.0.1:{self.port}"]
        if seeds:  # it joins the cluster the seed node started, as a node of docker-compose.yml's does
            config.append("cluster_formation.peer_discovery_backend = classic_config")
            config += [f"cluster_formation.classic_config.nodes.{n} = {s}" for n, s in enumerate(seeds, 1)]
        (directory / "rabbitmq.conf").write_text("\n".join(config) + "\n")
        self.env = {
            **os.environ,
            "HOME": str(cookie_home),  # where the node and the CLI find the cluster's Erlang cookie
            "RABBITMQ_NODENAME": name,
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONF_ENV_FILE": str(directory / "rabbitmq-env.conf"),
            "RABBITMQ_CONFIG_FILE": str(directory / "rabbitmq"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(directory / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(directory / "mnesia"),
            "RABBITMQ_LOG_BASE": str(directory / "log"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            # Loopback only; and schedulers that sleep when idle instead of spinning (a 2-core machine).
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": (
                "-kernel inet_dist_use_interface {127,0,0,1} +sbwt none +sbwtdcpu none +sbwtdio none"
            ),
        }

    def start(self) -> None:
        with (self.directory / "stdout.log").open("ab") as log:
            self.process = subprocess.Popen(  # its own process group: a crash takes the whole node
                [rabbitmq_tool("rabbitmq-server")],
                env=self.env,
                cwd=self.directory,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def crash(self) -> None:
        """SIGKILL to the node's whole process group: no goodbye to its clients or its peers."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    async def ctl(self, *arguments: str) -> str:
        # Not the node's RABBITMQ_DIST_PORT: the CLI would listen 10,000 above it, past 65535 for a high one.
        env = {name: value for name, value in self.env.items() if name != "RABBITMQ_DIST_PORT"}
        return await run(rabbitmq_tool("rabbitmqctl"), "-n", self.name, "-q", *arguments, env=env)


class RabbitCluster:
    """Three nodes: the first starts alone, the other two join it by classic-config peer discovery."""

    def __init__(self, directory: Path, run_id: str) -> None:
        directory.mkdir()
        cookie = directory / ".erlang.cookie"
        cookie.write_text(f"KIPPHADRILL{run_id.upper()}")
        cookie.chmod(0o400)
        names = [f"kippha{n}-{run_id}@localhost" for n in (1, 2, 3)]
        self.nodes = [
            RabbitNode(name, directory / name.split("@")[0], directory, [] if n == 0 else names)
            for n, name in enumerate(names)
        ]

    def url(self, user: str = "guest", password: str = "guest") -> str:
        hosts = ",".join(f"127.0.0.1:{node.port}" for node in self.nodes)
        return f"amqp://{user}:{password}@{hosts}/"

    async def start(self, within: float = 120) -> None:
        seed, *joining = self.nodes
        seed.start()
        await accepting(seed.port, within, seed.process)
        for node in joining:
            node.start()
        await asyncio.gather(*(accepting(node.port, within, node.process) for node in joining))
        status = json.loads(await seed.ctl("cluster_status", "--formatter", "json"))
        running = sorted(status["running_nodes"])
        assert running == sorted(node.name for node in self.nodes), f"not one cluster: {running}"

    async def queue_members(self, node: RabbitNode) -> dict[str, list[str]]:
        listed = json.loads(await node.ctl("list_queues", "name", "type", "members", "--formatter", "json"))
        return {queue["name"]: sorted(queue["members"]) for queue in listed if queue["type"] == "quorum"}

    def close(self) -> None:
        for node in self.nodes:
            node.crash()


def as_postgres() -> list[str]:
    """PostgreSQL refuses to run as root: as root, its commands run as the postgres user."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise MissingEngine("running as root, and there is no postgres user to run PostgreSQL as") from None
    return [shutil.which("runuser") or "runuser", "-u", "postgres", "--"]


class PostgresServer:
    def __init__(self, data: Path, sockets: Path) -> None:
        self.data, self.sockets = data, sockets
        self.port = spare_port()

    async def pg_ctl(self, *arguments: str) -> str:
        log = str(self.data.parent / f"{self.data.name}.log")
        return await run(*as_postgres(), postgres_tool("pg_ctl"), "-D", str(self.data), "-l", log, *arguments)

    async def start(self) -> None:
        await self.pg_ctl("-w", "-t", "60", "-o", f"-p {self.port} -k {self.sockets}", "start")

    async def stop(self, mode: str) -> None:
        await self.pg_ctl("-w", "-m", mode, "stop")

    async def promote(self) -> None:
        await self.pg_ctl("-w", "-t", "60", "promote")

    @property
    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


class PostgresPair:
    """A primary, and a hot standby streaming from it through a replication slot, synchronously: the
    primary answers a commit only once the standby has it, so promoting the standby loses nothing that
    was acknowledged."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir()
        self.directory = directory
        self.primary = PostgresServer(directory / "primary", directory)
        self.standby = PostgresServer(directory / "standby", directory)
        if as_postgres():
            shutil.chown(directory, "postgres", "postgres")

    def owner_url(self, database: str = "kipp") -> str:
        hosts = f"127.0.0.1:{self.primary.port},127.0.0.1:{self.standby.port}"
        return f"postgresql://postgres@{hosts}/{database}?target_session_attrs=read-write"

    async def start_primary(self) -> None:
        await run(
            *as_postgres(),
            postgres_tool("initdb"),
            "-D",
            str(self.primary.data),
            "-U",
            "postgres",
            "--auth=trust",  # initdb's pg_hba.conf: local connections only, replication included
            "--no-sync",
        )
        with (self.primary.data / "postgresql.conf").open("a") as conf:
            conf.write("listen_addresses = '127.0.0.1'\nwal_level = replica\nmax_wal_senders = 4\n")
        await self.primary.start()

    async def start_standby(self) -> None:
        await run(
            *as_postgres(),
            postgres_tool("pg_basebackup"),
            *("-h", "127.0.0.1", "-p", str(self.primary.port), "-U", "postgres"),
            *("-D", str(self.standby.data), "-R", "-X", "stream", "-C", "-S", "kipp_standby", "-c", "fast"),
        )
        await self.standby.start()
        # Synchronous from now on (not in the base backup, so the standby, once promoted, does not wait for
        # a standby of its own).
        await self.sql(
            self.primary, "ALTER SYSTEM SET synchronous_standby_names = '*'", "SELECT pg_reload_conf()"
        )
        deadline = time.monotonic() + 60
        while "sync" not in await self.sql(self.primary, "SELECT sync_state FROM pg_stat_replication"):
            assert time.monotonic() < deadline, "the standby did not become synchronous"
            await asyncio.sleep(0.2)

    async def sql(self, server: PostgresServer, *statements: str) -> str:
        commands = [arg for statement in statements for arg in ("-c", statement)]
        psql = postgres_tool("psql")
        return await run(psql, "-h", "127.0.0.1", "-p", str(server.port), "-U", "postgres", "-Atq", *commands)

    async def close(self) -> None:
        for server in (self.primary, self.standby):
            if server.running:
                try:
                    await server.stop("immediate")
                except RuntimeError as error:
                    print(f"stopping PostgreSQL in {server.data}: {error}")
