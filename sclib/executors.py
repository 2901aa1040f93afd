"""Running independent jobs: ``run(fn, jobs, executor=...)`` is ``[fn(job) for job in jobs]``,
in job order, computed in one of three places chosen by one parameter.

- ``"serial"``: in this process, one job after another (torch's thread count as it is, unless
  ``threads`` is given; it is restored afterwards).
- ``"processes"``: the CPU default for sweeps. ``workers`` spawned processes (default: one per
  core), each job with ``threads = cores // workers`` torch threads, so workers × threads = the
  machine's cores. The pool is started once per session and reused (spawning and importing
  torch costs seconds per process); its workers ignore Ctrl-C, so an interrupt reaches this
  process, which shuts them down, instead of printing a traceback per worker.
- ``"ray"``: each job a Ray task (``pip install ray==2.60.0``): one GPU per task when the
  cluster has GPUs, else ``threads`` CPUs per task. ``RAY_ADDRESS`` joins an existing cluster;
  otherwise a local Ray instance is started with ``num_cpus`` = this machine's cores. A Ray
  already initialized by the caller (``ray.init(...)`` with a ``runtime_env`` of one's own) is
  used as it is.

Jobs see the caller's default dtype and ``SCLIB_*`` environment at the time of the call (the
run store ``SCLIB_RUNS``, ``SCLIB_CACHE``, ...), in worker processes and Ray tasks alike:
results go into the caller's run store (:mod:`sclib.store`). On a cluster that store must be on
a path every node shares, as must the checkout (it is put on the tasks' ``PYTHONPATH``).

``fn`` must be a module-level function, or a ``functools.partial`` of one (it is pickled to
reach the workers), and ``jobs`` and results picklable values (dicts of numbers and strings, a :class:`sclib.train.History`).
"""
from __future__ import annotations

import functools
import os
import pickle
from pathlib import Path

from .errors import ConfigError, check_choice, check_number
from .progress import bar as progress_bar

EXECUTORS = ("serial", "processes", "ray")
RAY_VERSION = "2.60.0"  #: the version requirements.txt pins
ROOT = Path(__file__).resolve().parent.parent  #: the checkout: on the Ray tasks' PYTHONPATH


def cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def plan(executor: str, workers=None, threads=None) -> tuple:
    """(workers, threads per job) of an executor: by default workers × threads = the cores.
    ``serial`` has one worker and keeps torch's thread count unless ``threads`` is given (None)."""
    check_choice("executor", executor, EXECUTORS)
    for name, v in (("workers", workers), ("threads", threads)):
        if v is not None:
            check_number(name, v, lo=1, integer=True)
    if executor == "serial":
        if workers not in (None, 1):  # one worker: a larger number would be silently ignored
            raise ConfigError(f"workers={workers!r} needs executor='processes' or 'ray'; 'serial' runs one job at a time")
        return 1, threads
    n = cores()
    workers = workers or (n if threads is None else max(1, n // threads))
    return workers, threads or max(1, n // workers)


def _env() -> dict:
    """The caller's ``SCLIB_*`` variables, store and cache paths made absolute."""
    env = {k: v for k, v in os.environ.items() if k.startswith("SCLIB_")}
    for k in ("SCLIB_RUNS", "SCLIB_CACHE"):
        if env.get(k) and env[k].lower() not in ("off", "0", "none"):
            env[k] = str(Path(env[k]).expanduser().absolute())
    return env


def _call(fn, job, threads, env, dtype):
    """One job in a worker: the caller's SCLIB_* environment and default dtype, ``threads``
    torch threads."""
    import torch

    for k in [k for k in os.environ if k.startswith("SCLIB_") and k not in env]:
        del os.environ[k]
    os.environ.update(env)
    torch.set_default_dtype(getattr(torch, dtype))
    if threads:
        torch.set_num_threads(threads)
    return fn(job)


def _dtype() -> str:
    import torch

    return str(torch.get_default_dtype()).removeprefix("torch.")


def check_picklable(fn, executor: str) -> None:
    """``fn`` must reach the workers: module-level, and for spawned processes not defined in an
    interactive ``__main__`` (a notebook's functions cannot be imported by another process)."""
    import sys

    interactive = getattr(sys.modules.get("__main__"), "__file__", None) is None
    try:
        pickle.dumps(fn)
        # a functools.partial: its function and the callables it binds must be importable too
        parts = [fn]
        while parts:
            f = parts.pop()
            if isinstance(f, functools.partial):
                parts += [f.func, *f.args, *f.keywords.values()]
            elif (executor == "processes" and interactive and callable(f)
                  and getattr(f, "__module__", None) == "__main__"):
                raise TypeError(f"{getattr(f, '__name__', f)!r} is defined in an interactive session")
    except Exception as e:
        raise ConfigError(f"executor={executor!r} needs a module-level function of an importable module, "
                          f"got {fn!r} ({type(e).__name__}: {str(e).splitlines()[0][:80]})") from None


# ---------------------------------------------------------------- processes
_POOL: dict = {}  # workers -> ProcessPoolExecutor, kept for the session


def _ignore_sigint():
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def pool(workers: int):
    """The session's pool of ``workers`` spawned processes (started on first use)."""
    if workers not in _POOL:
        import atexit
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        _POOL[workers] = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"),
                                             initializer=_ignore_sigint)
        atexit.register(_POOL[workers].shutdown)
    return _POOL[workers]


def _processes(fn, jobs, workers, threads, bar):
    from concurrent.futures import as_completed
    from concurrent.futures.process import BrokenProcessPool

    env = _env()
    futures = []
    try:
        ex = pool(workers)
        futures = [ex.submit(_call, fn, job, threads, env, _dtype()) for job in jobs]
        for _ in as_completed(futures):
            bar.update()
        return [f.result() for f in futures]
    except BrokenProcessPool:  # a worker died (killed, out of memory): the next call starts a fresh pool
        _POOL.pop(workers, None)
        raise
    finally:
        for f in futures:
            f.cancel()


# ---------------------------------------------------------------- ray
_RAY: dict = {}


def _ray():
    try:
        import ray
    except ImportError:
        raise ConfigError(f"executor='ray' needs the ray package: pip install ray=={RAY_VERSION}") from None
    return ray


def ray_init():
    """Connect to Ray: as initialized by the caller, else the cluster at ``RAY_ADDRESS``, else a
    new local instance with this machine's cores. Returns the ``ray`` module."""
    ray = _ray()
    if not ray.is_initialized():
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
        runtime_env = {"env_vars": dict(_env(), PYTHONPATH=path)}
        if os.environ.get("RAY_ADDRESS"):
            ray.init(address=os.environ["RAY_ADDRESS"], runtime_env=runtime_env)
        else:  # a local instance: no dashboard, worker output stays in Ray's log files
            ray.init(num_cpus=cores(), include_dashboard=False, log_to_driver=False, runtime_env=runtime_env)
    return ray


def _ray_run(fn, jobs, threads, bar):
    ray = ray_init()
    if "call" not in _RAY:
        _RAY["call"] = ray.remote(_call)
    gpus = ray.cluster_resources().get("GPU", 0) >= 1
    task = _RAY["call"].options(**({"num_gpus": 1} if gpus else {"num_cpus": threads}))
    env = _env()
    refs = [task.remote(fn, job, threads, env, _dtype()) for job in jobs]
    pending = list(refs)
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            bar.update(len(done))
        return ray.get(refs)
    finally:
        for r in pending:
            ray.cancel(r)


# ---------------------------------------------------------------- the one entry point
def run(fn, jobs, *, executor: str = "serial", workers=None, threads=None, progress: bool = True,
        desc: str = "runs", unit: str = "run") -> list:
    """``[fn(job) for job in jobs]``, in job order, on ``executor`` (``serial``, ``processes``
    or ``ray``; see the module docstring). ``processes``: ``workers`` processes (default: the
    cores) with ``threads`` torch threads per job (default: cores // workers). ``ray``: each
    task takes ``threads`` CPUs (default: cores // workers) or, on a cluster with GPUs, one GPU;
    Ray runs as many at once as the cluster has room for. A failing job raises its exception
    here (the jobs not started are cancelled)."""
    check_choice("executor", executor, EXECUTORS)
    workers, threads = plan(executor, workers, threads)
    jobs = list(jobs)
    if executor != "serial":
        check_picklable(fn, executor)
    if not jobs:
        return []
    bar = progress_bar(total=len(jobs), desc=desc, unit=unit, disable=not progress, mininterval=5)
    try:
        if executor == "processes":
            return _processes(fn, jobs, workers, threads, bar)
        if executor == "ray":
            return _ray_run(fn, jobs, threads, bar)
        import torch

        old = torch.get_num_threads()
        try:
            out = []
            for job in jobs:
                if threads:
                    torch.set_num_threads(threads)
                out.append(fn(job))
                bar.update()
            return out
        finally:
            torch.set_num_threads(old)
    finally:
        bar.close()
