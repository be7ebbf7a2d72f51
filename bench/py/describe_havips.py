"""One DescribeHaVips with the official Python SDK, as a one-shot script (make bench,
comparison "one API call"): what an SRE would write with tencentcloud-sdk-python.

    python describe_havips.py ENDPOINT REGION CA_FILE HAVIP_ID

Credentials from TENCENTCLOUD_SECRET_ID/_KEY; tcsim's CA trusted through the SDK's
`certification` option. Prints the response as JSON.
"""

import sys

from tencentcloud.common import credential
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.vpc.v20170312 import models, vpc_client


def main():
    endpoint, region, ca_file, havip_id = sys.argv[1:5]
    cred = credential.EnvironmentVariableCredential().get_credential()
    profile = ClientProfile(httpProfile=HttpProfile(endpoint=endpoint, certification=ca_file))
    client = vpc_client.VpcClient(cred, region, profile)
    req = models.DescribeHaVipsRequest()
    req.HaVipIds = [havip_id]
    print(client.DescribeHaVips(req).to_json_string())


if __name__ == "__main__":
    main()
