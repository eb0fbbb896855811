//! A page's rows as one `jsonb_each` argument in SQLite's binary JSON, JSONB (SQLite 3.45 and
//! later; format at <https://sqlite.org/jsonb.html>).
//!
//! Written as JSON text, every string of a batch is escaped here and parsed again by SQLite,
//! and a snapshot's values, JSON text themselves, are escaped a second time inside the
//! batch. A JSONB string element is a length header and the bytes verbatim, so the batch
//! costs a copy per value and SQLite reads it without parsing.
//!
//! Every element starts with a header: the low four bits give the element's type, the high
//! four bits its payload size, either the size itself (0 to 11) or how many big-endian
//! bytes after this one hold it (12 to 15 for 1, 2, 4 or 8 bytes).

const TRUE: u8 = 1;
const FALSE: u8 = 2;
const INT: u8 = 3;
/// Text stored as it is, which SQLite escapes when it renders JSON and returns unchanged
/// through `->>`.
const TEXT_RAW: u8 = 10;
const ARRAY: u8 = 11;

/// An array of row arrays, built one row at a time.
#[derive(Debug, Default)]
pub(super) struct Rows {
    /// The finished rows, each a whole element.
    rows: Vec<u8>,
    /// The payload of the row being written.
    row: Vec<u8>,
}

impl Rows {
    /// Adds a text value to the current row.
    pub(super) fn text(&mut self, text: &str) -> &mut Self {
        push_element(&mut self.row, TEXT_RAW, text.as_bytes());
        self
    }

    /// Adds a boolean, which `->>` reads as 1 or 0.
    pub(super) fn bool(&mut self, value: bool) -> &mut Self {
        self.row.push(if value { TRUE } else { FALSE });
        self
    }

    /// Adds an integer.
    pub(super) fn int(&mut self, value: i64) -> &mut Self {
        push_element(&mut self.row, INT, value.to_string().as_bytes());
        self
    }

    /// Closes the current row.
    pub(super) fn end_row(&mut self) {
        push_element(&mut self.rows, ARRAY, &self.row);
        self.row.clear();
    }

    /// The whole batch, to bind as a BLOB.
    pub(super) fn finish(self) -> Vec<u8> {
        let mut batch = Vec::with_capacity(self.rows.len() + 9);
        push_element(&mut batch, ARRAY, &self.rows);
        batch
    }
}

/// Appends one element: the smallest header that holds `payload`'s size, then the payload.
fn push_element(out: &mut Vec<u8>, kind: u8, payload: &[u8]) {
    let size = payload.len();
    match size {
        0..=11 => out.push(((size as u8) << 4) | kind),
        12..=0xff => out.extend_from_slice(&[0xc0 | kind, size as u8]),
        0x100..=0xffff => {
            out.push(0xd0 | kind);
            out.extend_from_slice(&(size as u16).to_be_bytes());
        }
        _ => {
            out.push(0xe0 | kind);
            out.extend_from_slice(&(size as u32).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::sqlite::SqlitePoolOptions;

    /// SQLite's own reading of a batch: `json()` renders it back as JSON text.
    async fn rendered(batch: Vec<u8>) -> String {
        let pool = SqlitePoolOptions::new()
            .connect("sqlite::memory:")
            .await
            .unwrap();
        sqlx::query_scalar("SELECT json(?)")
            .bind(batch)
            .fetch_one(&pool)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn sqlite_reads_every_header_width_and_value_kind() {
        let long = "x".repeat(300);
        let very_long = "y".repeat(70_000);
        let mut rows = Rows::default();
        rows.text("a \"quoted\" \\ text")
            .bool(true)
            .int(-42)
            .end_row();
        rows.text("")
            .bool(false)
            .text(&long)
            .text(&very_long)
            .end_row();
        let expected = serde_json::json!([
            ["a \"quoted\" \\ text", true, -42],
            ["", false, long, very_long]
        ]);
        let json: serde_json::Value = serde_json::from_str(&rendered(rows.finish()).await).unwrap();
        assert_eq!(json, expected);
    }

    #[tokio::test]
    async fn jsonb_each_hands_back_text_unescaped_and_booleans_as_integers() {
        let pool = SqlitePoolOptions::new()
            .connect("sqlite::memory:")
            .await
            .unwrap();
        let mut rows = Rows::default();
        rows.text("{\"Name\":\"Ünïcode \\\"x\\\"\"}")
            .bool(true)
            .end_row();
        let (text, flag): (String, i64) =
            sqlx::query_as("SELECT value ->> 0, value ->> 1 FROM jsonb_each(?)")
                .bind(rows.finish())
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(text, "{\"Name\":\"Ünïcode \\\"x\\\"\"}");
        assert_eq!(flag, 1);
    }
}
