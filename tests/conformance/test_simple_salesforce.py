"""Conformance: the published simple-salesforce client, unchanged, against `sfsync simulator`."""

import json

import pytest
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceResourceNotFound,
)

from simulator_support import ACCOUNTS, control


def test_query_all_follows_next_records_url_across_pages(sf):
    first = sf.query("SELECT Id, Name, BillingCity, Owner.Name FROM Account ORDER BY Id")
    assert first["totalSize"] == ACCOUNTS
    assert first["done"] is False
    assert len(first["records"]) == 2000
    assert first["nextRecordsUrl"].startswith("/services/data/v62.0/query/")

    every = sf.query_all("SELECT Id, Name, BillingCity, Owner.Name FROM Account ORDER BY Id")
    ids = [r["Id"] for r in every["records"]]
    assert len(ids) == ACCOUNTS == len(set(ids))
    assert ids == sorted(ids)
    assert every["records"][0]["attributes"]["type"] == "Account"
    assert every["records"][0]["Owner"]["attributes"]["type"] == "User"
    count = sf.query("SELECT COUNT() FROM Account")
    assert count["totalSize"] == ACCOUNTS and count["records"] == []


def test_query_all_with_include_deleted_returns_recycle_bin_rows(sf, simulator):
    victim = sf.query("SELECT Id FROM Contact ORDER BY Id LIMIT 1")["records"][0]["Id"]
    control(simulator, "DELETE", f"/orgs/default/sobjects/Contact/{victim}")

    live = sf.query_all(f"SELECT Id FROM Contact WHERE Id = '{victim}'")
    assert live["totalSize"] == 0
    deleted = sf.query_all(f"SELECT Id, IsDeleted FROM Contact WHERE Id = '{victim}'",
                           include_deleted=True)
    assert deleted["totalSize"] == 1
    assert deleted["records"][0]["IsDeleted"] is True


def test_describe_reports_fields_and_hides_those_the_user_may_not_read(sf, simulator):
    describe = sf.Account.describe()
    names = {f["name"] for f in describe["fields"]}
    assert {"Id", "Name", "BillingAddress", "BillingCity", "SystemModstamp"} <= names
    address = next(f for f in describe["fields"] if f["name"] == "BillingCity")
    assert address["compoundFieldName"] == "BillingAddress"

    control(simulator, "PUT", "/orgs/default/sobjects/Account/fields/Rating/visibility",
            {"visible": False})
    try:
        assert "Rating" not in {f["name"] for f in sf.Account.describe()["fields"]}
        with pytest.raises(SalesforceMalformedRequest) as raised:
            sf.query("SELECT Id, Rating FROM Account")
        assert raised.value.content[0]["errorCode"] == "INVALID_FIELD"
    finally:
        control(simulator, "PUT", "/orgs/default/sobjects/Account/fields/Rating/visibility",
                {"visible": True})


def test_limits_and_the_api_usage_header_agree(sf):
    limits = sf.limits()
    daily = limits["DailyApiRequests"]
    assert daily["Max"] == 100000
    assert 0 < daily["Remaining"] < daily["Max"]
    sf.query("SELECT Id FROM Account LIMIT 1")
    usage = sf.api_usage["api-usage"]
    assert usage.total == 100000
    assert usage.used == daily["Max"] - daily["Remaining"] + 1


def test_errors_map_to_the_clients_own_exceptions(sf, simulator):
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.query("SELECT Id FROM Account WHERE")
    assert raised.value.content[0]["errorCode"] == "MALFORMED_QUERY"

    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.query("SELECT Id FROM Nope__c")
    assert raised.value.content[0]["errorCode"] == "INVALID_TYPE"

    with pytest.raises(SalesforceResourceNotFound):
        sf.Account.get("001000000000000AAA")

    control(simulator, "POST", "/orgs/default/faults", {"kind": "expire_sessions"})
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT Id FROM Account LIMIT 1")


def test_bulk2_query_returns_every_row_as_csv(sf):
    results = sf.bulk2.Contact.query("SELECT Id, LastName FROM Contact", max_records=20)
    rows = [line for chunk in results for line in chunk.splitlines()[1:] if line]
    assert len(rows) == sf.query("SELECT COUNT() FROM Contact")["totalSize"]


def test_records_created_updated_and_deleted_through_the_client_show_in_queries(sf):
    created = sf.Account.create({"Name": "Conformance Co", "Industry": "Energy"})
    assert created["success"] is True
    account_id = created["id"]
    contact = sf.Contact.create({"LastName": "Ng", "AccountId": account_id})

    assert sf.Account.update(account_id, {"Industry": "Banking"}) == 204
    fetched = sf.Account.get(account_id)
    assert (fetched["Name"], fetched["Industry"]) == ("Conformance Co", "Banking")
    children = sf.query(f"SELECT Id FROM Contact WHERE AccountId = '{account_id}'")
    assert [r["Id"] for r in children["records"]] == [contact["id"]]

    assert sf.Account.delete(account_id) == 204
    with pytest.raises(SalesforceResourceNotFound):
        sf.Account.get(account_id)
    binned = sf.query_all(f"SELECT Id, IsDeleted FROM Account WHERE Id = '{account_id}'",
                          include_deleted=True)
    assert binned["records"][0]["IsDeleted"] is True
    with pytest.raises(SalesforceResourceNotFound) as raised:
        sf.Account.delete(account_id)
    assert raised.value.content[0]["errorCode"] == "ENTITY_IS_DELETED"


def test_a_write_the_user_may_not_make_raises_the_clients_exception(sf, simulator):
    control(simulator, "PUT", "/orgs/default/sobjects/Account/fields/Rating/visibility",
            {"visible": False})
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.Account.create({"Name": "Hidden Co", "Rating": "Hot"})
    assert raised.value.content[0]["errorCode"] == "INVALID_FIELD"
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.Contact.create({"FirstName": "No Last Name"})
    assert raised.value.content[0]["errorCode"] == "REQUIRED_FIELD_MISSING"


def test_metadata_is_the_objects_describe_global_entry(sf):
    metadata = sf.Opportunity.metadata()
    assert metadata["objectDescribe"]["name"] == "Opportunity"
    assert metadata["objectDescribe"]["keyPrefix"] == "006"


def test_composite_through_restful_links_a_new_contact_to_a_new_account(sf):
    version = sf.sf_version
    reply = sf.restful("composite", method="POST", data=json.dumps({"compositeRequest": [
        {"method": "POST", "url": f"/services/data/v{version}/sobjects/Account",
         "referenceId": "account", "body": {"Name": "Composite Co"}},
        {"method": "POST", "url": f"/services/data/v{version}/sobjects/Contact",
         "referenceId": "contact", "body": {"LastName": "Ito", "AccountId": "@{account.id}"}},
    ]}))
    statuses = [r["httpStatusCode"] for r in reply["compositeResponse"]]
    assert statuses == [201, 201]
    account_id = reply["compositeResponse"][0]["body"]["id"]
    contact = sf.Contact.get(reply["compositeResponse"][1]["body"]["id"])
    assert contact["AccountId"] == account_id


def test_bulk_v1_query_returns_every_row_and_fails_a_bad_query(sf):
    rows = sf.bulk.Contact.query("SELECT Id, LastName, Account.Name FROM Contact",
                                 lazy_operation=False)
    assert len(rows) == sf.query("SELECT COUNT() FROM Contact")["totalSize"]
    assert rows[0]["attributes"]["type"] == "Contact"
    assert "Name" in rows[0]["Account"]
    with pytest.raises(Exception) as raised:
        sf.bulk.Account.query("SELECT Nope__c FROM Account", lazy_operation=False)
    assert "INVALID_FIELD" in str(raised.value)
