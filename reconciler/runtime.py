"""One command's runtime: its event loop (where Ctrl-C is handled) and garbage-collector tuning.

Each engine entry point runs its async work through ``run``, never ``asyncio.run``: the first
Ctrl-C must stop new writes at once, and no second Ctrl-C or stuck request may hang the process.
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import sys
import threading
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")

#: Seconds the work may take to stop after the first Ctrl-C before the process ends anyway.
INTERRUPT_GRACE = 3.0
INTERRUPTED_MESSAGE = "\nInterrupted; a re-run converges."


# -- the event loop ----------------------------------------------------------------------------


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on a new event loop; Ctrl-C stops it at once and never hangs.

    The first Ctrl-C cancels the work, so no new request starts (one already sent may still
    land: a re-run converges), and raises KeyboardInterrupt once it has unwound. If it has not
    within ``INTERRUPT_GRACE`` seconds, or on a second Ctrl-C, the process ends there and then
    with exit code 130: nothing a stuck request or a slow server does can hold it.
    """
    loop = asyncio.new_event_loop()
    task = loop.create_task(coro)
    interrupts = 0

    def interrupted() -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts > 1:
            _exit_now()
        task.cancel()
        loop.call_later(INTERRUPT_GRACE, _exit_now)

    previous = _take_sigint(loop, interrupted)
    try:
        return loop.run_until_complete(task)
    except asyncio.CancelledError:
        if interrupts:
            raise KeyboardInterrupt from None
        raise
    finally:
        _close(loop)
        if previous is not None:
            signal.signal(signal.SIGINT, exit_on_signal if interrupts else previous)


def _take_sigint(loop: asyncio.AbstractEventLoop, handler: Callable[[], None]) -> Any:
    """Route SIGINT to ``handler`` on ``loop`` (main thread only); the handler to restore."""
    if threading.current_thread() is not threading.main_thread():
        return None
    previous = signal.getsignal(signal.SIGINT)
    loop.add_signal_handler(signal.SIGINT, handler)
    return previous


def _close(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what is left (with the grace timer still armed), then close the loop."""
    leftovers = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for leftover in leftovers:
        leftover.cancel()
    if leftovers:
        loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
    if threading.current_thread() is threading.main_thread():
        loop.remove_signal_handler(signal.SIGINT)
    loop.close()


def _exit_now() -> None:
    print(INTERRUPTED_MESSAGE, file=sys.stderr, flush=True)
    sys.stdout.flush()
    os._exit(130)


def exit_on_signal(signum: int, frame: object) -> None:
    """A signal handler for after the first Ctrl-C: the next one ends the process at once."""
    _exit_now()


def interrupt_once(signum: int, frame: object) -> None:
    """The process's SIGINT handler: the first Ctrl-C unwinds (KeyboardInterrupt, exit 130,
    one message); any further one ends the process at once, whatever it is doing."""
    signal.signal(signal.SIGINT, exit_on_signal)
    raise KeyboardInterrupt


class _RareCollections:
    """Run the garbage collector rarely while manifests and live specs are turned into trees,
    and while apply writes.

    Loading and planning 10,000 specs builds millions of small, acyclic dicts that all survive,
    so the collector keeps re-scanning a growing heap for nothing: 15-20 % of a large plan (mypy
    raises its threshold for the same reason); apply's answers and records are the same. The
    threshold comes back when the last user leaves; plans of several directories overlap.
    """

    #: First-generation threshold meanwhile (CPython's default is 700).
    THRESHOLD = 100_000

    def __init__(self) -> None:
        self.users = 0
        self.saved = gc.get_threshold()

    @contextmanager
    def __call__(self) -> Iterator[None]:
        if self.users == 0:
            self.saved = gc.get_threshold()
            gc.set_threshold(max(self.THRESHOLD, self.saved[0]), *self.saved[1:])
        self.users += 1
        try:
            yield
        finally:
            self.users -= 1
            if self.users == 0:
                gc.set_threshold(*self.saved)


fewer_collections = _RareCollections()
