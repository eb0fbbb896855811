"""Conformance: Airbyte's published Salesforce source, unchanged, against `sfsync simulator`.

The connector discovers the objects from describe, reads objects with compound fields through
REST and the others through Bulk API 2.0 jobs sliced by SystemModstamp, and resumes from its
own state. What it reads must be what the REST API holds, and a change made later must reach
its next incremental read.
"""

import datetime
import json
import os
import subprocess
import sys

import pytest

from simulator_support import ACCOUNTS, CLIENT_ID, CLIENT_SECRET, control

DRIVER = os.path.join(os.path.dirname(__file__), "connector_driver.py")
STREAMS = ("Account", "Opportunity", "Invoice__c")


@pytest.fixture()
def airbyte(sf, simulator, tmp_path):
    """Runs the connector with a fresh grant; returns its messages."""
    grant = control(simulator, "POST", "/orgs/default/grants")
    # The seeded records go back two years; the connector reads 30-day slices from here.
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=800)
    config = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
              "refresh_token": grant["refresh_token"], "is_sandbox": False,
              "auth_type": "Client", "start_date": start.strftime("%Y-%m-%dT%H:%M:%SZ")}
    (tmp_path / "config.json").write_text(json.dumps(config))

    def run(command, **files):
        args = [sys.executable, DRIVER, "source_salesforce.run:run", command,
                "--config", str(tmp_path / "config.json")]
        for name, content in files.items():
            (tmp_path / f"{name}.json").write_text(json.dumps(content))
            args += [f"--{name}", str(tmp_path / f"{name}.json")]
        env = dict(os.environ, SIMULATOR_URL=simulator["url"])
        # The connector downloads Bulk results into files in its working directory.
        done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300,
                              cwd=tmp_path)
        messages = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        errors = [m["trace"]["error"] for m in messages
                  if m["type"] == "TRACE" and m["trace"]["type"] == "ERROR"]
        assert done.returncode == 0 and not errors, (errors[:1], done.stderr[-2000:])
        return messages

    return run


def records_by_stream(messages):
    out = {}
    for m in messages:
        if m["type"] == "RECORD":
            out.setdefault(m["record"]["stream"], {})[m["record"]["data"]["Id"]] = m["record"]["data"]
    return out


def catalog_of(discovered):
    catalog = next(m["catalog"] for m in discovered if m["type"] == "CATALOG")
    return {"streams": [
        {"stream": s, "sync_mode": "incremental", "cursor_field": ["SystemModstamp"],
         "destination_sync_mode": "append", "primary_key": [["Id"]]}
        for s in catalog["streams"] if s["name"] in STREAMS]}


def same_value(rest, read):
    """REST writes date-times as +0000 and Bulk CSV as Z; numbers may come back as floats."""
    if isinstance(rest, str) and isinstance(read, str):
        return rest.replace("+0000", "Z") == read.replace("+0000", "Z")
    if isinstance(rest, (int, float)) and isinstance(read, (int, float)):
        return float(rest) == float(read)
    return rest == read


def assert_matches_rest(sf, stream, read):
    fields = [f["name"] for f in getattr(sf, stream).describe()["fields"]
              if f["type"] not in ("address", "location")]
    rest = {r["Id"]: r for r in
            sf.query_all(f"SELECT {', '.join(fields)} FROM {stream}")["records"]}
    assert read.keys() == rest.keys(), stream
    for record_id, record in read.items():
        for field in fields:
            if field in record:
                assert same_value(rest[record_id][field], record[field]), \
                    (stream, record_id, field, rest[record_id][field], record[field])


def test_the_connector_checks_discovers_and_reads_what_rest_holds(sf, airbyte):
    status = next(m for m in airbyte("check") if m["type"] == "CONNECTION_STATUS")
    assert status["connectionStatus"]["status"] == "SUCCEEDED", status

    discovered = airbyte("discover")
    catalog = catalog_of(discovered)
    assert {s["stream"]["name"] for s in catalog["streams"]} == set(STREAMS)
    for s in catalog["streams"]:
        assert s["stream"]["default_cursor_field"] == ["SystemModstamp"]

    read = records_by_stream(airbyte("read", catalog=catalog))
    assert len(read["Account"]) == ACCOUNTS
    for stream in STREAMS:
        assert_matches_rest(sf, stream, read[stream])


def test_a_change_made_after_a_read_reaches_the_next_incremental_read(sf, airbyte):
    catalog = catalog_of(airbyte("discover"))
    first = airbyte("read", catalog=catalog)
    states = [m["state"] for m in first if m["type"] == "STATE"]
    latest = {s["stream"]["stream_descriptor"]["name"]: s for s in states}

    opportunity = sf.query("SELECT Id FROM Opportunity ORDER BY Id LIMIT 1")["records"][0]["Id"]
    invoice = sf.query("SELECT Id FROM Invoice__c ORDER BY Id LIMIT 1")["records"][0]["Id"]
    sf.Opportunity.update(opportunity, {"StageName": "Negotiation/Review"})
    sf.Invoice__c.update(invoice, {"Status__c": "Paid"})

    second = records_by_stream(airbyte("read", catalog=catalog, state=list(latest.values())))
    assert second["Opportunity"][opportunity]["StageName"] == "Negotiation/Review"
    assert second["Invoice__c"][invoice]["Status__c"] == "Paid"
    # Only the lookback window is read again, not the whole object.
    assert len(second["Opportunity"]) < 60
