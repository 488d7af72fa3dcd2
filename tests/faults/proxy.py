"""A TCP proxy the test owns, between the services and the shared RabbitMQ on 127.0.0.1:5672.

Why a proxy rather than `rabbitmqctl stop_app`: the broker is shared by every test running on the machine (and
by other sessions); stopping it would break them. Through the proxy, one test's services lose *their* broker
and nothing else does. It models the two faults the services can see:

* `down()`/`up()`: the broker stops (every connection reset, new ones refused) and comes back;
* `cut()`/`heal()`: the network goes silent (bytes are held, nothing answers: only heartbeats and timeouts
  can tell), then the connections that lived through it are reset, as a peer does when the link returns
  (the held bytes are dropped, never delivered late).

The proxy runs as its own process (`python -m tests.faults.proxy`, real OS threads) driven by one-word
commands on its stdin: the test process is monkey-patched by eventlet, whose hub does not like sockets
closed under a green thread that reads them.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import subprocess
import sys
import threading
from pathlib import Path


class _Pair:
    def __init__(self, client: socket.socket, upstream: socket.socket):
        self.sockets = (client, upstream)
        self.dead = False

    def reset(self) -> None:
        """Abortive close: the peers see ECONNRESET. shutdown() wakes the threads blocked in recv()."""
        self.dead = True
        for s in self.sockets:
            with contextlib.suppress(OSError):
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


class TcpProxy:
    def __init__(self, target: tuple[str, int] = ("127.0.0.1", 5672)):
        self.target = target
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._pairs: list[_Pair] = []
        self._accepting = True
        self._flowing = threading.Event()
        self._flowing.set()
        self.connections = 0
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def down(self) -> None:
        self._accepting = False
        self._reset_all()

    def up(self) -> None:
        self._accepting = True

    def cut(self) -> None:
        self._flowing.clear()

    def heal(self) -> None:
        self._reset_all()
        self._flowing.set()

    def _reset_all(self) -> None:
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            pair.reset()

    def _accept_loop(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._accepting or not self._flowing.is_set():
                _Pair(client, client).reset()  # refused, as by a stopped or unreachable broker
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            pair = _Pair(client, upstream)
            with self._lock:
                self._pairs.append(pair)
            self.connections += 1
            threading.Thread(target=self._pipe, args=(pair, client, upstream), daemon=True).start()
            threading.Thread(target=self._pipe, args=(pair, upstream, client), daemon=True).start()

    def _pipe(self, pair: _Pair, src: socket.socket, dst: socket.socket) -> None:
        try:
            while not pair.dead:
                data = src.recv(65536)
                if not data:
                    break
                self._flowing.wait()  # a cut: hold the bytes (the link is silent)
                if pair.dead:  # reset during the cut: the held bytes are lost with the connection
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            if not pair.dead:
                pair.reset()
            with contextlib.suppress(OSError):
                src.close()


def main() -> None:
    """`python -m tests.faults.proxy [PORT]`: print the listening port, then obey stdin (down, up, cut, heal,
    count), answering each with a line."""
    proxy = TcpProxy(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 5672))
    print(proxy.port, flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "count":
            print(proxy.connections, flush=True)
            continue
        if command not in ("down", "up", "cut", "heal"):
            print(f"unknown {command}", flush=True)
            continue
        getattr(proxy, command)()
        print("ok", flush=True)


class ProxyProcess:
    """The test's handle on a proxy process (stopped with `close()`, or when the test process ends)."""

    def __init__(self) -> None:
        root = Path(__file__).resolve().parents[2]
        self._proc = subprocess.Popen([sys.executable, "-m", "tests.faults.proxy"], cwd=root, stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True, bufsize=1)
        self.port = int(self._proc.stdout.readline())  # type: ignore[union-attr]

    def uri(self, vhost_uri: str) -> str:
        """`vhost_uri` (pyamqp://user:pw@127.0.0.1:5672/vhost) through this proxy."""
        return vhost_uri.replace("127.0.0.1:5672", f"127.0.0.1:{self.port}")

    def _ask(self, command: str) -> str:
        self._proc.stdin.write(command + "\n")  # type: ignore[union-attr]
        self._proc.stdin.flush()  # type: ignore[union-attr]
        return self._proc.stdout.readline().strip()  # type: ignore[union-attr]

    def down(self) -> None:
        """The broker stops: every connection reset, new ones refused until `up()`."""
        self._ask("down")

    def up(self) -> None:
        self._ask("up")

    def cut(self) -> None:
        """The network goes silent: connections stay open, nothing is forwarded either way."""
        self._ask("cut")

    def heal(self) -> None:
        """The link returns: connections that lived through the cut are reset; new ones flow."""
        self._ask("heal")

    @property
    def connections(self) -> int:
        """Connections accepted and forwarded over the proxy's life."""
        return int(self._ask("count"))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._proc.stdin.close()  # type: ignore[union-attr]
        self._proc.terminate()
        self._proc.wait(10)


if __name__ == "__main__":
    main()
