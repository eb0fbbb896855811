"""The simulator as the conformance tests share it: one process over HTTPS per session.

The simulator is started over HTTPS (simple-salesforce and Airbyte always build https://
URLs) with a fresh certificate authority that the clients are told to trust.
"""

import os
import subprocess
import tempfile

import requests

ACCOUNTS = 4500  # three query pages at the default batch size of 2000
CLIENT_ID = "3MVG9sfsyncSimulatorConsumerKey"
CLIENT_SECRET = "sfsync-simulator-consumer-secret"


def start_simulator():
    binary = os.environ.get("SFSYNC_BIN", "target/debug/sfsync")
    cert = tempfile.NamedTemporaryFile(suffix=".pem", delete=False).name
    process = subprocess.Popen(
        [binary, "simulator", "--port", "0", "--tls-cert-out", cert,
         "--accounts", str(ACCOUNTS), "--contacts", "50", "--opportunities", "60",
         "--cases", "10", "--invoices", "30"],
        stdout=subprocess.PIPE, text=True)
    url = process.stdout.readline().strip()
    assert url.startswith("https://127.0.0.1:"), f"simulator did not start: {url!r}"
    # requests reads its trust store from REQUESTS_CA_BUNDLE before session settings.
    os.environ["REQUESTS_CA_BUNDLE"] = cert
    session = requests.Session()
    session.verify = cert
    return process, {"url": url, "session": session, "cert": cert}


def control(sim, method, path, body=None):
    response = sim["session"].request(method, sim["url"] + "/__sim/v1" + path, json=body)
    response.raise_for_status()
    return response.json() if response.content else None
