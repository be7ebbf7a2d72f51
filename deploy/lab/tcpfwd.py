#!/usr/bin/env python3
"""A tiny TCP forwarder for the end-to-end lab (deploy/lab/e2e.sh).

Runs inside a node's network namespace: it listens on that namespace's loopback and forwards
each connection to tcsim on the lab bridge, connecting from the node's own address. havip accepts
plain http only for loopback endpoints, and tcsim's metadata service answers for the instance
that owns the caller's source IP, so this gives each node "its" cloud endpoint at
http://127.0.0.1:PORT while tcsim still sees the node's private IP.

usage: tcpfwd.py LISTEN_HOST LISTEN_PORT TARGET_HOST TARGET_PORT SOURCE_HOST
Prints "ready" on stdout once listening. Stops on SIGTERM.
"""
import asyncio
import signal
import sys


async def pipe(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        try:
            writer.close()
        except Exception:  # noqa: BLE001 - closing a broken socket
            pass


async def main():
    lhost, lport, thost, tport, shost = sys.argv[1:6]

    async def handle(creader, cwriter):
        try:
            sreader, swriter = await asyncio.wait_for(
                asyncio.open_connection(thost, int(tport), local_addr=(shost, 0)), timeout=5
            )
        except (OSError, asyncio.TimeoutError) as e:
            print(f"tcpfwd: cannot reach {thost}:{tport} from {shost}: {e}", file=sys.stderr, flush=True)
            cwriter.close()
            return
        await asyncio.gather(pipe(creader, swriter), pipe(sreader, cwriter))

    server = await asyncio.start_server(handle, lhost, int(lport), reuse_address=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    asyncio.run(main())
