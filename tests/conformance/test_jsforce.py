"""Conformance: jsforce, unchanged, against `sfsync simulator` (see jsforce/session.js)."""

import os
import subprocess

from simulator_support import ACCOUNTS, control

SESSION = os.path.join(os.path.dirname(__file__), "jsforce", "session.js")


def test_a_jsforce_session_refreshes_queries_writes_describes_and_bulk_reads(sf, simulator):
    grant = control(simulator, "POST", "/orgs/default/grants")
    env = dict(os.environ, SIMULATOR_URL=simulator["url"], INSTANCE_URL=grant["instance_url"],
               REFRESH_TOKEN=grant["refresh_token"], ACCOUNTS=str(ACCOUNTS),
               NODE_EXTRA_CA_CERTS=simulator["cert"])
    done = subprocess.run(["node", SESSION], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "jsforce session: ok" in done.stdout
