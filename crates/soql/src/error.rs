//! The *SOQL error*: Salesforce's `errorCode` plus its `message`, worded and positioned the
//! way the real API words them.
//!
//! Parse and name errors carry an excerpt of the query with a caret, as in
//! `"\nSELECT Id, Foo__c FROM Account\n           ^\nERROR at Row:1:Column:12\nNo such column ..."`
//! (salesforce-api.md §2.12). The excerpt is not the whole line: real messages show about
//! 30 characters before the error and 35 after, widened to whole words. That window was
//! inferred from five real messages (Mautic #13406, a Salesforce CLI session, Mule
//! templates, an OCE sync log and a Stack Exchange question), all of which it reproduces.

use std::fmt;

/// Characters of context Salesforce shows before the error column.
const CONTEXT_BEFORE: usize = 30;
/// Characters of context Salesforce shows from the error column on.
const CONTEXT_AFTER: usize = 34;

/// Salesforce's `errorCode` for a rejected query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// `MALFORMED_QUERY`: syntax, or a construct the simulator does not support.
    MalformedQuery,
    /// `INVALID_FIELD`: unknown or hidden field, or a field used where it cannot be.
    InvalidField,
    /// `INVALID_TYPE`: unknown or hidden object.
    InvalidType,
    /// `NUMBER_OUTSIDE_VALID_RANGE`: `OFFSET` above 2,000.
    NumberOutsideValidRange,
    /// `INVALID_QUERY_FILTER_OPERATOR`: a filter value the field cannot take (a malformed
    /// Id) or an operator the field type does not allow.
    InvalidQueryFilterOperator,
}

impl ErrorCode {
    /// The code as Salesforce spells it in the `errorCode` JSON field.
    pub fn as_str(&self) -> &'static str {
        match self {
            ErrorCode::MalformedQuery => "MALFORMED_QUERY",
            ErrorCode::InvalidField => "INVALID_FIELD",
            ErrorCode::InvalidType => "INVALID_TYPE",
            ErrorCode::NumberOutsideValidRange => "NUMBER_OUTSIDE_VALID_RANGE",
            ErrorCode::InvalidQueryFilterOperator => "INVALID_QUERY_FILTER_OPERATOR",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A query Salesforce would reject, with the code and message it would send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct SoqlError {
    /// The `errorCode`.
    pub code: ErrorCode,
    /// The `message`, excerpt and caret included where Salesforce includes them.
    pub message: String,
}

impl SoqlError {
    /// An error whose message carries no position.
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// An error positioned at byte `offset` of `source`, as the parser and binder report.
    pub(crate) fn at(code: ErrorCode, source: &str, offset: usize, message: &str) -> Self {
        let spot = Spot::locate(source, offset);
        let block = spot.block(spot.col0, spot.col0 + 1);
        Self::new(code, format!("{block}{message}"))
    }

    /// A lexer error at byte `offset`. Salesforce's lexer reports the 0-based column, prints
    /// the same number after `Column:` and so draws the caret one character early
    /// (`"ERROR at Row:1:Column:75\nline 1:75 no viable alternative at character '<EOF>'"`).
    pub(crate) fn lexical(source: &str, offset: usize, detail: &str) -> Self {
        let spot = Spot::locate(source, offset);
        let block = spot.block(spot.col0.saturating_sub(1), spot.col0);
        let message = format!("{block}line {}:{} {detail}", spot.row, spot.col0);
        Self::new(ErrorCode::MalformedQuery, message)
    }
}

/// Where an error sits: its row, its 0-based column and the text of its line.
struct Spot {
    row: usize,
    col0: usize,
    line: Vec<char>,
}

impl Spot {
    fn locate(source: &str, offset: usize) -> Self {
        let mut offset = offset.min(source.len());
        while !source.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &source[..offset];
        let line_start = before.rfind('\n').map_or(0, |at| at + 1);
        let line_end = source[offset..]
            .find('\n')
            .map_or(source.len(), |at| offset + at);
        let line = source[line_start..line_end].trim_end_matches('\r');
        Self {
            row: before.matches('\n').count() + 1,
            col0: source[line_start..offset].chars().count(),
            line: line.chars().collect(),
        }
    }

    /// `"\n{excerpt}\n{pad}^\nERROR at Row:R:Column:C\n"` with the caret under `caret`.
    fn block(&self, caret: usize, column: usize) -> String {
        let (start, end) = self.window(caret);
        let excerpt: String = self.line[start..end].iter().collect();
        let pad = " ".repeat(caret.saturating_sub(start));
        format!(
            "\n{excerpt}\n{pad}^\nERROR at Row:{}:Column:{column}\n",
            self.row
        )
    }

    /// The excerpt bounds around `caret`, widened so that no word is cut.
    fn window(&self, caret: usize) -> (usize, usize) {
        let line = &self.line;
        let caret = caret.min(line.len());
        let mut start = caret.saturating_sub(CONTEXT_BEFORE);
        while start > 0 && !line[start - 1].is_whitespace() && !line[start].is_whitespace() {
            start -= 1;
        }
        while start < caret && line[start].is_whitespace() {
            start += 1;
        }
        let mut end = (caret + CONTEXT_AFTER).min(line.len());
        while end < line.len() && !line[end - 1].is_whitespace() && !line[end].is_whitespace() {
            end += 1;
        }
        while end > caret + 1 && line[end - 1].is_whitespace() {
            end -= 1;
        }
        (start, end.max(start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_SUCH_COLUMN: &str = "No such column";

    fn caret_block(source: &str, offset: usize) -> String {
        SoqlError::at(ErrorCode::InvalidField, source, offset, NO_SUCH_COLUMN).message
    }

    #[test]
    fn short_queries_are_shown_whole_with_the_caret_under_the_column() {
        let message = caret_block("SELECT Asdf FROM Contact", 7);
        assert_eq!(
            message,
            "\nSELECT Asdf FROM Contact\n       ^\nERROR at Row:1:Column:8\nNo such column"
        );
    }

    #[test]
    fn long_lines_are_cut_at_word_boundaries_like_the_mautic_report() {
        // The real message (salesforce-api.md §2.12) shows exactly this excerpt.
        let source = "select Id, Company,Email,LastName,SF_date__c, ConvertedContactId from \
                      Lead where Id in ('00Q1', '00Q2') and IsConverted = false";
        let message = caret_block(source, 34);
        let expected = "\nselect Id, Company,Email,LastName,SF_date__c, ConvertedContactId from\n";
        assert!(message.starts_with(expected), "{message}");
        assert!(message.contains(&format!(
            "\n{}^\nERROR at Row:1:Column:35\n",
            " ".repeat(34)
        )));
    }

    #[test]
    fn the_window_starts_thirty_characters_back_on_a_word_start() {
        let source = "SELECT Id, Name, Phone, Fax, Website, Industry, Description, Bogus__c \
                      FROM Account";
        let at = source.find("Bogus__c").unwrap();
        let message = caret_block(source, at);
        let excerpt = message.lines().nth(1).unwrap();
        assert_eq!(
            excerpt,
            "Website, Industry, Description, Bogus__c FROM Account"
        );
        let caret = message.lines().nth(2).unwrap();
        assert_eq!(caret.len() - 1, excerpt.find("Bogus__c").unwrap());
    }

    #[test]
    fn errors_on_later_lines_report_their_row_and_show_only_that_line() {
        let source = "SELECT Id\nFROM Contact\nWHERE Nope__c = 1";
        let message = caret_block(source, source.find("Nope__c").unwrap());
        assert!(message.starts_with("\nWHERE Nope__c = 1\n      ^\nERROR at Row:3:Column:7\n"));
    }

    #[test]
    fn lexer_errors_print_the_zero_based_column_twice() {
        let source = "SELECT Id from $casecomment";
        let error = SoqlError::lexical(source, 15, "unexpected token: '$'");
        assert!(
            error
                .message
                .ends_with("ERROR at Row:1:Column:15\nline 1:15 unexpected token: '$'")
        );
        assert!(error.message.contains(&format!("\n{}^\n", " ".repeat(14))));
    }

    #[test]
    fn error_codes_are_spelled_as_salesforce_spells_them() {
        assert_eq!(
            ErrorCode::InvalidQueryFilterOperator.as_str(),
            "INVALID_QUERY_FILTER_OPERATOR"
        );
        assert_eq!(
            SoqlError::new(ErrorCode::InvalidType, "x").to_string(),
            "INVALID_TYPE: x"
        );
    }
}
