"""`--workers N`: uvicorn worker processes that share the API's connections fairly.

uvicorn's own supervisor hands every worker the same listening socket. Each worker's event loop
then accepts *every* connection pending when it wakes, so a client that opens its connections
at once (any pool, any load generator) gets them all on one worker: the load test measured one
worker with 75 % of the samples and the other with under 1 %, i.e. one core serving while the
other idled. Here each worker gets its own listening socket, all bound to the same port with
SO_REUSEPORT, and the kernel spreads new connections across them by a hash of the address
pair. The supervisor's restart and health-check logic stays uvicorn's.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from uvicorn.supervisors import Multiprocess


def rebind_for_workers(probe: socket.socket, workers: int) -> list[socket.socket]:
    """`workers` SO_REUSEPORT sockets on `probe`'s address, which is closed.

    `probe` was bound without SO_REUSEPORT, so a port already in use failed there with a clear
    message (a socket with the option set would have shared the port with another stack's
    workers instead). The short gap between closing it and binding these is the only window in
    which another process could take the port; that fails here as an OSError."""
    address = probe.getsockname()
    family = probe.family
    probe.close()
    sockets: list[socket.socket] = []
    try:
        for _ in range(workers):
            sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(address)
            sock.set_inheritable(True)  # passed to the worker process
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


class BalancedMultiprocess(Multiprocess):
    """uvicorn's `Multiprocess`, with worker slot i always served from `sockets[i]`.

    uvicorn creates a worker in three places (start, replacing a dead one, SIGHUP restart), each
    as `Process(self.config, self.sockets)` inside a loop over `self.processes`. Rather than
    copying those loops, each is run once per slot with `processes` and `sockets` narrowed to
    that slot, so a replacement worker inherits its predecessor's socket."""

    def __init__(self, config: Any, sockets: list[socket.socket]) -> None:
        super().__init__(config, sockets=sockets[:1])
        self.processes_num = 1  # per slot, see init_processes
        self._slot_sockets = sockets

    def init_processes(self) -> None:
        self._per_slot(super().init_processes, starting=True)

    def keep_subprocess_alive(self) -> None:
        self._per_slot(super().keep_subprocess_alive)

    def restart_all(self) -> None:
        self._per_slot(super().restart_all)

    def _per_slot(self, step: Callable[[], None], starting: bool = False) -> None:
        processes = list(self.processes)
        try:
            for slot, sock in enumerate(self._slot_sockets):
                if self.should_exit.is_set() and not starting:
                    return
                self.sockets = [sock]
                self.processes = [] if starting else [processes[slot]]
                step()
                if starting:
                    processes.extend(self.processes)
                else:
                    processes[slot] = self.processes[0]
        finally:
            # terminate_all / join_all see every worker again.
            self.processes = processes
            self.sockets = self._slot_sockets
