//! Deterministic org contents from a seed: realistic names, addresses, pipelines and
//! support queues, with timestamps spread over the past two years and the tie groups that
//! data loads produce (hundreds of records sharing one `SystemModstamp`).

use std::sync::Arc;

use sfsync_soql::Value;

use crate::clock::{Millis, truncate_to_second};
use crate::ids::{IdBytes, id_str, make_id};
use crate::org::{OrgData, Record};
use crate::rng::Rng;
use crate::schema::{CASE_STATUSES, INDUSTRIES, STAGES};

/// How many records of each object to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SeedCounts {
    pub accounts: u64,
    pub contacts: u64,
    pub opportunities: u64,
    pub cases: u64,
    pub invoices: u64,
}

impl Default for SeedCounts {
    fn default() -> Self {
        SeedCounts {
            accounts: 200,
            contacts: 600,
            opportunities: 300,
            cases: 250,
            invoices: 150,
        }
    }
}

const FIRST: &[&str] = &[
    "Ada",
    "Alan",
    "Grace",
    "Linus",
    "Barbara",
    "Ken",
    "Margaret",
    "Dennis",
    "Frances",
    "John",
    "Radia",
    "Tim",
    "Sophie",
    "Edsger",
    "Katherine",
    "Niklaus",
    "Hedy",
    "Donald",
    "Mary",
    "Bjarne",
];
const LAST: &[&str] = &[
    "Lovelace",
    "Turing",
    "Hopper",
    "Torvalds",
    "Liskov",
    "Thompson",
    "Hamilton",
    "Ritchie",
    "Allen",
    "McCarthy",
    "Perlman",
    "Berners-Lee",
    "Wilson",
    "Dijkstra",
    "Johnson",
    "Wirth",
    "Lamarr",
    "Knuth",
    "Shaw",
    "Stroustrup",
    "O'Neil",
    "García",
    "Müller",
    "Nakamura",
];
const COMPANY_A: &[&str] = &[
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Wonka",
    "Tyrell",
    "Cyberdyne",
    "Soylent",
    "Hooli",
    "Vandelay",
    "Aperture",
    "Massive",
    "Oscorp",
    "Nakatomi",
    "Gringotts",
];
const COMPANY_B: &[&str] = &[
    "Industries",
    "Corp",
    "Labs",
    "Systems",
    "Holdings",
    "Partners",
    "Logistics",
    "Foods",
    "Dynamics",
    "Analytics",
    "Robotics",
    "Media",
    "Energy",
    "Health",
    "Bank",
];
const CITIES: &[(&str, &str, &str, &str, f64, f64)] = &[
    ("San Francisco", "CA", "94105", "USA", 37.7897, -122.3972),
    ("New York", "NY", "10001", "USA", 40.7506, -73.9971),
    ("Austin", "TX", "78701", "USA", 30.2711, -97.7437),
    (
        "London",
        "England",
        "EC2V 7HH",
        "United Kingdom",
        51.5155,
        -0.0922,
    ),
    ("Paris", "Île-de-France", "75002", "France", 48.8686, 2.3412),
    ("Berlin", "Berlin", "10117", "Germany", 52.5163, 13.3777),
    ("Tokyo", "Tokyo", "100-0005", "Japan", 35.6812, 139.7671),
    ("Sydney", "NSW", "2000", "Australia", -33.8688, 151.2093),
    ("Toronto", "ON", "M5H 2N2", "Canada", 43.6511, -79.3839),
    ("São Paulo", "SP", "01310-100", "Brazil", -23.5614, -46.6559),
];
const STREETS: &[&str] = &[
    "Market St",
    "Main Street",
    "Broadway",
    "High Street",
    "Rue de Rivoli",
    "Friedrichstraße",
    "King St W",
];
const TITLES: &[&str] = &[
    "CEO",
    "CTO",
    "VP Sales",
    "Head of Data",
    "Procurement Manager",
    "Engineer",
    "Director of Operations",
    "CFO",
];
const SUBJECTS: &[&str] = &[
    "Cannot log in",
    "Invoice amount looks wrong",
    "Request for a demo",
    "Integration returns 500",
    "Shipment delayed",
    "Feature request: export to CSV",
    "Password reset not arriving",
    "Outage in EU region",
];

/// Milliseconds in a day.
const DAY: Millis = 86_400_000;

/// Fills `org` with generated records, all stamped at or before `now`.
pub fn seed(org: &mut OrgData, seed: u64, counts: SeedCounts, now: Millis) {
    let mut rng = Rng::new(seed);
    let mut stamps = StampSource::new(now);
    let users = seed_users(org, &mut rng, now);
    let accounts = seed_accounts(org, &mut rng, &mut stamps, &users, counts.accounts);
    let contacts = seed_contacts(
        org,
        &mut rng,
        &mut stamps,
        &users,
        &accounts,
        counts.contacts,
    );
    seed_opportunities(
        org,
        &mut rng,
        &mut stamps,
        &users,
        &accounts,
        counts.opportunities,
    );
    seed_cases(
        org,
        &mut rng,
        &mut stamps,
        &users,
        &accounts,
        &contacts,
        counts.cases,
    );
    seed_invoices(
        org,
        &mut rng,
        &mut stamps,
        &users,
        &accounts,
        counts.invoices,
        now,
    );
}

/// Hands out (created, modified) stamps: mostly spread over two years, and now and then a
/// "data load" burst in which hundreds of records share one second.
struct StampSource {
    now: Millis,
    burst_left: u32,
    burst_stamp: Millis,
}

impl StampSource {
    fn new(now: Millis) -> Self {
        StampSource {
            now,
            burst_left: 0,
            burst_stamp: 0,
        }
    }

    fn next(&mut self, rng: &mut Rng) -> (Millis, Millis) {
        if self.burst_left == 0 && rng.chance(1) {
            self.burst_left = 200 + rng.below(2400) as u32;
            self.burst_stamp = self.random_past(rng, 700);
        }
        if self.burst_left > 0 {
            self.burst_left -= 1;
            return (self.burst_stamp, self.burst_stamp);
        }
        let created = self.random_past(rng, 730);
        let span = (self.now - created).max(1000) as u64;
        let modified = if rng.chance(60) {
            created + rng.below(span) as Millis
        } else {
            created
        };
        (created, truncate_to_second(modified.min(self.now - 60_000)))
    }

    /// A second within the last `days` days, at least ten minutes ago.
    fn random_past(&self, rng: &mut Rng, days: u64) -> Millis {
        let back = 600_000 + rng.below(days * DAY as u64) as Millis;
        truncate_to_second(self.now - back)
    }
}

/// Builds one seeded record field by field.
struct Builder<'a> {
    org: &'a OrgData,
    table: usize,
    record: Record,
}

/// Reserves the next Id of `object`: (table position, Id).
fn next_id(org: &mut OrgData, object: &str) -> (usize, IdBytes) {
    let table = org.table_index(object).expect("standard object exists");
    let t = &mut org.tables[table];
    let id = make_id(&t.def.key_prefix, &org.pod, t.next_counter);
    t.next_counter += 1;
    (table, id)
}

impl<'a> Builder<'a> {
    fn start(
        org: &'a OrgData,
        table: usize,
        id: IdBytes,
        stamps: (Millis, Millis),
        owner: &Value,
    ) -> Self {
        let width = org.tables[table].def.fields.len();
        let record = Record {
            id,
            values: vec![Value::Null; width].into(),
        };
        let mut b = Builder { org, table, record };
        b.set("Id", Value::Text(Arc::from(id_str(&id))));
        b.set("IsDeleted", Value::Bool(false));
        b.set("OwnerId", owner.clone());
        b.set("CreatedById", owner.clone());
        b.set("LastModifiedById", owner.clone());
        b.set("CreatedDate", Value::DateTime(stamps.0));
        b.set("LastModifiedDate", Value::DateTime(stamps.1));
        b.set("SystemModstamp", Value::DateTime(stamps.1));
        b
    }

    fn set(&mut self, name: &str, value: Value) {
        let def = &self.org.tables[self.table].def;
        if let Some(i) = def.fields.iter().position(|f| f.name == name) {
            self.record.values[i] = value;
        }
    }

    fn text(&mut self, name: &str, text: impl Into<Arc<str>>) {
        self.set(name, Value::Text(text.into()));
    }

    /// A picklist value shared with the definition, so it costs no memory per record.
    fn pick(&mut self, name: &str, rng: &mut Rng) {
        let def = &self.org.tables[self.table].def;
        if let Some(f) = def.fields.iter().find(|f| f.name == name) {
            let value = rng.pick(&f.picklist).clone();
            self.set(name, Value::Text(value));
        }
    }

    fn finish(self) -> (usize, Record) {
        (self.table, self.record)
    }
}

fn add(org: &mut OrgData, built: (usize, Record)) {
    org.insert_seeded(built.0, built.1);
}

fn text_id(id: &IdBytes) -> Value {
    Value::Text(Arc::from(id_str(id)))
}

fn seed_users(org: &mut OrgData, rng: &mut Rng, now: Millis) -> Vec<Value> {
    let mut users = Vec::new();
    for i in 0..5 {
        let (table, id) = next_id(org, "User");
        let first = FIRST[i];
        let last = LAST[(i * 7) % LAST.len()];
        let stamps = (now - 900 * DAY, now - 800 * DAY);
        let mut b = Builder::start(org, table, id, stamps, &text_id(&id));
        let username = format!("{}.{}@example.com", first.to_lowercase(), i);
        b.text("Username", username.clone());
        b.text("FirstName", first);
        b.text("LastName", last);
        b.text("Email", username);
        b.set("IsActive", Value::Bool(true));
        let built = b.finish();
        add(org, built);
        users.push(text_id(&id));
        let _ = rng.next_u64();
    }
    users
}

fn company(rng: &mut Rng) -> String {
    format!("{} {}", rng.pick(COMPANY_A), rng.pick(COMPANY_B))
}

fn seed_accounts(
    org: &mut OrgData,
    rng: &mut Rng,
    stamps: &mut StampSource,
    users: &[Value],
    n: u64,
) -> Vec<Value> {
    let mut ids: Vec<Value> = Vec::with_capacity(n as usize);
    for i in 0..n {
        let (table, id) = next_id(org, "Account");
        let mut b = Builder::start(org, table, id, stamps.next(rng), rng.pick(users));
        let (city, state, zip, country, lat, lon) = *rng.pick(CITIES);
        b.text("Name", format!("{} {}", company(rng), i + 1));
        b.pick("Type", rng);
        b.text(
            "BillingStreet",
            format!("{} {}", 1 + rng.below(999), rng.pick(STREETS)),
        );
        b.text("BillingCity", city);
        b.text("BillingState", state);
        b.text("BillingPostalCode", zip);
        b.text("BillingCountry", country);
        if rng.chance(70) {
            b.set("BillingLatitude", Value::Double(lat));
            b.set("BillingLongitude", Value::Double(lon));
            b.pick("BillingGeocodeAccuracy", rng);
        }
        b.text("Phone", format!("+1 415 555 {:04}", rng.below(10_000)));
        b.text("Website", format!("https://www.example-{}.com", i + 1));
        b.text("Industry", *rng.pick(INDUSTRIES));
        b.pick("Industry", rng);
        b.set(
            "AnnualRevenue",
            Value::Double((rng.below(5000) * 100_000) as f64),
        );
        b.set(
            "NumberOfEmployees",
            Value::Int(1 + rng.below(50_000) as i64),
        );
        b.pick("Rating", rng);
        b.pick("AccountSource", rng);
        b.pick("Tier__c", rng);
        if rng.chance(20) {
            b.text("Description", "Key account; renewals handled by the enterprise team.\nQuarterly business review in progress.");
        }
        if i > 10 && rng.chance(10) {
            b.set(
                "ParentId",
                ids[rng.below(ids.len() as u64) as usize].clone(),
            );
        }
        let built = b.finish();
        add(org, built);
        ids.push(text_id(&id));
    }
    ids
}

fn seed_contacts(
    org: &mut OrgData,
    rng: &mut Rng,
    stamps: &mut StampSource,
    users: &[Value],
    accounts: &[Value],
    n: u64,
) -> Vec<Value> {
    let mut ids: Vec<Value> = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let (table, id) = next_id(org, "Contact");
        let mut b = Builder::start(org, table, id, stamps.next(rng), rng.pick(users));
        let first = *rng.pick(FIRST);
        let last = *rng.pick(LAST);
        if !accounts.is_empty() && rng.chance(95) {
            b.set("AccountId", rng.pick(accounts).clone());
        }
        b.text("FirstName", first);
        b.text("LastName", last);
        b.pick("Salutation", rng);
        let (city, state, zip, country, _, _) = *rng.pick(CITIES);
        b.text("MailingCity", city);
        b.text("MailingState", state);
        b.text("MailingPostalCode", zip);
        b.text("MailingCountry", country);
        b.text(
            "Email",
            format!(
                "{}.{}{}@example.org",
                first.to_lowercase(),
                rng.below(10_000),
                ""
            )
            .replace('\'', ""),
        );
        b.text("Title", *rng.pick(TITLES));
        b.pick("LeadSource", rng);
        b.set("HasOptedOutOfEmail", Value::Bool(rng.chance(10)));
        if rng.chance(40) {
            b.set("Birthdate", Value::Date(-5000 + rng.below(12_000) as i32));
        }
        let built = b.finish();
        add(org, built);
        ids.push(text_id(&id));
    }
    ids
}

fn seed_opportunities(
    org: &mut OrgData,
    rng: &mut Rng,
    stamps: &mut StampSource,
    users: &[Value],
    accounts: &[Value],
    n: u64,
) {
    for i in 0..n {
        let (table, id) = next_id(org, "Opportunity");
        let stamp = stamps.next(rng);
        let mut b = Builder::start(org, table, id, stamp, rng.pick(users));
        if !accounts.is_empty() {
            b.set("AccountId", rng.pick(accounts).clone());
        }
        b.text(
            "Name",
            format!("{} - {} seats", company(rng), 5 + rng.below(500)),
        );
        b.text(
            "StageName",
            STAGES[rng.below(STAGES.len() as u64) as usize].0,
        );
        b.set(
            "Amount",
            Value::Double((rng.below(2_000) * 250) as f64 + 0.5 * (i % 2) as f64),
        );
        b.set(
            "CloseDate",
            Value::Date((stamp.0 / DAY) as i32 + rng.below(180) as i32),
        );
        b.pick("Type", rng);
        b.pick("LeadSource", rng);
        if rng.chance(50) {
            b.text("NextStep", "Send revised quote");
        }
        let built = b.finish();
        add(org, built);
    }
}

#[allow(clippy::too_many_arguments)]
fn seed_cases(
    org: &mut OrgData,
    rng: &mut Rng,
    stamps: &mut StampSource,
    users: &[Value],
    accounts: &[Value],
    contacts: &[Value],
    n: u64,
) {
    for _ in 0..n {
        let (table, id) = next_id(org, "Case");
        let mut b = Builder::start(org, table, id, stamps.next(rng), rng.pick(users));
        if !contacts.is_empty() {
            b.set("ContactId", rng.pick(contacts).clone());
        }
        if !accounts.is_empty() {
            b.set("AccountId", rng.pick(accounts).clone());
        }
        b.text("Subject", *rng.pick(SUBJECTS));
        b.text("Status", *rng.pick(CASE_STATUSES));
        b.pick("Priority", rng);
        b.pick("Origin", rng);
        b.pick("Reason", rng);
        b.pick("Type", rng);
        b.set("IsEscalated", Value::Bool(rng.chance(5)));
        let built = b.finish();
        add(org, built);
    }
}

fn seed_invoices(
    org: &mut OrgData,
    rng: &mut Rng,
    stamps: &mut StampSource,
    users: &[Value],
    accounts: &[Value],
    n: u64,
    now: Millis,
) {
    for _ in 0..n {
        let (table, id) = next_id(org, "Invoice__c");
        let stamp = stamps.next(rng);
        let mut b = Builder::start(org, table, id, stamp, rng.pick(users));
        if !accounts.is_empty() {
            b.set("Account__c", rng.pick(accounts).clone());
        }
        b.set(
            "Amount__c",
            Value::Double((rng.below(100_000) as f64) / 4.0),
        );
        let due = (stamp.0 / DAY) as i32 + 30;
        b.set("Due_Date__c", Value::Date(due));
        let paid = (due as Millis * DAY) < now && rng.chance(70);
        b.pick("Status__c", rng);
        if paid {
            b.text("Status__c", "Paid");
            b.set("Paid_Date__c", Value::Date(due - rng.below(20) as i32));
        }
        let built = b.finish();
        add(org, built);
    }
}
