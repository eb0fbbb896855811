//! The lexer: query text in, *tokens* (kind plus byte span) out.
//!
//! Keywords are not separate kinds: SOQL keywords are case-insensitive and several double
//! as names (`Order` is an object), so the parser decides from context. Literals are
//! checked here, because Salesforce reports a bad date or a bad escape before any grammar
//! error ("Invalid datetime: ...", "Illegal character sequence ...").

use crate::ast::CmpOp;
use crate::datetime::{parse_date_literal, parse_datetime_literal};
use crate::error::{ErrorCode, SoqlError};

/// What a token is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TokenKind {
    /// A name or keyword.
    Ident,
    /// A decimal number, possibly negative.
    Number,
    /// A quoted string, escapes decoded.
    Str(String),
    /// An unquoted date, as days since the epoch.
    Date(i32),
    /// An unquoted date-time, as epoch milliseconds.
    DateTime(i64),
    Comma,
    Dot,
    LParen,
    RParen,
    Colon,
    Op(CmpOp),
    Eof,
}

/// One token and where it sits in the source (byte offsets, end exclusive).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub start: usize,
    pub end: usize,
}

/// Splits `source` into tokens, ending with [`TokenKind::Eof`].
pub(crate) fn lex(source: &str) -> Result<Vec<Token>, SoqlError> {
    let mut lexer = Lexer {
        source,
        bytes: source.as_bytes(),
        pos: 0,
    };
    let mut tokens = Vec::new();
    loop {
        lexer.skip_whitespace();
        let token = lexer.next_token()?;
        let done = token.kind == TokenKind::Eof;
        tokens.push(token);
        if done {
            return Ok(tokens);
        }
    }
}

struct Lexer<'a> {
    source: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl Lexer<'_> {
    fn skip_whitespace(&mut self) {
        while self
            .bytes
            .get(self.pos)
            .is_some_and(u8::is_ascii_whitespace)
        {
            self.pos += 1;
        }
    }

    fn peek(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.pos + ahead).copied()
    }

    fn next_token(&mut self) -> Result<Token, SoqlError> {
        let start = self.pos;
        let Some(byte) = self.peek(0) else {
            return Ok(self.token(TokenKind::Eof, start));
        };
        match byte {
            b'\'' => self.string(),
            b'0'..=b'9' if self.starts_date() => self.date(),
            b'0'..=b'9' => Ok(self.number()),
            b'-' if self.peek(1).is_some_and(|b| b.is_ascii_digit()) => {
                self.pos += 1;
                let mut token = self.number();
                token.start = start;
                Ok(token)
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => Ok(self.ident()),
            _ => self.punctuation(byte),
        }
    }

    fn token(&self, kind: TokenKind, start: usize) -> Token {
        Token {
            kind,
            start,
            end: self.pos,
        }
    }

    fn punctuation(&mut self, byte: u8) -> Result<Token, SoqlError> {
        let start = self.pos;
        let (kind, width) = match (byte, self.peek(1)) {
            (b',', _) => (TokenKind::Comma, 1),
            (b'.', _) => (TokenKind::Dot, 1),
            (b'(', _) => (TokenKind::LParen, 1),
            (b')', _) => (TokenKind::RParen, 1),
            (b':', _) => (TokenKind::Colon, 1),
            (b'=', _) => (TokenKind::Op(CmpOp::Eq), 1),
            (b'!', Some(b'=')) | (b'<', Some(b'>')) => (TokenKind::Op(CmpOp::Ne), 2),
            (b'<', Some(b'=')) => (TokenKind::Op(CmpOp::Le), 2),
            (b'>', Some(b'=')) => (TokenKind::Op(CmpOp::Ge), 2),
            (b'<', _) => (TokenKind::Op(CmpOp::Lt), 1),
            (b'>', _) => (TokenKind::Op(CmpOp::Gt), 1),
            _ => return Err(self.unknown_character()),
        };
        self.pos += width;
        Ok(self.token(kind, start))
    }

    fn unknown_character(&self) -> SoqlError {
        let character = self.source[self.pos..].chars().next().unwrap_or(' ');
        let detail = format!("unexpected token: '{character}'");
        SoqlError::lexical(self.source, self.pos, &detail)
    }

    fn ident(&mut self) -> Token {
        let start = self.pos;
        while self
            .peek(0)
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            self.pos += 1;
        }
        self.token(TokenKind::Ident, start)
    }

    fn number(&mut self) -> Token {
        let start = self.pos;
        self.skip_digits();
        if self.peek(0) == Some(b'.') && self.peek(1).is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
            self.skip_digits();
        }
        self.token(TokenKind::Number, start)
    }

    fn skip_digits(&mut self) {
        while self.peek(0).is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
    }

    /// Four digits and a dash begin a date or date-time, never a number.
    fn starts_date(&self) -> bool {
        (0..4).all(|ahead| self.peek(ahead).is_some_and(|b| b.is_ascii_digit()))
            && self.peek(4) == Some(b'-')
    }

    /// A date or date-time: everything up to the next delimiter, then validated whole, so
    /// that `2020-12-12t12:12:00-25:00` fails as one literal ("Invalid datetime: ...").
    fn date(&mut self) -> Result<Token, SoqlError> {
        let start = self.pos;
        while self
            .peek(0)
            .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'.' | b'+' | b'-'))
        {
            self.pos += 1;
        }
        let text = &self.source[start..self.pos];
        let is_datetime = text.contains(['T', 't']);
        let kind = if is_datetime {
            parse_datetime_literal(text).map(TokenKind::DateTime)
        } else {
            parse_date_literal(text).map(TokenKind::Date)
        };
        let noun = if is_datetime { "datetime" } else { "date" };
        kind.map(|kind| self.token(kind, start)).ok_or_else(|| {
            let message = format!("Invalid {noun}: {text}");
            SoqlError::at(ErrorCode::MalformedQuery, self.source, start, &message)
        })
    }

    fn string(&mut self) -> Result<Token, SoqlError> {
        let start = self.pos;
        self.pos += 1;
        let body_start = self.pos;
        let mut value = String::new();
        let mut bad_escape = None;
        loop {
            let Some(character) = self.source[self.pos..].chars().next() else {
                let detail = "mismatched character '<EOF>' expecting '''";
                return Err(SoqlError::lexical(self.source, self.pos, detail));
            };
            self.pos += character.len_utf8();
            match character {
                '\'' => break,
                '\\' => self.escape(&mut value, &mut bad_escape),
                _ => value.push(character),
            }
        }
        match bad_escape {
            None => Ok(self.token(TokenKind::Str(value), start)),
            Some(sequence) => {
                let body = &self.source[body_start..self.pos - 1];
                let message = format!(
                    "Invalid string literal '{body}'. Illegal character sequence '\\{sequence}' \
                     in string literal."
                );
                Err(SoqlError::at(
                    ErrorCode::MalformedQuery,
                    self.source,
                    start,
                    &message,
                ))
            }
        }
    }

    /// Decodes the character after a backslash; remembers the first illegal one, but keeps
    /// scanning so that the message can quote the whole literal as Salesforce does.
    fn escape(&mut self, value: &mut String, bad_escape: &mut Option<char>) {
        let Some(character) = self.source[self.pos..].chars().next() else {
            return;
        };
        self.pos += character.len_utf8();
        match decode_escape(character) {
            Some(decoded) => value.push(decoded),
            None => {
                bad_escape.get_or_insert(character);
            }
        }
    }
}

/// The character a SOQL escape sequence stands for. SOQL allows exactly these
/// (SOQL reference, "Quoted String Escape Sequences"): `\n \r \t \b \f \" \' \\` (letters
/// in either case) and `\_ \%`, which outside `LIKE` mean the plain character.
pub(crate) fn decode_escape(character: char) -> Option<char> {
    Some(match character {
        'n' | 'N' => '\n',
        'r' | 'R' => '\r',
        't' | 'T' => '\t',
        'b' | 'B' => '\u{8}',
        'f' | 'F' => '\u{c}',
        '"' | '\'' | '\\' | '_' | '%' => character,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(source: &str) -> Vec<TokenKind> {
        lex(source)
            .unwrap()
            .into_iter()
            .map(|token| token.kind)
            .collect()
    }

    #[test]
    fn operators_and_punctuation_become_single_tokens() {
        use TokenKind::*;
        assert_eq!(
            kinds("a<=b<>c!=d>=e<f>g=h,(.):"),
            vec![
                Ident,
                Op(CmpOp::Le),
                Ident,
                Op(CmpOp::Ne),
                Ident,
                Op(CmpOp::Ne),
                Ident,
                Op(CmpOp::Ge),
                Ident,
                Op(CmpOp::Lt),
                Ident,
                Op(CmpOp::Gt),
                Ident,
                Op(CmpOp::Eq),
                Ident,
                Comma,
                LParen,
                Dot,
                RParen,
                Colon,
                Eof
            ]
        );
    }

    #[test]
    fn strings_decode_every_documented_escape() {
        let tokens = lex(r#"'O\'Brien \"q\" \\ \n\t\r\b\f \_\% \N'"#).unwrap();
        assert_eq!(
            tokens[0].kind,
            TokenKind::Str("O'Brien \"q\" \\ \n\t\r\u{8}\u{c} _% \n".to_string())
        );
    }

    #[test]
    fn an_illegal_escape_quotes_the_literal_like_salesforce() {
        let error = lex(r"SELECT Id FROM A WHERE Name = 'ab\dc'").unwrap_err();
        assert_eq!(error.code, ErrorCode::MalformedQuery);
        assert!(error.message.ends_with(
            r"Invalid string literal 'ab\dc'. Illegal character sequence '\d' in string literal."
        ));
    }

    #[test]
    fn an_unterminated_string_is_a_lexer_error_at_the_end() {
        let error = lex("WHERE Name = 'abc").unwrap_err();
        assert!(
            error
                .message
                .ends_with("line 1:17 mismatched character '<EOF>' expecting '''")
        );
    }

    #[test]
    fn dates_datetimes_and_negative_numbers_are_recognised() {
        let tokens = lex("2024-01-31 2024-01-31T10:00:00Z -12.5 7").unwrap();
        assert_eq!(tokens[0].kind, TokenKind::Date(19_753));
        assert_eq!(tokens[1].kind, TokenKind::DateTime(1_706_695_200_000));
        assert_eq!(
            (tokens[2].kind.clone(), tokens[2].start, tokens[2].end),
            (TokenKind::Number, 32, 37)
        );
        assert_eq!(tokens[3].kind, TokenKind::Number);
    }

    #[test]
    fn impossible_datetimes_use_the_current_salesforce_wording() {
        let error = lex("X > 2020-12-12t12:12:00-25:00").unwrap_err();
        assert!(
            error
                .message
                .ends_with("Invalid datetime: 2020-12-12t12:12:00-25:00")
        );
        let error = lex("X > 2020-02-30").unwrap_err();
        assert!(error.message.ends_with("Invalid date: 2020-02-30"));
    }

    #[test]
    fn unknown_characters_are_reported_with_the_lexer_position() {
        let error = lex("SELECT Id from $casecomment").unwrap_err();
        assert!(error.message.ends_with("line 1:15 unexpected token: '$'"));
    }
}
