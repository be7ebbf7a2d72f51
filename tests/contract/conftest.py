"""Fixtures for the contract tests: tcsim driven by the official TencentCloud Python SDK.

tests/contract/run.sh starts two long-lived simulators (plain HTTP and HTTPS with --tls) and
passes them in the environment:

    TCSIM_BIN         the tcsim binary (also used to start a private simulator per test)
    TCSIM_HTTP_URL    http://127.0.0.1:PORT   of the shared plain-HTTP simulator
    TCSIM_HTTPS_URL   https://127.0.0.1:PORT  of the shared HTTPS simulator
    TCSIM_CA_CERT     the PEM certificate the HTTPS simulator wrote (--tls-cert-out)

Tests that only read the seed use the shared simulators (`sim`). Tests that change state
(bindings, tasks, the clock) get a private simulator started for them (`fresh_sim`), so the order
of tests never matters. Run without run.sh (e.g. `pytest tests/contract` with TCSIM_BIN set),
the shared simulators are started here too.

Every test runs twice, over `http` and over `https` (the SDK's default scheme).
"""

import json
import os
import shutil
import signal
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

import pytest

from tencentcloud.common import credential
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.common.retry import StandardRetryer
from tencentcloud.vpc.v20170312 import vpc_client

# The seed scenario's fixed facts (tcsim issue, "Scenarios").
SECRET_ID = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"
SECRET_KEY = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"
REGION = "ap-guangzhou"
ZONE = "ap-guangzhou-3"
VPC_ID = "vpc-iam00001"
SUBNET_ID = "subnet-iam00004"
HAVIP_ID = "havip-iam00099"
VIP = "10.0.4.99"
INS_1, ENI_1, IP_1, MAC_1 = "ins-iam00020", "eni-iam00020", "10.0.4.20", "52:54:00:00:04:20"
INS_2, ENI_2, IP_2, MAC_2 = "ins-iam00021", "eni-iam00021", "10.0.4.21", "52:54:00:00:04:21"
EIP_ID, EIP_IP = "eip-iam00139", "106.52.252.139"
IDLE_EIP_ID, IDLE_EIP_IP = "eip-idle0001", "106.52.252.140"

START_TIMEOUT_S = 30


class RateLimitRetryer(StandardRetryer):
    """The SDK's retry hook, retrying only `RequestLimitExceeded`: the seed scenario limits each
    action to 20 requests/s like the real API, and these tests call quickly. Network errors and
    HTTP errors are NOT retried, so a transport deviation still fails the test at once."""

    def __init__(self):
        super().__init__(max_attempts=6, backoff_fn=lambda n: 0.25 * (n + 1))

    @staticmethod
    def should_retry(resp, err):
        return err is not None and getattr(err, "get_code", lambda: None)() == "RequestLimitExceeded"


class Sim:
    """A running tcsim: its URL, and for HTTPS the certificate to trust."""

    def __init__(self, url, ca_cert=None, proc=None, workdir=None):
        self.url = url.rstrip("/")
        self.scheme, rest = self.url.split("://", 1)
        self.hostport = rest
        self.ca_cert = ca_cert
        self.proc = proc
        self.workdir = workdir

    # --- the official SDK ---------------------------------------------------------------------

    def client(self, *, method="POST", unsigned=False, secret_id=SECRET_ID, secret_key=SECRET_KEY,
               region=REGION, language="zh-CN", token=None):
        """A VpcClient pointed at this simulator exactly as a user would point it at a private
        endpoint: the endpoint is HOST:PORT, the scheme is the profile's, and for HTTPS the
        simulator's certificate is trusted through the SDK's `certification` option."""
        http = HttpProfile(
            protocol=self.scheme,
            endpoint=self.hostport,
            reqMethod=method,
            reqTimeout=15,
            certification=self.ca_cert if self.scheme == "https" else None,
        )
        profile = ClientProfile(httpProfile=http, language=language, retryer=RateLimitRetryer())
        profile.unsignedPayload = unsigned
        cred = credential.Credential(secret_id, secret_key, token)
        return vpc_client.VpcClient(cred, region, profile)

    # --- the control API (/_sim/, unsigned) ---------------------------------------------------

    def _ssl_context(self):
        if self.scheme != "https":
            return None
        return ssl.create_default_context(cafile=self.ca_cert)

    def control(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=15, context=self._ssl_context()) as resp:
            raw = resp.read()
        return json.loads(raw) if raw.strip() else None

    def raw_post(self, action, body, headers=None):
        """An unsigned POST (for error paths the SDK cannot produce). Returns (status, json)."""
        req = urllib.request.Request(self.url + "/", data=body, method="POST")
        req.add_header("Content-Type", "application/json")
        req.add_header("X-TC-Action", action)
        req.add_header("X-TC-Version", "2017-03-12")
        req.add_header("X-TC-Region", REGION)
        req.add_header("X-TC-Timestamp", str(int(time.time())))
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=15, context=self._ssl_context()) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as e:
            return e.code, e.read()


def _drain(stream):
    for _ in iter(stream.readline, b""):
        pass


def start_tcsim(tls, extra_args=()):
    """Starts the tcsim binary on 127.0.0.1:0 with the seed scenario and waits for its first
    stdout line, `listening on http(s)://HOST:PORT`."""
    binary = os.environ.get("TCSIM_BIN")
    if not binary:
        pytest.fail("TCSIM_BIN is not set: run tests/contract/run.sh")
    workdir = tempfile.mkdtemp(prefix="tcsim-contract-")
    args = [binary, "--listen", "127.0.0.1:0", "--scenario", "seed", *extra_args]
    cert = None
    if tls:
        cert = os.path.join(workdir, "ca.pem")
        args += ["--tls", "--tls-cert-out", cert]
    stderr = open(os.path.join(workdir, "stderr.log"), "wb")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=stderr, start_new_session=True)
    stderr.close()

    line = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(START_TIMEOUT_S)
    if not line or not line[0]:
        proc.kill()
        proc.wait()
        with open(os.path.join(workdir, "stderr.log"), "rb") as f:
            err = f.read().decode(errors="replace")
        pytest.fail(f"tcsim {args} printed no first line within {START_TIMEOUT_S}s; stderr:\n{err}")
    first = line[0].decode().strip()
    threading.Thread(target=_drain, args=(proc.stdout,), daemon=True).start()
    want = "listening on https://" if tls else "listening on http://"
    if not first.startswith(want):
        stop_tcsim(Sim("http://x", proc=proc, workdir=workdir))
        pytest.fail(f"tcsim's first stdout line is {first!r}; expected it to start with {want!r}")
    url = first[len("listening on "):]
    if tls and not (os.path.isfile(cert) and os.path.getsize(cert) > 0):
        stop_tcsim(Sim(url, proc=proc, workdir=workdir))
        pytest.fail(f"tcsim --tls wrote no certificate to {cert}")
    return Sim(url, ca_cert=cert, proc=proc, workdir=workdir)


def stop_tcsim(sim):
    if sim.proc is None:
        return
    if sim.proc.poll() is None:
        try:
            os.killpg(sim.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            sim.proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(sim.proc.pid, signal.SIGKILL)
            sim.proc.wait()
    if sim.workdir:
        shutil.rmtree(sim.workdir, ignore_errors=True)


@pytest.fixture(scope="session", params=["http", "https"])
def transport(request):
    return request.param


@pytest.fixture(scope="session")
def _shared(transport):
    env_url = os.environ.get("TCSIM_HTTPS_URL" if transport == "https" else "TCSIM_HTTP_URL")
    if env_url:
        yield Sim(env_url, ca_cert=os.environ.get("TCSIM_CA_CERT"))
        return
    sim = start_tcsim(transport == "https")
    try:
        yield sim
    finally:
        stop_tcsim(sim)


@pytest.fixture
def sim(_shared):
    """The shared simulator: read-only tests only."""
    return _shared


@pytest.fixture
def fresh_sim(transport):
    """A private simulator on the seed, for a test that changes state."""
    s = start_tcsim(transport == "https")
    try:
        yield s
    finally:
        stop_tcsim(s)
