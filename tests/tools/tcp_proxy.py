#!/usr/bin/env python3
"""tests/tools/tcp_proxy.py: the network between a test guest and its servers.

Two modes, stdlib only, IPv4 loopback only (there is no option to listen or
connect anywhere but 127.0.0.1):

  proxy   tcp_proxy.py --listen PORT --target PORT [--rate BYTES_PER_S]
                       [--cut-after BYTES] [--cut-mode reset|blackhole]
                       [--log FILE] [--port-file FILE]
          Listens on 127.0.0.1:PORT (0: a free port, written to --port-file)
          and forwards each connection to 127.0.0.1:TARGET.
          --rate      a token bucket on the guest->server direction, shared by
                      all connections (one link): at most BYTES_PER_S on
                      average, bursts of at most 50 ms worth (>= 4 KiB). The
                      proxy reads no more than it may send, so the guest's TCP
                      window closes: the link is slower than the dump.
          --cut-after once BYTES guest->server bytes have passed (over all
                      connections), the link is cut: exactly BYTES reach the
                      server, then
                        reset      (default) both sides of every open
                                   connection get a RST and new connections are
                                   reset at once (a link that went down and a
                                   router that says so);
                        blackhole  nothing more is forwarded either way and no
                                   socket is closed; new connections are
                                   accepted and ignored (a link that went
                                   silent: only the client's own timeouts end
                                   the wait).
          What it did goes to --log (default stderr), one line per event, with
          a summary per connection (bytes each way, seconds, guest->server
          rate).

  stdio   tcp_proxy.py --stdio --target PORT [--log FILE]
          Connects to 127.0.0.1:TARGET and pumps stdin -> socket and
          socket -> stdout until either side closes. For QEMU's
          `guestfwd=tcp:IP:PORT-cmd:...`, which runs the command once per guest
          connection with the connection as stdin/stdout. When TARGET refuses
          (the server is down) it exits 1 at once: the guest sees its
          connection accepted and then closed.
"""
import argparse
import os
import select
import socket
import struct
import sys
import threading
import time

LOOPBACK = "127.0.0.1"
CHUNK = 65536

_log_lock = threading.Lock()
_log_file = sys.stderr
_t0 = time.monotonic()


def log(msg):
    with _log_lock:
        _log_file.write("[%9.3f] %s\n" % (time.monotonic() - _t0, msg))
        _log_file.flush()


class TokenBucket:
    """Average `rate` bytes/s, bursts of `burst` bytes; thread-safe."""

    def __init__(self, rate):
        self.rate = float(rate)
        self.burst = max(4096.0, self.rate / 20.0)
        self.tokens = self.burst
        self.last = time.monotonic()
        self.lock = threading.Lock()

    def max_chunk(self):
        return int(min(CHUNK, self.burst))

    def take(self, n):
        """Block until n tokens (n <= burst) are available, then take them."""
        while True:
            with self.lock:
                now = time.monotonic()
                self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
                self.last = now
                if self.tokens >= n:
                    self.tokens -= n
                    return
                wait = (n - self.tokens) / self.rate
            time.sleep(min(wait, 0.1))


class Link:
    """What all connections share: the bucket, the cut budget, the state."""

    def __init__(self, rate, cut_after, cut_mode):
        self.bucket = TokenBucket(rate) if rate else None
        self.cut_after = cut_after
        self.cut_mode = cut_mode
        self.up_total = 0
        self.cut = False
        self.lock = threading.Lock()
        self.conns = set()
        self.held = []  # blackhole: sockets kept open, never read again

    def budget(self, want):
        """How many of `want` guest->server bytes may pass before the cut."""
        with self.lock:
            if self.cut:
                return 0
            if self.cut_after is None:
                return want
            return max(0, min(want, self.cut_after - self.up_total))

    def sent(self, n):
        with self.lock:
            self.up_total += n
            return self.cut_after is not None and self.up_total >= self.cut_after and not self.cut

    def do_cut(self, who):
        with self.lock:
            if self.cut:
                return
            self.cut = True
            conns = list(self.conns)
        log("CUT after %d guest->server bytes (%s): %s" % (self.up_total, who, self.cut_mode))
        for c in conns:
            c.cut_now()


def rst_close(sock):
    """Close with a RST instead of a FIN (SO_LINGER 0)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


class Conn:
    counter = 0

    def __init__(self, link, client, peer, target):
        Conn.counter += 1
        self.n = Conn.counter
        self.link = link
        self.client = client
        self.peer = peer
        self.target = target
        self.server = None
        self.up = 0
        self.down = 0
        self.t0 = time.monotonic()
        self.done = threading.Event()
        self.closed = False
        self.lock = threading.Lock()

    def start(self):
        try:
            self.server = socket.create_connection((LOOPBACK, self.target), timeout=10)
            self.server.settimeout(None)
        except OSError as e:
            log("conn %d from %s:%d: cannot reach 127.0.0.1:%d: %s; closing it" % (self.n, *self.peer, self.target, e))
            self.client.close()
            return
        log("conn %d from %s:%d -> 127.0.0.1:%d open" % (self.n, *self.peer, self.target))
        with self.link.lock:
            self.link.conns.add(self)
        threading.Thread(target=self.pump_up, daemon=True).start()
        threading.Thread(target=self.pump_down, daemon=True).start()

    def cut_now(self):
        with self.lock:
            if self.closed:
                return
            self.closed = True
        if self.link.cut_mode == "reset":
            # The guest gets a RST. The server gets every byte it was sent
            # (a RST would discard what still sits in our send buffer), then
            # a FIN, and its socket is closed once it closes too (or 5 s).
            rst_close(self.client)
            try:
                self.server.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            threading.Thread(target=self.drain_server, daemon=True).start()
        else:
            self.link.held += [self.client, self.server]
        self.finish("cut")

    def drain_server(self):
        self.server.settimeout(5)
        try:
            while self.server.recv(CHUNK):
                pass
        except OSError:
            pass
        self.server.close()

    def close_both(self, why):
        with self.lock:
            if self.closed:
                return
            self.closed = True
        for s in (self.client, self.server):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        self.finish(why)

    def finish(self, why):
        dt = time.monotonic() - self.t0
        with self.link.lock:
            self.link.conns.discard(self)
        log("conn %d closed (%s): guest->server %d bytes, server->guest %d bytes, %.2f s, guest->server %.0f B/s"
            % (self.n, why, self.up, self.down, dt, self.up / dt if dt > 0 else 0))
        self.done.set()

    def pump_up(self):
        link = self.link
        try:
            while True:
                want = link.bucket.max_chunk() if link.bucket else CHUNK
                want = link.budget(want)
                if want == 0:
                    link.do_cut("conn %d" % self.n)
                    return
                data = self.client.recv(want)
                if not data:
                    # The guest closed its side: pass the FIN on, keep reading
                    # the server's answer.
                    try:
                        self.server.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    return
                if link.bucket:
                    link.bucket.take(len(data))
                self.server.sendall(data)
                self.up += len(data)
                if link.sent(len(data)):
                    link.do_cut("conn %d" % self.n)
                    return
        except OSError as e:
            if not self.closed:
                self.close_both("guest->server: %s" % e)

    def pump_down(self):
        try:
            while True:
                data = self.server.recv(CHUNK)
                if not data:
                    break
                if self.link.cut:
                    return  # reset: drain_server owns the socket now
                self.client.sendall(data)
                self.down += len(data)
            self.close_both("server closed")
        except OSError as e:
            if not self.closed:
                self.close_both("server->guest: %s" % e)


def run_proxy(args):
    link = Link(args.rate, args.cut_after, args.cut_mode)
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((LOOPBACK, args.listen))
    lsock.listen(16)
    port = lsock.getsockname()[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)
    log("listening on 127.0.0.1:%d -> 127.0.0.1:%d, rate %s, cut after %s (%s)"
        % (port, args.target, "%d B/s" % args.rate if args.rate else "unlimited",
           "%d bytes" % args.cut_after if args.cut_after is not None else "never", args.cut_mode))
    while True:
        client, peer = lsock.accept()
        if link.cut:
            if link.cut_mode == "reset":
                log("connection from %s:%d after the cut: reset" % peer)
                rst_close(client)
            else:
                log("connection from %s:%d after the cut: held, silent" % peer)
                link.held.append(client)
            continue
        Conn(link, client, peer, args.target).start()


def run_stdio(args):
    try:
        sock = socket.create_connection((LOOPBACK, args.target), timeout=10)
    except OSError as e:
        log("stdio: cannot reach 127.0.0.1:%d: %s" % (args.target, e))
        return 1
    sock.settimeout(None)
    log("stdio: connected to 127.0.0.1:%d" % args.target)
    up = down = 0
    fds = [0, sock]
    while fds:
        r, _, _ = select.select(fds, [], [])
        if 0 in r:
            data = os.read(0, CHUNK)
            if data:
                sock.sendall(data)
                up += len(data)
            else:
                fds.remove(0)
                try:
                    sock.shutdown(socket.SHUT_WR)
                except OSError:
                    fds = []
        if sock in r:
            try:
                data = sock.recv(CHUNK)
            except OSError:
                data = b""
            if not data:
                break
            view = memoryview(data)
            while view:
                n = os.write(1, view)
                view = view[n:]
            down += len(data)
    log("stdio: done, in %d bytes, out %d bytes" % (up, down))
    return 0


def main():
    global _log_file
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--listen", type=int, help="proxy mode: listen on 127.0.0.1:LISTEN (0: any free port)")
    p.add_argument("--stdio", action="store_true", help="stdio mode (QEMU guestfwd cmd:)")
    p.add_argument("--target", type=int, required=True, help="forward to 127.0.0.1:TARGET")
    p.add_argument("--rate", type=int, default=0, help="guest->server bytes per second (0: unlimited)")
    p.add_argument("--cut-after", type=int, default=None, help="cut the link after BYTES guest->server")
    p.add_argument("--cut-mode", choices=["reset", "blackhole"], default="reset")
    p.add_argument("--log", help="log file (appended; default stderr)")
    p.add_argument("--port-file", help="write the listening port here")
    args = p.parse_args()
    if args.log:
        _log_file = open(args.log, "a", buffering=1)
    if args.stdio == (args.listen is not None):
        p.error("exactly one of --listen PORT and --stdio")
    if args.stdio:
        if args.rate or args.cut_after is not None:
            p.error("--rate and --cut-after belong to the --listen proxy")
        return run_stdio(args)
    try:
        run_proxy(args)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
