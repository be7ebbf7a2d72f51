#!/usr/bin/env python3
"""Small servers for the end-to-end lab (deploy/lab/e2e.sh); standard library only.

  standin.py service NODE   stand-ins for iam-apiserver (:8080) and iam-authz-server (:9090) on
                            every address of the node: GET /healthz answers
                            {"status": "ok", "service": ..., "node": NODE}; any other request
                            (bodies up to 8 MiB are read) answers the same with its path.
  standin.py webhook PORT FILE
                            an alert receiver: each POST body is appended to FILE as one line.

Prints "ready" on stdout once listening; stops on SIGTERM.
"""
import json
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 8 << 20


class Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # no access log on stderr
        pass

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(n) if n else b""

    def answer(self, code, doc):
        data = (json.dumps(doc) + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def service(name, node):
    class Handler(Quiet):
        def reply(self):
            try:
                self.body()
            except ValueError:
                return self.answer(413, {"error": "too large", "node": node})
            doc = {"status": "ok", "service": name, "node": node}
            if self.path != "/healthz":
                doc["path"] = self.path[:200]
            self.answer(200, doc)

        do_GET = do_POST = do_PUT = do_DELETE = reply

    return Handler


def webhook(path):
    lock = threading.Lock()

    class Handler(Quiet):
        def do_POST(self):
            try:
                data = self.body()
            except ValueError:
                return self.answer(413, {"error": "too large"})
            line = json.dumps({"path": self.path[:200], "body": data.decode("utf-8", "replace")})
            with lock, open(path, "a", encoding="utf-8") as f:
                f.write(line + "\n")
            self.answer(200, {"ok": True})

    return Handler


def main(argv):
    if len(argv) == 2 and argv[0] == "service":
        servers = [ThreadingHTTPServer(("0.0.0.0", 8080), service("iam-apiserver", argv[1])),
                   ThreadingHTTPServer(("0.0.0.0", 9090), service("iam-authz-server", argv[1]))]
    elif len(argv) == 3 and argv[0] == "webhook":
        servers = [ThreadingHTTPServer(("0.0.0.0", int(argv[1])), webhook(argv[2]))]
    else:
        sys.exit(__doc__)
    for s in servers:
        s.daemon_threads = True
        threading.Thread(target=s.serve_forever, daemon=True).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print("ready", flush=True)
    stop.wait()
    for s in servers:
        s.shutdown()


if __name__ == "__main__":
    main(sys.argv[1:])
