#!/usr/bin/env python3
"""The lab's client probe (deploy/lab/e2e.sh): one HTTP request through the EIP every INTERVAL
milliseconds, each on a new connection with a 0.5 s timeout and in its own thread (so a request
that times out does not hold back the next: the outage is measured to INTERVAL, not to the
timeout), one line per request on stdout, stamped with the time it started:

  <unix time in ns> ok <X-Served-By> <status>     or     <unix time in ns> fail <reason>

Lines may come out of order (a failure is printed when its timeout ends); sort by time.

usage: probe.py HOST PORT INTERVAL_MS. Stops on SIGTERM.
"""
import signal
import socket
import sys
import threading
import time

stop = False


def on_term(*_):
    global stop
    stop = True


def once(host, port):
    with socket.create_connection((host, port), timeout=0.5) as s:
        s.settimeout(0.5)
        s.sendall(b"GET /healthz HTTP/1.0\r\nHost: iam.api.marmotedu.com\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data and len(data) < 65536:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    status = head[0].split(" ")[1] if head and len(head[0].split(" ")) > 1 else "?"
    served = next((h.split(":", 1)[1].strip() for h in head[1:]
                   if h.lower().startswith("x-served-by:")), "-")
    return status, served


PRINT = threading.Lock()


def request(host, port, t):
    try:
        status, served = once(host, port)
        line = f"{t} ok {served} {status}" if status == "200" else f"{t} fail http-{status}"
    except OSError as e:
        line = f"{t} fail {type(e).__name__}"
    with PRINT:
        print(line, flush=True)


def main(host, port, interval_ms):
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    interval = interval_ms / 1000
    next_at = time.monotonic()
    while not stop:
        # At most 40 requests in flight (2 s of them): a stuck network cannot pile up threads.
        if threading.active_count() < 41:
            threading.Thread(target=request, args=(host, port, time.time_ns()), daemon=True).start()
        next_at += interval
        time.sleep(max(0.0, next_at - time.monotonic()))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
