"""The one pool of worker processes with hard timeouts; every numeric or sympy job that could hang runs here.

Workers are fresh interpreters started with exec (never forked from a possibly threaded parent,
and not multiprocessing.Process, whose spawn re-imports the caller's __main__). A task names a
module-level function ("module:function") and its arguments; each task gets a hard wall-clock
limit: a worker that runs over is killed and respawned, and the task's result is a `Failure`.
A worker imports a task's module before its first task of that kind, outside any time limit,
and calls the module's `warm_up()` if it has one, so import time never counts as a timeout.
Workers keep their caches between tasks (the verifier caches compiled integrands, so the
members of a GRPO group share that work).
"""

from __future__ import annotations

import atexit
import importlib
import os
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_connections
from pathlib import Path
from typing import Any

from engine.errors import LadderError
from engine.runs.config import VerifyConfig

WORKER_MEMORY_BYTES = 4 * 2**30
STARTUP_TIMEOUT_S = 60.0
_ROOT = str(Path(__file__).resolve().parents[2])


@dataclass(frozen=True)
class Failure:
    """A task that gave no result: it ran over its time limit, its worker died, or it raised."""

    reason: str


def task_ref(fn: Callable[..., Any]) -> str:
    """The "module:function" name a worker uses to find `fn` (a module-level function)."""
    return f"{fn.__module__}:{fn.__qualname__}"


def _limit_memory() -> None:
    try:
        import resource

        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = WORKER_MEMORY_BYTES if hard == resource.RLIM_INFINITY else min(WORKER_MEMORY_BYTES, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ImportError, ValueError, OSError):
        pass


def _worker_main(task_fd: int, result_fd: int) -> None:
    """Worker loop. Messages: ("load", module) -> "ready"; ("call", "module:function", args) ->
    the function's result (or a Failure); None -> exit."""
    _limit_memory()
    tasks, results = Connection(task_fd, writable=False), Connection(result_fd, readable=False)
    results.send("ready")
    while True:
        try:
            task = tasks.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        if task[0] == "load":
            module = importlib.import_module(task[1])
            if hasattr(module, "warm_up"):
                module.warm_up()
            results.send("ready")
            continue
        _, ref, args = task
        module_name, name = ref.split(":")
        try:
            result = getattr(importlib.import_module(module_name), name)(*args)
        except Exception as e:  # a bug must cost one result, never the worker
            result = Failure(f"error: {type(e).__name__}: {e}")
        results.send(result)


class _Worker:
    """One worker process and its two pipes."""

    def __init__(self) -> None:
        task_r, task_w = os.pipe()
        result_r, result_w = os.pipe()
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
                   PYTHONPATH=os.pathsep.join(p for p in (_ROOT, os.environ.get("PYTHONPATH")) if p))
        code = f"from engine.verify import pool; pool._worker_main({task_r}, {result_w})"
        try:
            self.proc = subprocess.Popen([sys.executable, "-c", code], pass_fds=(task_r, result_w), env=env,
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        finally:
            os.close(task_r)
            os.close(result_w)
        self.conn = Connection(result_r, writable=False)  # results (and "ready") come back here
        self.tasks = Connection(task_w, readable=False)
        self.ready = False  # False while starting or loading a module
        self.started = time.monotonic()  # when it last began starting or loading
        self.loaded: set[str] = set()
        self.done = 0  # tasks this worker has answered (tests check that work is spread)

    def send(self, message: Any) -> None:
        self.tasks.send(message)

    def load(self, module: str) -> None:
        self.send(("load", module))
        self.loaded.add(module)
        self.ready, self.started = False, time.monotonic()

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.conn.close()
        self.tasks.close()


class WorkerPool:
    """Persistent worker processes; each task gets a hard wall-clock limit (kill + respawn on overrun)."""

    def __init__(self, workers: int = 0) -> None:
        self.size = workers or _cores()
        self.workers: list[_Worker] = []
        self.lock = threading.Lock()
        self.respawned = 0

    def close(self) -> None:
        for w in self.workers:
            try:
                w.send(None)
                w.proc.wait(1)
            except (OSError, subprocess.TimeoutExpired):
                pass
            w.kill()
        self.workers = []

    def run(self, fn: Callable[..., Any] | str, arg_tuples: Sequence[tuple], timeout: float) -> list[Any]:
        """`fn(*args)` for each tuple of `arg_tuples` in the workers, in order; a task that runs
        over `timeout` seconds, crashes its worker or raises gives a `Failure` instead."""
        ref = fn if isinstance(fn, str) else task_ref(fn)
        module = ref.split(":")[0]
        with self.lock:
            while len(self.workers) < min(self.size, max(1, len(arg_tuples))):
                self.workers.append(_Worker())
            results: list[Any] = [None] * len(arg_tuples)
            answered = [False] * len(arg_tuples)
            pending = deque(range(len(arg_tuples)))
            busy: dict[Any, tuple[int, _Worker, float]] = {}  # conn -> (task index, worker, deadline)
            while pending or busy:
                for w in self.workers:
                    if pending and w.ready and w.conn not in busy:
                        if module not in w.loaded:
                            w.load(module)
                            continue
                        i = pending.popleft()
                        w.send(("call", ref, arg_tuples[i]))
                        busy[w.conn] = (i, w, time.monotonic() + timeout)
                waiting = [w for w in self.workers if not w.ready]
                deadlines = [d for _, _, d in busy.values()] + [w.started + STARTUP_TIMEOUT_S for w in waiting]
                ready = wait_connections([c for c in busy] + [w.conn for w in waiting],
                                         timeout=max(0.0, min(deadlines) - time.monotonic()) if deadlines else None)
                for conn in ready:
                    if conn in busy:
                        i, w, _ = busy.pop(conn)
                        answered[i] = True
                        try:
                            results[i] = conn.recv()
                            w.done += 1
                        except (EOFError, OSError):
                            results[i] = Failure("worker died (out of memory?)")
                            self._replace(w)
                    else:
                        w = next(w for w in waiting if w.conn is conn)
                        try:
                            w.ready = conn.recv() == "ready"
                        except (EOFError, OSError):
                            self._replace(w, failed_start=True)
                now = time.monotonic()
                for conn, (i, w, deadline) in list(busy.items()):
                    if now >= deadline:
                        del busy[conn]
                        answered[i] = True
                        results[i] = Failure(f"timeout: no result within {timeout:g} s")
                        self._replace(w)
                for w in list(self.workers):
                    if not w.ready and now >= w.started + STARTUP_TIMEOUT_S:
                        self._replace(w, failed_start=True)
            return [r if ok else Failure("no result") for r, ok in zip(results, answered)]

    def _replace(self, w: _Worker, failed_start: bool = False) -> None:
        w.kill()
        idx = self.workers.index(w)
        if failed_start and all(not x.ready for x in self.workers if x is not w):
            raise LadderError("the worker processes (verifier pool) do not start")
        self.workers[idx] = _Worker()
        self.respawned += 1


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


_pool: WorkerPool | None = None
_pool_lock = threading.Lock()


def pool(workers: int | None = None) -> WorkerPool:
    """The process-wide pool (created on first use; `workers` sizes it the first time)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = WorkerPool(VerifyConfig().workers if workers is None else workers)
            atexit.register(_pool.close)
        return _pool
