"""The official Python SDK's TC3 signing, timed in a loop (make bench, comparison "signing").

Run by the harness (bench/src/signing.rs) with the bench venv's Python; it talks over stdin and
stdout so that the harness can alternate rounds of this and of tc3-sign in one run:

    argv[1]  a JSON object: secret_id, secret_key, service, host, content_type, body, timestamp
    stdout   first line: the Authorization header for those inputs (checked against tc3-sign's)
    stdin    one line per round: N, the number of signatures to make
    stdout   one line per round: the nanoseconds those N signatures took (time.perf_counter_ns)

One signature is the SDK's own code path for a POST with a JSON body, as
AbstractClient._build_req_with_tc3_signature runs it: the UTC date of the timestamp,
AbstractClient._get_tc3_signature (payload hash, canonical request, its hash, string to sign,
then Sign.sign_tc3, which derives the signing key and signs), and the Authorization header.
"""

import json
import sys
import time
from datetime import datetime

from tencentcloud.common.abstract_client import AbstractClient


class Req:
    """The fields of tencentcloud.common.http.request.RequestInternal that signing reads."""

    def __init__(self, host, content_type, body):
        self.method = "POST"
        self.uri = "/"
        self.data = body
        self.header = {"Content-Type": content_type, "Host": host}


def main():
    inp = json.loads(sys.argv[1])
    secret_id, secret_key, service = inp["secret_id"], inp["secret_key"], inp["service"]
    timestamp = int(inp["timestamp"])
    req = Req(inp["host"], inp["content_type"], inp["body"])
    req.header["X-TC-Timestamp"] = str(timestamp)
    get_signature = AbstractClient._get_tc3_signature

    def sign_once():
        date = datetime.utcfromtimestamp(timestamp).strftime("%Y-%m-%d")
        signature = get_signature(None, None, req, date, service, secret_key)
        return ("TC3-HMAC-SHA256 Credential=%s/%s/%s/tc3_request, "
                "SignedHeaders=content-type;host, Signature=%s"
                % (secret_id, date, service, signature))

    print(sign_once(), flush=True)
    for line in sys.stdin:
        n = int(line)
        start = time.perf_counter_ns()
        for _ in range(n):
            sign_once()
        print(time.perf_counter_ns() - start, flush=True)


if __name__ == "__main__":
    main()
