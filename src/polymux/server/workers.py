"""``polymux serve --workers N``: N worker processes on one listening socket, each a full
gateway (its own event loop, upstream connections, usage writer and Redis client).

The parent checks it can bind the port, then starts the workers (the ``spawn`` method: fresh
interpreters, no state copied from the parent). Where the system has ``SO_REUSEPORT`` (Linux,
the BSDs, macOS) each worker listens on its own socket of the port and the kernel spreads new
connections evenly over them; one listening socket shared by every worker was tried first, and
under light load one worker took every connection (whoever's accept wakes first wins). Without
``SO_REUSEPORT`` (Windows) the workers share the parent's socket. The parent only supervises:
a worker that dies is started again, and SIGINT/SIGTERM stop every worker gracefully (each
finishes its requests within ``shutdown_timeout``, as one process does).

Workers share the SQLite file (WAL mode; every write queues behind a busy timeout) and, when
``[state] redis`` is set, every counter and cooldown; without Redis each worker keeps its own
limits and cooldowns (README, "Running several replicas").
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
import socket
import time
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType

from .config import GatewayConfig

__all__ = ["bind", "serve_workers"]

log = logging.getLogger("polymux.server")

#: Seconds between the supervisor's looks at its workers.
_POLL = 0.2
#: A worker that exits with an error this soon after its start failed to start (a bad
#: config, a port it cannot use): the gateway stops rather than restart it in a loop.
_MIN_LIFETIME = 5.0


#: Each worker listens on its own socket of the port (else they share the parent's).
REUSE_PORT = hasattr(socket, "SO_REUSEPORT")


def bind(host: str, port: int, *, reuse_port: bool = REUSE_PORT) -> socket.socket:
    """A listening socket on the gateway's port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server(
            (host.strip("[]"), port), family=family, backlog=2048, reuse_port=reuse_port
        )
    except OSError as exc:
        from ..errors import ConfigurationError

        raise ConfigurationError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


def _worker(config: GatewayConfig, db_path: Path | None, shared: socket.socket | None) -> None:
    """One worker process: a gateway served by uvicorn on its own socket of the port, or
    on the parent's."""
    import uvicorn

    from .app import create_app
    from .run import uvicorn_config

    if config.json_logs:
        from .request_log import install_handler

        install_handler()
    sock = shared or bind(config.host, config.port)
    app = create_app(config, db_path=db_path)
    uvicorn.Server(uvicorn_config(app, config)).run(sockets=[sock])


def _metrics_folder() -> None:
    """One folder the workers' metrics are written to and read from (GET /metrics sums
    them): $PROMETHEUS_MULTIPROC_DIR when set, else a new temporary one."""
    import os

    from .metrics import MULTIPROC_ENV, setup_multiprocess

    setup_multiprocess(os.environ.get(MULTIPROC_ENV) or None)


def _exited(config: GatewayConfig, process: BaseProcess) -> None:
    """A worker is gone: its in-flight gauges stop counting (its counters stay)."""
    if config.metrics and process.pid is not None:
        from .metrics import worker_exited

        with contextlib.suppress(ImportError):  # no prometheus-client: metrics are off
            worker_exited(process.pid)


def serve_workers(config: GatewayConfig, db_path: Path | None, workers: int) -> None:
    """Run ``workers`` gateway processes until SIGINT or SIGTERM."""
    sock = bind(config.host, config.port)  # fails here, once, if the port is taken
    shared: socket.socket | None = sock
    if REUSE_PORT:
        sock.close()  # the workers open their own
        shared = None
    if config.metrics:
        _metrics_folder()  # before any worker starts: they inherit where to write
    context = multiprocessing.get_context("spawn")
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    def start() -> tuple[BaseProcess, float]:
        process = context.Process(
            target=_worker, args=(config, db_path, shared), name="polymux-worker", daemon=False
        )
        process.start()
        return process, time.monotonic()

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    running = [start() for _ in range(workers)]
    log.info("polymux gateway: %d workers on http://%s:%d", workers, config.host, config.port)
    try:
        while not stopping:
            time.sleep(_POLL)
            for i, (process, started) in enumerate(running):
                if process.is_alive() or stopping:
                    continue
                code = process.exitcode
                if code is not None and code > 0 and time.monotonic() - started < _MIN_LIFETIME:
                    log.error("worker %d exited with %d at start; stopping", process.pid, code)
                    stopping = True
                    break
                # Killed (a negative code: its signal) or failed later: serve on without it.
                log.warning("worker %d exited with %s; starting another", process.pid, code)
                _exited(config, process)
                running[i] = start()
    finally:
        for process, _ in running:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn's graceful shutdown
        deadline = time.monotonic() + config.shutdown_timeout + 5.0
        for process, _ in running:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
            _exited(config, process)
        if shared is not None:
            shared.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
