"""Conformance: Singer's tap-salesforce, unchanged, against `sfsync simulator`.

The tap reads through REST queryAll or through Bulk API 1.0 jobs (XML batch information,
CSV results), and retries a Bulk query that timed out with PK chunking. It lives in its own
virtual environment (it pins an older requests); scripts/test builds it.
"""

import datetime
import json
import os
import subprocess

import pytest

from simulator_support import ACCOUNTS, CLIENT_ID, CLIENT_SECRET, control

DRIVER = os.path.join(os.path.dirname(__file__), "connector_driver.py")
TAP_PYTHON = os.path.abspath(os.environ.get("SFSYNC_TAP_PYTHON", "target/tap-venv/bin/python"))
STREAMS = ("Account", "Contact", "Invoice__c")


@pytest.fixture()
def tap(sf, simulator, tmp_path):
    """Runs the tap with a fresh grant and `api_type`; returns its records and its log."""
    grant = control(simulator, "POST", "/orgs/default/grants")
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1000)

    def run(api_type, *args):
        config = tmp_path / "config.json"
        config.write_text(json.dumps({
            "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "refresh_token": grant["refresh_token"], "api_type": api_type,
            "start_date": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "select_fields_by_default": True, "is_sandbox": False}))
        env = dict(os.environ, SIMULATOR_URL=simulator["url"])
        done = subprocess.run([TAP_PYTHON, DRIVER, "tap_salesforce:main", "--config", str(config),
                               *args], capture_output=True, text=True, env=env, timeout=300,
                              cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout, done.stderr

    def sync(api_type):
        catalog = json.loads(run(api_type, "--discover")[0])
        chosen = [s for s in catalog["streams"] if s["stream"] in STREAMS]
        for stream in chosen:
            for entry in stream["metadata"]:
                if entry["breadcrumb"] == []:
                    entry["metadata"]["selected"] = True
        (tmp_path / "catalog.json").write_text(json.dumps({"streams": chosen}))
        out, logs = run(api_type, "--properties", str(tmp_path / "catalog.json"))
        records = {}
        for line in out.splitlines():
            message = json.loads(line)
            if message["type"] == "RECORD":
                records.setdefault(message["stream"], {})[message["record"]["Id"]] = \
                    message["record"]
        return records, logs

    return sync


def assert_matches_rest(sf, records):
    for stream in STREAMS:
        rest = {r["Id"]: r for r in
                sf.query_all(f"SELECT Id, Name FROM {stream}")["records"]}
        assert records[stream].keys() == rest.keys(), stream
        for record_id, record in records[stream].items():
            assert record["Name"] == rest[record_id]["Name"], (stream, record_id)


@pytest.mark.parametrize("api_type", ["REST", "BULK"])
def test_the_tap_discovers_and_reads_what_rest_holds(sf, tap, api_type):
    records, _ = tap(api_type)
    assert len(records["Account"]) == ACCOUNTS
    assert_matches_rest(sf, records)


def test_a_bulk_query_that_times_out_is_read_again_through_pk_chunking(sf, simulator, tap):
    control(simulator, "POST", "/orgs/default/faults",
            {"kind": "query_timeout", "count": 1, "path": "/services/async/"})
    records, logs = tap("BULK")
    assert "Retrying Bulk Query with PK Chunking" in logs
    assert_matches_rest(sf, records)
