"""Contract tests: the official TencentCloud Python SDK (tencentcloud-sdk-python-vpc) against tcsim.

If the real SDK cannot tell tcsim from vpc.tencentcloudapi.com for these calls, havip's own
client, tested against tcsim, is tested against the real API's contract. Each test asserts
concrete values from the seed scenario (see conftest.py and the tcsim issue's seed table).

A failure here means tcsim deviates from the real API (or the SDK cannot talk to it): fix tcsim,
not the test.
"""

import json
import re
import time
import urllib.request

import pytest

from tencentcloud.common import abstract_client
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.vpc.v20170312 import models

from conftest import (
    EIP_ID, EIP_IP, ENI_1, HAVIP_ID, IDLE_EIP_ID, IDLE_EIP_IP, INS_1, INS_2, REGION, SECRET_ID,
    SECRET_KEY, SUBNET_ID, VIP, VPC_ID,
)

REQUEST_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
HAVIP_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")  # "2018-10-10 17:03:09"
ADDRESS_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")  # ISO8601 UTC
TASK_DURATION_S = 1.0  # the seed's default async task duration


# --- helpers -------------------------------------------------------------------------------------

def req(cls, **params):
    """An SDK request model from keyword params (as the JSON the user would write)."""
    r = cls()
    r.from_json_string(json.dumps(params))
    return r


def describe_havips(client, **params):
    return client.DescribeHaVips(req(models.DescribeHaVipsRequest, **params))


def describe_addresses(client, **params):
    return client.DescribeAddresses(req(models.DescribeAddressesRequest, **params))


def the_havip(client):
    resp = describe_havips(client, HaVipIds=[HAVIP_ID])
    assert resp.TotalCount == 1, resp.to_json_string()
    assert len(resp.HaVipSet) == 1
    return resp.HaVipSet[0]


def the_address(client, address_id):
    resp = describe_addresses(client, AddressIds=[address_id])
    assert resp.TotalCount == 1, resp.to_json_string()
    assert len(resp.AddressSet) == 1
    return resp.AddressSet[0]


def sdk_error(call, *args):
    """Runs an SDK call that must fail with an API error; returns the exception."""
    with pytest.raises(TencentCloudSDKException) as info:
        call(*args)
    e = info.value
    # An API error carries the server's RequestId; client-side errors (network, HTTP status,
    # bad JSON) do not, and their code is the SDK's own (ClientNetworkError, ServerNetworkError).
    assert REQUEST_ID.match(e.get_request_id() or ""), (
        f"not an API error envelope: code={e.get_code()!r} message={e.get_message()!r}")
    return e


def associations(havip):
    return sorted((a.InstanceId, a.InstanceType) for a in (havip.HaVipAssociationSet or []))


def unknown_fields(model_cls, raw):
    """Fields in a raw response object that the official SDK model does not know."""
    known = {name[1:] for name in vars(model_cls())}
    return sorted(set(raw) - known)


def wait_task(client, task_id, *, timeout_s=10.0):
    """Polls DescribeVpcTaskResult; returns the list of distinct statuses seen, in order."""
    seen = []
    deadline = time.monotonic() + timeout_s
    while True:
        r = client.DescribeVpcTaskResult(req(models.DescribeVpcTaskResultRequest, TaskId=task_id))
        assert REQUEST_ID.match(r.RequestId)
        if not seen or seen[-1] != r.Status:
            seen.append(r.Status)
        if r.Status != "RUNNING":
            return seen
        assert time.monotonic() < deadline, f"task {task_id} still RUNNING after {timeout_s}s"
        time.sleep(0.1)


class FakeTime:
    """Stands in for the `time` module inside the SDK's abstract_client (which only calls
    time.time() to stamp X-TC-Timestamp), so the SDK signs as if its clock were off."""

    def __init__(self, offset_s):
        self.offset_s = offset_s

    def time(self):
        return time.time() + self.offset_s


# --- the seed, read through the SDK ---------------------------------------------------------------

def test_describe_havips_returns_the_seed_havip(sim):
    client = sim.client()
    resp = describe_havips(client, HaVipIds=[HAVIP_ID])
    assert REQUEST_ID.match(resp.RequestId), resp.RequestId
    assert resp.TotalCount == 1
    h = resp.HaVipSet[0]
    assert h.HaVipId == HAVIP_ID
    assert h.Vip == VIP
    assert h.VpcId == VPC_ID
    assert h.SubnetId == SUBNET_ID
    assert h.InstanceId == INS_1
    assert h.NetworkInterfaceId == ENI_1
    assert h.AddressIp == EIP_IP
    assert h.CheckAssociate is True
    assert h.State == "AVAILABLE"
    assert associations(h) == [(INS_1, "CVM"), (INS_2, "CVM")]
    for a in h.HaVipAssociationSet:
        assert a.HaVipId == HAVIP_ID
    assert HAVIP_TIME.match(h.CreatedTime), h.CreatedTime
    assert HAVIP_TIME.match(h.FlushedTime), h.FlushedTime

    # No filter: every HAVIP in the region, i.e. the seed's one.
    all_ = describe_havips(client)
    assert all_.TotalCount == 1
    assert [x.HaVipId for x in all_.HaVipSet] == [HAVIP_ID]


def test_describe_havips_fields_are_known_to_the_sdk(sim):
    raw = sim.client().call_json("DescribeHaVips", {"HaVipIds": [HAVIP_ID]})["Response"]
    assert unknown_fields(models.DescribeHaVipsResponse, raw) == []
    (h,) = raw["HaVipSet"]
    assert unknown_fields(models.HaVip, h) == []
    for a in h["HaVipAssociationSet"]:
        assert unknown_fields(models.HaVipAssociation, a) == []


def test_describe_havips_filters(sim):
    client = sim.client()
    for name, value in [("havip-id", HAVIP_ID), ("vip", VIP), ("vpc-id", VPC_ID),
                        ("subnet-id", SUBNET_ID), ("address-ip", EIP_IP),
                        ("havip-association.instance-id", INS_2)]:
        r = describe_havips(client, Filters=[{"Name": name, "Values": [value]}])
        assert r.TotalCount == 1, f"filter {name}={value}: {r.to_json_string()}"
        assert r.HaVipSet[0].HaVipId == HAVIP_ID
    r = describe_havips(client, Filters=[{"Name": "vip", "Values": ["10.0.4.98"]}])
    assert r.TotalCount == 0
    assert r.HaVipSet == []


def test_describe_addresses_returns_the_seed_eips(sim):
    client = sim.client()
    resp = describe_addresses(client, AddressIds=[EIP_ID, IDLE_EIP_ID])
    assert REQUEST_ID.match(resp.RequestId)
    assert resp.TotalCount == 2
    by_id = {a.AddressId: a for a in resp.AddressSet}
    assert sorted(by_id) == sorted([EIP_ID, IDLE_EIP_ID])

    bound = by_id[EIP_ID]
    assert bound.AddressIp == EIP_IP
    assert bound.AddressStatus == "BIND"
    assert bound.InstanceType == "HAVIP"
    assert ADDRESS_TIME.match(bound.CreatedTime), bound.CreatedTime

    idle = by_id[IDLE_EIP_ID]
    assert idle.AddressIp == IDLE_EIP_IP
    assert idle.AddressStatus == "UNBIND"
    assert idle.InternetChargeType == "TRAFFIC_POSTPAID_BY_HOUR"
    assert not idle.InstanceId
    assert not idle.NetworkInterfaceId
    assert ADDRESS_TIME.match(idle.CreatedTime), idle.CreatedTime

    raw = client.call_json("DescribeAddresses", {"AddressIds": [EIP_ID, IDLE_EIP_ID]})["Response"]
    assert unknown_fields(models.DescribeAddressesResponse, raw) == []
    for a in raw["AddressSet"]:
        assert unknown_fields(models.Address, a) == []


def test_describe_addresses_status_filter_finds_the_idle_eip(sim):
    client = sim.client()
    r = describe_addresses(client, Filters=[{"Name": "address-status", "Values": ["UNBIND"]}])
    assert r.TotalCount == 1
    assert [(a.AddressId, a.AddressIp) for a in r.AddressSet] == [(IDLE_EIP_ID, IDLE_EIP_IP)]

    r = describe_addresses(client, Filters=[{"Name": "address-status", "Values": ["BIND"]}])
    assert [a.AddressId for a in r.AddressSet] == [EIP_ID]

    # Values are OR-ed within a filter.
    r = describe_addresses(client, Filters=[{"Name": "address-status", "Values": ["UNBIND", "BIND"]}])
    assert r.TotalCount == 2

    # Filters are AND-ed.
    r = describe_addresses(client, Filters=[{"Name": "address-status", "Values": ["UNBIND"]},
                                            {"Name": "address-ip", "Values": [EIP_IP]}])
    assert r.TotalCount == 0
    assert r.AddressSet == []

    r = describe_addresses(client, Filters=[{"Name": "address-ip", "Values": [IDLE_EIP_IP]}])
    assert [a.AddressId for a in r.AddressSet] == [IDLE_EIP_ID]
    r = describe_addresses(client, Filters=[{"Name": "instance-type", "Values": ["HAVIP"]}])
    assert [a.AddressId for a in r.AddressSet] == [EIP_ID]


def test_pagination_offset_limit_total_count(sim):
    client = sim.client()
    pages = []
    for offset in range(3):
        r = describe_addresses(client, Offset=offset, Limit=1)
        assert r.TotalCount == 2, f"TotalCount counts all matches, not the page (offset {offset})"
        pages.append([a.AddressId for a in r.AddressSet])
    assert [len(p) for p in pages] == [1, 1, 0]
    assert sorted(pages[0] + pages[1]) == sorted([EIP_ID, IDLE_EIP_ID])

    r = describe_addresses(client, Offset=0, Limit=100)
    assert r.TotalCount == 2 and len(r.AddressSet) == 2
    # The order is stable between calls.
    again = describe_addresses(client, Offset=0, Limit=100)
    assert [a.AddressId for a in again.AddressSet] == [a.AddressId for a in r.AddressSet]
    assert pages[0] + pages[1] == [a.AddressId for a in r.AddressSet]

    r = describe_havips(client, Offset=1, Limit=1)
    assert r.TotalCount == 1
    assert r.HaVipSet == []


# --- request styles the SDK offers ------------------------------------------------------------------

def test_get_request_path(sim):
    client = sim.client(method="GET")
    h = the_havip(client)
    assert (h.HaVipId, h.Vip, h.InstanceId, h.AddressIp) == (HAVIP_ID, VIP, INS_1, EIP_IP)
    # Nested params flattened into the query string (Filters.0.Name=...&Filters.0.Values.0=...).
    r = describe_addresses(client, Filters=[{"Name": "address-status", "Values": ["UNBIND"]}],
                           Offset=0, Limit=10)
    assert r.TotalCount == 1
    assert r.AddressSet[0].AddressId == IDLE_EIP_ID


def test_unsigned_payload_mode(sim):
    client = sim.client(unsigned=True)
    h = the_havip(client)
    assert (h.HaVipId, h.InstanceId) == (HAVIP_ID, INS_1)
    assert the_address(client, IDLE_EIP_ID).AddressStatus == "UNBIND"


def test_en_us_language(sim):
    h = the_havip(sim.client(language="en-US"))
    assert h.HaVipId == HAVIP_ID


# --- authentication ----------------------------------------------------------------------------------

def test_wrong_key_gives_signature_failure(sim):
    client = sim.client(secret_key=SECRET_KEY[:-1] + "X")
    e = sdk_error(describe_havips, client)
    assert e.get_code() == "AuthFailure.SignatureFailure", e


def test_wrong_key_gives_signature_failure_on_get(sim):
    client = sim.client(method="GET", secret_key="not-the-key")
    e = sdk_error(describe_havips, client)
    assert e.get_code() == "AuthFailure.SignatureFailure", e


def test_unknown_secret_id_gives_secret_id_not_found(sim):
    client = sim.client(secret_id="AKIDnotarealkey0000000000000000000000")
    e = sdk_error(describe_havips, client)
    assert e.get_code() == "AuthFailure.SecretIdNotFound", e


@pytest.mark.parametrize("offset_s", [-600, 600, -3600])
def test_stale_or_future_timestamp_gives_signature_expire(sim, monkeypatch, offset_s):
    monkeypatch.setattr(abstract_client, "time", FakeTime(offset_s))
    e = sdk_error(describe_havips, sim.client())
    assert e.get_code() == "AuthFailure.SignatureExpire", e


@pytest.mark.parametrize("offset_s", [-240, 240])
def test_timestamp_within_five_minutes_is_accepted(sim, monkeypatch, offset_s):
    monkeypatch.setattr(abstract_client, "time", FakeTime(offset_s))
    assert the_havip(sim.client()).HaVipId == HAVIP_ID


def test_server_clock_ahead_gives_signature_expire(fresh_sim):
    client = fresh_sim.client()
    assert the_havip(client).HaVipId == HAVIP_ID
    fresh_sim.control("POST", "/_sim/clock", {"offset_s": 600})
    e = sdk_error(describe_havips, client)
    assert e.get_code() == "AuthFailure.SignatureExpire", e
    fresh_sim.control("POST", "/_sim/clock", {"offset_s": 0})
    assert the_havip(client).HaVipId == HAVIP_ID


def test_unknown_action_gives_invalid_action(sim):
    e = sdk_error(sim.client().call_json, "DescribeNoSuchThing", {})
    assert e.get_code() == "InvalidAction", e


def test_error_envelope_is_http_200_json(sim):
    """What the SDK relies on: API errors come back with HTTP 200, Content-Type application/json
    (the SDK only parses errors for exactly `application/json` or `text/plain`), a Date header,
    and {"Response": {"Error": {"Code", "Message"}, "RequestId"}}."""
    body = b'{"HaVipIds": ["havip-iam00099"]}'
    ts = str(int(time.time()))
    rq = urllib.request.Request(sim.url + "/", data=body, method="POST")
    for k, v in {
        "Content-Type": "application/json",
        "X-TC-Action": "DescribeHaVips",
        "X-TC-Version": "2017-03-12",
        "X-TC-Region": REGION,
        "X-TC-Timestamp": ts,
        "Authorization": (f"TC3-HMAC-SHA256 Credential={SECRET_ID}/"
                          f"{time.strftime('%Y-%m-%d', time.gmtime(int(ts)))}/vpc/tc3_request, "
                          f"SignedHeaders=content-type;host, Signature={'0' * 64}"),
    }.items():
        rq.add_header(k, v)
    with urllib.request.urlopen(rq, timeout=15, context=sim._ssl_context()) as resp:
        assert resp.status == 200
        assert resp.headers.get("Content-Type") == "application/json"
        assert resp.headers.get("Date"), "a Date header"
        doc = json.loads(resp.read())
    assert set(doc) == {"Response"}
    r = doc["Response"]
    assert set(r) == {"Error", "RequestId"}, r
    assert r["Error"]["Code"] == "AuthFailure.SignatureFailure"
    assert isinstance(r["Error"]["Message"], str) and r["Error"]["Message"]
    assert REQUEST_ID.match(r["RequestId"])


# --- state changes (each on a private simulator) --------------------------------------------------

def test_associate_havip_instance_twice_gives_duplicated(fresh_sim):
    client = fresh_sim.client()
    assoc = lambda ins: req(models.AssociateHaVipInstanceRequest, HaVipAssociationSet=[  # noqa: E731
        {"HaVipId": HAVIP_ID, "InstanceId": ins, "InstanceType": "CVM"}])

    # The seed's drift range already holds both CVMs.
    e = sdk_error(client.AssociateHaVipInstance, assoc(INS_1))
    assert e.get_code() == "InvalidParameterValue.DuplicatedHaVipAssociations", e

    r = client.DisassociateHaVipInstance(req(models.DisassociateHaVipInstanceRequest, HaVipAssociationSet=[
        {"HaVipId": HAVIP_ID, "InstanceId": INS_2, "InstanceType": "CVM"}]))
    assert REQUEST_ID.match(r.RequestId)
    assert associations(the_havip(client)) == [(INS_1, "CVM")]

    r = client.AssociateHaVipInstance(assoc(INS_2))
    assert REQUEST_ID.match(r.RequestId)
    assert associations(the_havip(client)) == [(INS_1, "CVM"), (INS_2, "CVM")]

    e = sdk_error(client.AssociateHaVipInstance, assoc(INS_2))
    assert e.get_code() == "InvalidParameterValue.DuplicatedHaVipAssociations", e
    assert associations(the_havip(client)) == [(INS_1, "CVM"), (INS_2, "CVM")]
    # Editing the drift range does not move the HAVIP.
    assert the_havip(client).InstanceId == INS_1


def test_havip_disassociate_address_ip_task_then_unbind(fresh_sim):
    client = fresh_sim.client()
    assert the_address(client, EIP_ID).AddressStatus == "BIND"

    started = time.monotonic()
    r = client.HaVipDisassociateAddressIp(req(models.HaVipDisassociateAddressIpRequest, HaVipId=HAVIP_ID))
    assert REQUEST_ID.match(r.RequestId)
    statuses = wait_task(client, r.RequestId)
    elapsed = time.monotonic() - started
    assert statuses == ["RUNNING", "SUCCESS"], statuses
    assert elapsed >= TASK_DURATION_S * 0.8, f"task finished after {elapsed:.2f}s"

    eip = the_address(client, EIP_ID)
    assert eip.AddressStatus == "UNBIND"
    assert eip.AddressIp == EIP_IP
    assert not eip.InstanceId
    assert not the_havip(client).AddressIp
    # Both EIPs are idle now.
    r2 = describe_addresses(client, Filters=[{"Name": "address-status", "Values": ["UNBIND"]}])
    assert sorted(a.AddressId for a in r2.AddressSet) == sorted([EIP_ID, IDLE_EIP_ID])
    assert r2.TotalCount == 2

    # Nothing left to unbind.
    e = sdk_error(client.HaVipDisassociateAddressIp,
                  req(models.HaVipDisassociateAddressIpRequest, HaVipId=HAVIP_ID))
    assert e.get_code() == "UnsupportedOperation.UnbindEIP", e

    # And back: bind the EIP to the HAVIP again.
    r = client.HaVipAssociateAddressIp(req(models.HaVipAssociateAddressIpRequest,
                                           HaVipId=HAVIP_ID, AddressIp=EIP_IP))
    assert REQUEST_ID.match(r.RequestId)
    assert wait_task(client, r.RequestId) == ["RUNNING", "SUCCESS"]
    eip = the_address(client, EIP_ID)
    assert (eip.AddressStatus, eip.InstanceType) == ("BIND", "HAVIP")
    assert the_havip(client).AddressIp == EIP_IP

    e = sdk_error(client.HaVipAssociateAddressIp,
                  req(models.HaVipAssociateAddressIpRequest, HaVipId=HAVIP_ID, AddressIp=IDLE_EIP_IP))
    assert e.get_code() == "UnsupportedOperation.BindEIP", e


def test_unknown_havip_gives_resource_not_found(sim):
    e = sdk_error(sim.client().HaVipDisassociateAddressIp,
                  req(models.HaVipDisassociateAddressIpRequest, HaVipId="havip-00000000"))
    assert e.get_code() == "ResourceNotFound", e


def test_malformed_havip_id_gives_malformed(sim):
    e = sdk_error(lambda: describe_havips(sim.client(), HaVipIds=["havip-???"]))
    assert e.get_code() == "InvalidParameterValue.Malformed", e


def test_associate_address_then_describe_task_result(fresh_sim):
    """AssociateAddress returns TaskId as a JSON string; DescribeTaskResult takes it as an int."""
    client = fresh_sim.client()
    r = client.AssociateAddress(req(models.AssociateAddressRequest, AddressId=IDLE_EIP_ID, InstanceId=INS_2))
    assert REQUEST_ID.match(r.RequestId)
    assert isinstance(r.TaskId, str) and r.TaskId.isdigit(), repr(r.TaskId)

    seen = []
    deadline = time.monotonic() + 10
    while True:
        t = client.DescribeTaskResult(req(models.DescribeTaskResultRequest, TaskId=int(r.TaskId)))
        assert t.TaskId == int(r.TaskId)
        if not seen or seen[-1] != t.Result:
            seen.append(t.Result)
        if t.Result != "RUNNING":
            break
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert seen == ["RUNNING", "SUCCESS"], seen
    eip = the_address(client, IDLE_EIP_ID)
    assert (eip.AddressStatus, eip.InstanceId, eip.InstanceType) == ("BIND", INS_2, "CVM")


# --- transport -------------------------------------------------------------------------------------

def test_tls_certificate_is_really_checked():
    """The HTTPS runs are real TLS: without trusting tcsim's certificate (the SDK's default,
    certifi's roots) the SDK refuses the connection; trusting it, the call succeeds."""
    from conftest import start_tcsim, stop_tcsim

    s = start_tcsim(True)
    try:
        with open(s.ca_cert) as f:
            assert "BEGIN CERTIFICATE" in f.read()
        untrusted = s.client()
        untrusted.profile.httpProfile.certification = None
        from tencentcloud.vpc.v20170312 import vpc_client
        default_trust = vpc_client.VpcClient(untrusted.credential, REGION, untrusted.profile)
        with pytest.raises(TencentCloudSDKException) as info:
            describe_havips(default_trust)
        assert info.value.get_code() == "ClientNetworkError", info.value
        assert "CERTIFICATE_VERIFY_FAILED" in str(info.value.get_message()), info.value
        assert the_havip(s.client()).HaVipId == HAVIP_ID
    finally:
        stop_tcsim(s)


# --- parameter validation ------------------------------------------------------------------------

def test_havip_ids_and_filters_together_give_coexist(sim):
    """DescribeHaVips: "HaVipIds and Filters cannot be specified at the same time"."""
    e = sdk_error(lambda: describe_havips(sim.client(), HaVipIds=[HAVIP_ID],
                                          Filters=[{"Name": "vip", "Values": [VIP]}]))
    assert e.get_code() == "InvalidParameter.Coexist", e


def test_unknown_havip_filter_gives_filter_invalid_key(sim):
    e = sdk_error(lambda: describe_havips(sim.client(), Filters=[{"Name": "no-such-key", "Values": ["x"]}]))
    assert e.get_code() == "InvalidParameter.FilterInvalidKey", e


# --- metadata and role credentials, through the SDK's own CVMRoleCredential ------------------------

def _metadata_get(sim, path):
    url = f"{sim.url}/_sim/node/{INS_1}/latest/meta-data/{path}"
    try:
        with urllib.request.urlopen(url, timeout=15, context=sim._ssl_context()) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def test_metadata_for_a_node(sim):
    assert _metadata_get(sim, "instance-id") == (200, INS_1)
    assert _metadata_get(sim, "placement/region") == (200, REGION)
    assert _metadata_get(sim, "placement/zone") == (200, "ap-guangzhou-3")
    status, ip = _metadata_get(sim, "local-ipv4")
    assert (status, ip.rstrip("/")) == (200, "10.0.4.20")
    status, mac = _metadata_get(sim, "mac")
    assert (status, mac.lower()) == (200, "52:54:00:00:04:20")
    assert _metadata_get(sim, "cam/security-credentials/") [1].strip("/\n") == "havip-role"
    assert _metadata_get(sim, "no-such-thing")[0] == 404


def test_sdk_cvm_role_credential_from_tcsim_metadata(sim, monkeypatch):
    """The SDK's CVMRoleCredential reads the role and its temporary key from the metadata
    service; tcsim must accept that key with its X-TC-Token."""
    from tencentcloud.common import credential as sdk_credential

    if sim.scheme == "https":  # the real metadata service is plain HTTP; trust tcsim's cert here
        real = urllib.request.urlopen
        monkeypatch.setattr(sdk_credential, "urlopen",
                            lambda url, *a, **k: real(url, *a, context=sim._ssl_context(), **k))
    cred = sdk_credential.CVMRoleCredential()
    cred._role_endpoint = f"{sim.url}/_sim/node/{INS_1}/latest/meta-data/cam/security-credentials/"
    assert cred.get_role_name() == "havip-role"
    secret_id, secret_key, token = cred.get_credential_info()
    assert secret_id and secret_key and token, (secret_id, token)
    assert secret_id != SECRET_ID
    assert cred._expired_ts > time.time() + 300

    client = sim.client()
    from tencentcloud.vpc.v20170312 import vpc_client
    role_client = vpc_client.VpcClient(cred, REGION, client.profile)
    assert the_havip(role_client).HaVipId == HAVIP_ID

    # The temporary key without its token is refused.
    from tencentcloud.common import credential as c
    no_token = vpc_client.VpcClient(c.Credential(secret_id, secret_key), REGION, client.profile)
    e = sdk_error(describe_havips, no_token)
    assert e.get_code().startswith("AuthFailure."), e


def test_cvm_describe_regions_signed_for_cvm(sim):
    """`havip audit --all-regions` reads CVM DescribeRegions, signed for service `cvm`: tcsim
    answers it in the real shape, and refuses it signed for `vpc` (the action is not VPC's)."""
    from tencentcloud.common.common_client import CommonClient

    vpc = sim.client()
    cvm = CommonClient("cvm", "2017-03-12", vpc.credential, vpc.region, vpc.profile)
    resp = cvm.call_json("DescribeRegions", {})["Response"]
    regions = {r["Region"] for r in resp["RegionSet"]}
    assert "ap-guangzhou" in regions, regions
    assert resp["TotalCount"] == len(resp["RegionSet"])
    assert all(r["RegionState"] == "AVAILABLE" and r["RegionName"] for r in resp["RegionSet"])
    e = sdk_error(vpc.call_json, "DescribeRegions", {})
    assert e.get_code() == "InvalidAction", e
