"""Runs Airbyte's source-salesforce, unchanged, against the simulator.

The connector always logs in at https://login.salesforce.com (test.salesforce.com for a
sandbox). This driver routes those two hosts to the simulator, as an /etc/hosts entry would,
and changes nothing else: every later call goes to the instance URL the token response
names, which is the simulator's. Arguments are the connector's own (check, discover, read).
"""

import os
import sys

import requests.adapters

SIMULATOR = os.environ["SIMULATOR_URL"]
LOGIN_HOSTS = ("https://login.salesforce.com", "https://test.salesforce.com")
_send = requests.adapters.HTTPAdapter.send


def _send_to_simulator(self, request, **kwargs):
    for host in LOGIN_HOSTS:
        if request.url.startswith(host):
            request.url = SIMULATOR + request.url[len(host):]
    return _send(self, request, **kwargs)


requests.adapters.HTTPAdapter.send = _send_to_simulator

from source_salesforce.run import run  # noqa: E402  (after the routing is in place)

sys.argv = ["source-salesforce", *sys.argv[1:]]
run()
