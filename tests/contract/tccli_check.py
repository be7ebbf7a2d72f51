"""Optional contract check: tccli (the official CLI) against tcsim over HTTPS.

Run by tests/contract/run.sh when CONTRACT_TCCLI=1, with the Python of a venv holding tccli.
tccli speaks only HTTPS and trusts only certifi's bundle, so tccli runs here in-process with
`certifi.where` pointed at a bundle of certifi's roots plus tcsim's certificate
(TCSIM_CA_CERT); nothing in the venv is modified. Prints `N passed, N failed`.
"""

import json
import os
import subprocess
import sys
import tempfile

import certifi

SECRET_ID = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"
SECRET_KEY = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"


# tccli, in a child Python whose certifi.where() names our bundle.
LAUNCH = (
    "import sys, certifi; b = sys.argv.pop(1); certifi.where = lambda: b; "
    "from tccli.main import main; sys.argv[0] = 'tccli'; sys.exit(main())"
)


def tccli(endpoint, bundle, *args):
    argv = [sys.executable, "-c", LAUNCH, bundle, *args, "--endpoint", endpoint,
            "--secretId", SECRET_ID, "--secretKey", SECRET_KEY, "--region", "ap-guangzhou"]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout + p.stderr


def main():
    url = os.environ["TCSIM_HTTPS_URL"]
    endpoint = url.split("://", 1)[1]
    bundle = tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False)
    with open(certifi.where()) as f:
        bundle.write(f.read())
    with open(os.environ["TCSIM_CA_CERT"]) as f:
        bundle.write("\n" + f.read())
    bundle.close()

    passed = failed = 0

    def check(name, ok, detail=""):
        nonlocal passed, failed
        if ok:
            passed += 1
            print(f"tccli: ok   {name}")
        else:
            failed += 1
            print(f"tccli: FAIL {name}: {detail}")

    code, out = tccli(endpoint, bundle.name, "vpc", "DescribeHaVips", "--HaVipIds", '["havip-iam00099"]')
    try:
        doc = json.loads(out)
        havips = doc.get("HaVipSet") or []
        check("DescribeHaVips returns the seed HAVIP",
              code == 0 and doc.get("TotalCount") == 1 and havips[0]["Vip"] == "10.0.4.99"
              and havips[0]["InstanceId"] == "ins-iam00020", out)
    except (ValueError, LookupError, TypeError, IndexError) as e:
        check("DescribeHaVips returns the seed HAVIP", False, f"{e}: exit {code}, output {out!r}")

    code, out = tccli(endpoint, bundle.name, "vpc", "DescribeAddresses", "--Filters",
                      '[{"Name": "address-status", "Values": ["UNBIND"]}]')
    try:
        doc = json.loads(out)
        check("DescribeAddresses finds the idle EIP",
              code == 0 and [a["AddressId"] for a in doc["AddressSet"]] == ["eip-idle0001"], out)
    except (ValueError, LookupError, TypeError, IndexError) as e:
        check("DescribeAddresses finds the idle EIP", False, f"{e}: exit {code}, output {out!r}")

    os.unlink(bundle.name)
    print(f"tccli: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
