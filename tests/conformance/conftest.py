import os

import pytest
from simple_salesforce import Salesforce

from simulator_support import control, start_simulator


@pytest.fixture(scope="session")
def simulator():
    process, sim = start_simulator()
    yield sim
    process.terminate()
    process.wait(timeout=10)
    os.unlink(sim["cert"])


@pytest.fixture()
def sf(simulator):
    """simple-salesforce on a freshly reset org."""
    control(simulator, "POST", "/orgs/default/reset")
    grant = control(simulator, "POST", "/orgs/default/grants")
    return Salesforce(instance_url=grant["instance_url"], session_id=grant["access_token"],
                      session=simulator["session"], version="62.0")
