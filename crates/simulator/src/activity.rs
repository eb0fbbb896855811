//! Background activity (`--activity PER_MIN`): the changes a live org sees all day: deals
//! move through stages, cases escalate and close, contacts arrive and change jobs, invoices
//! get paid, and now and then a record is deleted.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value as Json, json};
use sfsync_soql::Value;

use crate::ids::id_str;
use crate::org::OrgData;
use crate::rng::Rng;
use crate::schema::{CASE_STATUSES, STAGES};
use crate::state::SimState;

/// Makes `per_minute` changes a minute in every org until the simulator stops.
pub async fn run(sim: Arc<SimState>, per_minute: u32, seed: u64) {
    let mut rng = Rng::new(seed ^ 0xAC71_417E);
    let period = Duration::from_millis(60_000 / u64::from(per_minute.max(1)));
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let orgs: Vec<_> = sim.orgs.read().expect("orgs").clone();
        for org in orgs {
            let stamp = sim.clock.now_stamp();
            let mut data = org.data.write().expect("org");
            // A change that fails (a record deleted meanwhile) is simply skipped.
            let _ = change_one(&mut data, &mut rng, stamp);
        }
    }
}

fn change_one(data: &mut OrgData, rng: &mut Rng, stamp: i64) -> Result<(), crate::error::SimError> {
    match rng.below(100) {
        0..=34 => move_stage(data, rng, stamp),
        35..=54 => touch_case(data, rng, stamp),
        55..=69 => new_contact(data, rng, stamp),
        70..=84 => update_field(
            data,
            rng,
            stamp,
            "Contact",
            "Title",
            json!(
                *rng.clone()
                    .pick(&["VP Sales", "CTO", "Head of Data", "Director"])
            ),
        ),
        85..=94 => update_field(data, rng, stamp, "Invoice__c", "Status__c", json!("Paid")),
        _ => delete_one(data, rng, stamp),
    }
}

fn random_live(data: &OrgData, rng: &mut Rng, object: &str) -> Option<String> {
    let table = data.table(object).ok()?;
    let n = table.rows.len() as u64;
    if n == 0 {
        return None;
    }
    let start = rng.below(n) as usize;
    let record = table
        .rows
        .values()
        .skip(start)
        .chain(table.rows.values())
        .find(|r| !table.is_deleted(r))?;
    Some(id_str(&record.id).to_string())
}

fn text_of(data: &OrgData, object: &str, id: &str, field: &str) -> Option<String> {
    let table = data.table(object).ok()?;
    let record = table.rows.get(&crate::ids::parse_id(id)?)?;
    match record.get(table.def.any_field_index(field)?) {
        Value::Text(t) => Some(t.to_string()),
        _ => None,
    }
}

fn fields(pairs: &[(&str, Json)]) -> Map<String, Json> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn move_stage(data: &mut OrgData, rng: &mut Rng, stamp: i64) -> Result<(), crate::error::SimError> {
    let Some(id) = random_live(data, rng, "Opportunity") else {
        return Ok(());
    };
    let current = text_of(data, "Opportunity", &id, "StageName").unwrap_or_default();
    let position = STAGES.iter().position(|(s, _)| *s == current).unwrap_or(0);
    let next = if current.starts_with("Closed") {
        0
    } else if rng.chance(15) {
        9
    } else {
        (position + 1).min(8)
    };
    data.update(
        "Opportunity",
        &id,
        &fields(&[("StageName", json!(STAGES[next].0))]),
        stamp,
    )
}

fn touch_case(data: &mut OrgData, rng: &mut Rng, stamp: i64) -> Result<(), crate::error::SimError> {
    let Some(id) = random_live(data, rng, "Case") else {
        return Ok(());
    };
    let status = *rng.pick(CASE_STATUSES);
    let escalated = status == "Escalated";
    data.update(
        "Case",
        &id,
        &fields(&[("Status", json!(status)), ("IsEscalated", json!(escalated))]),
        stamp,
    )
}

fn new_contact(
    data: &mut OrgData,
    rng: &mut Rng,
    stamp: i64,
) -> Result<(), crate::error::SimError> {
    let account = random_live(data, rng, "Account");
    let last = *rng.pick(&["Nguyen", "Okafor", "Schmidt", "Rossi", "Kowalski", "Tanaka"]);
    let mut values = fields(&[
        ("LastName", json!(last)),
        ("FirstName", json!("Sam")),
        (
            "Email",
            json!(format!("sam.{}@example.net", rng.below(100_000))),
        ),
    ]);
    if let Some(account) = account {
        values.insert("AccountId".into(), json!(account));
    }
    data.create("Contact", &values, stamp).map(|_| ())
}

fn update_field(
    data: &mut OrgData,
    rng: &mut Rng,
    stamp: i64,
    object: &str,
    field: &str,
    value: Json,
) -> Result<(), crate::error::SimError> {
    let Some(id) = random_live(data, rng, object) else {
        return Ok(());
    };
    data.update(object, &id, &fields(&[(field, value)]), stamp)
}

fn delete_one(data: &mut OrgData, rng: &mut Rng, stamp: i64) -> Result<(), crate::error::SimError> {
    let Some(id) = random_live(data, rng, "Contact") else {
        return Ok(());
    };
    data.delete("Contact", &id, stamp)
}
