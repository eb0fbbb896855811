"""Runs a published Salesforce connector, unchanged, against the simulator.

Airbyte's source and Singer's tap-salesforce always log in at https://login.salesforce.com
(test.salesforce.com for a sandbox). This driver routes those two hosts to the simulator, as
an /etc/hosts entry would, and changes nothing else: every later call goes to the instance
URL the token response names, which is the simulator's.

    python connector_driver.py MODULE:FUNCTION [the connector's own arguments]
"""

import importlib
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

module, function = sys.argv[1].split(":")
sys.argv = [module, *sys.argv[2:]]
getattr(importlib.import_module(module), function)()
