//! The parser: tokens in, [`Query`] out, by recursive descent.
//!
//! Every error here is `MALFORMED_QUERY`, worded as Salesforce words it
//! ("unexpected token: 'FROM'") with the query excerpt and caret. Constructs outside the
//! simulator's subset (subqueries, `GROUP BY`, other functions) fail with a message that
//! says so instead of pretending to be a syntax error.

use crate::ast::*;
use crate::error::{ErrorCode, SoqlError};
use crate::lexer::{Token, TokenKind, lex};

/// SOQL's reserved words (SOQL reference, "Reserved Characters and Words"): they can never
/// be a field or object name, so `SELECT Id, FROM Account` fails at `FROM`.
const RESERVED: &[&str] = &[
    "AND", "ASC", "DESC", "EXCLUDES", "FIRST", "FROM", "GROUP", "HAVING", "IN", "INCLUDES", "LAST",
    "LIKE", "LIMIT", "NOT", "NULL", "NULLS", "OR", "SELECT", "WHERE", "WITH",
];

/// Clauses that may follow `FROM` in real SOQL but that this simulator does not evaluate.
const UNSUPPORTED_CLAUSES: &[(&str, &str)] = &[
    ("WITH", "WITH clauses are"),
    ("GROUP", "GROUP BY clauses are"),
    ("HAVING", "HAVING clauses are"),
    ("USING", "USING SCOPE clauses are"),
    ("FOR", "FOR VIEW, FOR REFERENCE and FOR UPDATE clauses are"),
];

/// Relative date literals that exist in SOQL but that this simulator does not evaluate.
const UNSUPPORTED_DATE_LITERALS: &[&str] = &[
    "LAST_WEEK",
    "THIS_WEEK",
    "NEXT_WEEK",
    "LAST_MONTH",
    "THIS_MONTH",
    "NEXT_MONTH",
    "LAST_QUARTER",
    "THIS_QUARTER",
    "NEXT_QUARTER",
    "LAST_YEAR",
    "THIS_YEAR",
    "NEXT_YEAR",
    "THIS_FISCAL_QUARTER",
    "LAST_FISCAL_QUARTER",
    "NEXT_FISCAL_QUARTER",
    "THIS_FISCAL_YEAR",
    "LAST_FISCAL_YEAR",
    "NEXT_FISCAL_YEAR",
    "N_DAYS_AGO",
    "LAST_N_WEEKS",
    "NEXT_N_WEEKS",
    "N_WEEKS_AGO",
    "LAST_N_MONTHS",
    "NEXT_N_MONTHS",
    "N_MONTHS_AGO",
    "LAST_N_QUARTERS",
    "NEXT_N_QUARTERS",
    "N_QUARTERS_AGO",
    "LAST_N_YEARS",
    "NEXT_N_YEARS",
    "N_YEARS_AGO",
    "LAST_N_FISCAL_QUARTERS",
    "NEXT_N_FISCAL_QUARTERS",
    "N_FISCAL_QUARTERS_AGO",
    "LAST_N_FISCAL_YEARS",
    "NEXT_N_FISCAL_YEARS",
    "N_FISCAL_YEARS_AGO",
];

/// How deeply `WHERE` may nest parentheses and `NOT`s before the simulator refuses; a
/// bound keeps hostile input from exhausting the stack.
const MAX_DEPTH: usize = 64;

/// Parses `soql` (syntax only; names are checked by [`crate::bind`]).
pub fn parse(soql: &str) -> Result<Query, SoqlError> {
    let tokens = lex(soql)?;
    Parser {
        source: soql,
        tokens,
        pos: 0,
    }
    .query()
}

struct Parser<'a> {
    source: &'a str,
    tokens: Vec<Token>,
    pos: usize,
}

type Parsed<T> = Result<T, SoqlError>;

/// Token navigation and error helpers.
impl<'a> Parser<'a> {
    fn peek(&self) -> &Token {
        &self.tokens[self.pos]
    }

    fn peek_at(&self, ahead: usize) -> &Token {
        &self.tokens[(self.pos + ahead).min(self.tokens.len() - 1)]
    }

    /// Consumes the next token; the final `Eof` is never consumed.
    fn bump(&mut self) -> Token {
        let token = self.tokens[self.pos].clone();
        if token.kind != TokenKind::Eof {
            self.pos += 1;
        }
        token
    }

    fn text(&self, token: &Token) -> &'a str {
        &self.source[token.start..token.end]
    }

    fn is_keyword(&self, token: &Token, keyword: &str) -> bool {
        token.kind == TokenKind::Ident && self.text(token).eq_ignore_ascii_case(keyword)
    }

    fn at_keyword(&self, keyword: &str) -> bool {
        self.is_keyword(self.peek(), keyword)
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        let found = self.at_keyword(keyword);
        if found {
            self.pos += 1;
        }
        found
    }

    fn expect_keyword(&mut self, keyword: &str) -> Parsed<Token> {
        let token = self.bump();
        if self.is_keyword(&token, keyword) {
            Ok(token)
        } else {
            Err(self.unexpected(&token))
        }
    }

    fn expect(&mut self, kind: TokenKind) -> Parsed<Token> {
        let token = self.bump();
        if token.kind == kind {
            Ok(token)
        } else {
            Err(self.unexpected(&token))
        }
    }

    fn unexpected(&self, token: &Token) -> SoqlError {
        let text = if token.kind == TokenKind::Eof {
            "<EOF>"
        } else {
            self.text(token)
        };
        self.malformed(token.start, &format!("unexpected token: '{text}'"))
    }

    fn unsupported(&self, offset: usize, what: &str) -> SoqlError {
        self.malformed(offset, &format!("{what} not supported by this simulator"))
    }

    fn malformed(&self, offset: usize, message: &str) -> SoqlError {
        SoqlError::at(ErrorCode::MalformedQuery, self.source, offset, message)
    }
}

/// Clauses.
impl Parser<'_> {
    fn query(mut self) -> Parsed<Query> {
        let select_token = self.expect_keyword("SELECT")?;
        let select = self.select_list(&select_token)?;
        self.expect_keyword("FROM")?;
        let from = self.name()?;
        self.reject_unsupported_clause()?;
        let filter = if self.eat_keyword("WHERE") {
            Some(self.condition(0)?)
        } else {
            None
        };
        self.reject_unsupported_clause()?;
        let order_by = self.order_by()?;
        let limit = self.count_clause("LIMIT")?;
        let offset = self.count_clause("OFFSET")?;
        self.reject_unsupported_clause()?;
        let end = self.bump();
        if end.kind != TokenKind::Eof {
            return Err(self.unexpected(&end));
        }
        let source = self.source.to_string();
        Ok(Query {
            source,
            select,
            from,
            filter,
            order_by,
            limit,
            offset,
        })
    }

    fn reject_unsupported_clause(&self) -> Parsed<()> {
        let token = self.peek();
        match UNSUPPORTED_CLAUSES
            .iter()
            .find(|(keyword, _)| self.is_keyword(token, keyword))
        {
            Some((_, what)) => Err(self.unsupported(token.start, what)),
            None => Ok(()),
        }
    }

    fn order_by(&mut self) -> Parsed<Vec<OrderItem>> {
        let mut items = Vec::new();
        if !self.eat_keyword("ORDER") {
            return Ok(items);
        }
        self.expect_keyword("BY")?;
        loop {
            items.push(self.order_item()?);
            if self.peek().kind != TokenKind::Comma {
                return Ok(items);
            }
            self.bump();
        }
    }

    fn order_item(&mut self) -> Parsed<OrderItem> {
        let path = self.path()?;
        let descending = self.eat_keyword("DESC");
        if !descending {
            self.eat_keyword("ASC");
        }
        let nulls_first = if self.eat_keyword("NULLS") {
            Some(self.nulls_first()?)
        } else {
            None
        };
        Ok(OrderItem {
            path,
            descending,
            nulls_first,
        })
    }

    fn nulls_first(&mut self) -> Parsed<bool> {
        let token = self.bump();
        if self.is_keyword(&token, "FIRST") {
            Ok(true)
        } else if self.is_keyword(&token, "LAST") {
            Ok(false)
        } else {
            Err(self.unexpected(&token))
        }
    }

    /// `LIMIT n` / `OFFSET n`: a plain non-negative integer.
    fn count_clause(&mut self, keyword: &str) -> Parsed<Option<u64>> {
        if !self.eat_keyword(keyword) {
            return Ok(None);
        }
        let token = self.bump();
        let text = self.text(&token);
        let value = (token.kind == TokenKind::Number)
            .then(|| text.parse::<u64>().ok())
            .flatten();
        value.map(Some).ok_or_else(|| self.unexpected(&token))
    }
}

/// The `SELECT` list.
impl Parser<'_> {
    fn select_list(&mut self, select_token: &Token) -> Parsed<Vec<SelectItem>> {
        if self.at_keyword("FROM") {
            // Salesforce's current parser names both words for an empty list (Summer '24
            // release notes, "SOQL: Changed Error Messages").
            return Err(self.malformed(select_token.start, "unexpected token: 'SELECT FROM'"));
        }
        let mut items = vec![self.select_item()?];
        while self.peek().kind == TokenKind::Comma {
            let comma = self.bump();
            if matches!(items[0], SelectItem::Count { arg: None, .. }) {
                // COUNT() stands alone; anything after it is out of place.
                return Err(self.unexpected(&comma));
            }
            items.push(self.select_item()?);
        }
        if let Some(position) = items.iter().skip(1).position(is_bare_count) {
            let SelectItem::Count { start, .. } = items[position + 1] else {
                unreachable!()
            };
            return Err(self.malformed(start, "unexpected token: 'COUNT'"));
        }
        Ok(items)
    }

    fn select_item(&mut self) -> Parsed<SelectItem> {
        let token = self.peek().clone();
        match token.kind {
            TokenKind::LParen => {
                Err(self.unsupported(token.start, "parent-to-child subqueries are"))
            }
            TokenKind::Ident if self.is_keyword(&token, "TYPEOF") => {
                Err(self.unsupported(token.start, "TYPEOF is"))
            }
            TokenKind::Ident if self.peek_at(1).kind == TokenKind::LParen => self.function_item(),
            _ => Ok(SelectItem::Field(self.path()?)),
        }
    }

    fn function_item(&mut self) -> Parsed<SelectItem> {
        let name = self.bump();
        self.bump();
        match self.text(&name).to_ascii_uppercase().as_str() {
            "FIELDS" => self.fields_item(name.start),
            "COUNT" => self.count_item(name.start),
            other => Err(self.unsupported(name.start, &format!("the {other}() function is"))),
        }
    }

    fn fields_item(&mut self, start: usize) -> Parsed<SelectItem> {
        let token = self.bump();
        let group = match self.text(&token).to_ascii_uppercase().as_str() {
            "ALL" if token.kind == TokenKind::Ident => FieldGroup::All,
            "STANDARD" if token.kind == TokenKind::Ident => FieldGroup::Standard,
            "CUSTOM" if token.kind == TokenKind::Ident => FieldGroup::Custom,
            _ => return Err(self.unexpected(&token)),
        };
        self.expect(TokenKind::RParen)?;
        Ok(SelectItem::Fields { group, start })
    }

    fn count_item(&mut self, start: usize) -> Parsed<SelectItem> {
        let arg = if self.peek().kind == TokenKind::RParen {
            None
        } else {
            Some(self.path()?)
        };
        self.expect(TokenKind::RParen)?;
        let alias = if arg.is_some() && self.at_plain_name() {
            Some(self.name()?)
        } else {
            None
        };
        Ok(SelectItem::Count { arg, alias, start })
    }

    fn at_plain_name(&self) -> bool {
        let token = self.peek();
        token.kind == TokenKind::Ident && !is_reserved(self.text(token))
    }

    fn path(&mut self) -> Parsed<Path> {
        let mut segments = vec![self.name()?];
        while self.peek().kind == TokenKind::Dot {
            self.bump();
            segments.push(self.name()?);
        }
        Ok(Path { segments })
    }

    fn name(&mut self) -> Parsed<Name> {
        let token = self.bump();
        let text = self.text(&token);
        if token.kind != TokenKind::Ident || is_reserved(text) {
            return Err(self.unexpected(&token));
        }
        Ok(Name {
            text: text.to_string(),
            start: token.start,
        })
    }
}

/// `WHERE` conditions.
impl Parser<'_> {
    /// A run of conditions joined by one kind of connective. Salesforce refuses to mix
    /// `AND` and `OR` at one level without parentheses and reports the first connective of
    /// the other kind ("unexpected token: 'OR'").
    fn condition(&mut self, depth: usize) -> Parsed<Condition> {
        let first = self.unary(depth)?;
        let connective = if self.at_keyword("AND") {
            "AND"
        } else if self.at_keyword("OR") {
            "OR"
        } else {
            return Ok(first);
        };
        let mut items = vec![first];
        while self.eat_keyword(connective) {
            items.push(self.unary(depth)?);
        }
        let other = if connective == "AND" { "OR" } else { "AND" };
        if self.at_keyword(other) {
            return Err(self.unexpected(self.peek()));
        }
        Ok(if connective == "AND" {
            Condition::And(items)
        } else {
            Condition::Or(items)
        })
    }

    fn unary(&mut self, depth: usize) -> Parsed<Condition> {
        if depth >= MAX_DEPTH {
            return Err(self.unsupported(self.peek().start, "conditions nested this deeply are"));
        }
        if self.eat_keyword("NOT") {
            return Ok(Condition::Not(Box::new(self.unary(depth + 1)?)));
        }
        if self.peek().kind != TokenKind::LParen {
            return self.predicate();
        }
        if self.is_keyword(self.peek_at(1), "SELECT") {
            return Err(self.unsupported(self.peek().start, "subqueries are"));
        }
        self.bump();
        let inner = self.condition(depth + 1)?;
        self.expect(TokenKind::RParen)?;
        Ok(inner)
    }

    fn predicate(&mut self) -> Parsed<Condition> {
        let path = self.path()?;
        let token = self.bump();
        match token.kind {
            TokenKind::Op(op) => Ok(Condition::Compare {
                path,
                op,
                value: self.literal()?,
            }),
            _ if self.is_keyword(&token, "IN") => self.in_list(path, false),
            _ if self.is_keyword(&token, "NOT") => {
                let next = self.bump();
                if !self.is_keyword(&next, "IN") {
                    return Err(self.unexpected(&next));
                }
                self.in_list(path, true)
            }
            _ if self.is_keyword(&token, "LIKE") => self.like(path),
            _ if self.is_keyword(&token, "INCLUDES") || self.is_keyword(&token, "EXCLUDES") => {
                Err(self.unsupported(token.start, "INCLUDES and EXCLUDES are"))
            }
            _ => Err(self.unexpected(&token)),
        }
    }

    fn in_list(&mut self, path: Path, negated: bool) -> Parsed<Condition> {
        self.expect(TokenKind::LParen)?;
        if self.at_keyword("SELECT") {
            return Err(self.unsupported(self.peek().start, "semi-join subqueries are"));
        }
        if self.peek().kind == TokenKind::RParen {
            // An empty list: Salesforce quotes the whole "Field IN ()" since Summer '24.
            let written = &self.source[path.start()..self.peek().end];
            return Err(self.malformed(path.start(), &format!("unexpected token: '{written}'")));
        }
        let mut values = vec![self.literal()?];
        while self.peek().kind == TokenKind::Comma {
            self.bump();
            values.push(self.literal()?);
        }
        self.expect(TokenKind::RParen)?;
        Ok(Condition::In {
            path,
            negated,
            values,
        })
    }

    fn like(&mut self, path: Path) -> Parsed<Condition> {
        let token = self.bump();
        if !matches!(token.kind, TokenKind::Str(_)) {
            return Err(self.unexpected(&token));
        }
        let pattern = self.source[token.start + 1..token.end - 1].to_string();
        Ok(Condition::Like { path, pattern })
    }
}

/// Literal values.
impl Parser<'_> {
    fn literal(&mut self) -> Parsed<Literal> {
        let token = self.bump();
        let value = match &token.kind {
            TokenKind::Str(text) => LiteralValue::Text(text.clone()),
            TokenKind::Date(days) => LiteralValue::Date(*days),
            TokenKind::DateTime(ms) => LiteralValue::DateTime(*ms),
            TokenKind::Number => match self.text(&token).parse::<f64>() {
                Ok(number) => LiteralValue::Number(number),
                Err(_) => return Err(self.unexpected(&token)),
            },
            TokenKind::Ident => self.word_literal(&token)?,
            _ => return Err(self.unexpected(&token)),
        };
        Ok(Literal {
            value,
            start: token.start,
        })
    }

    fn word_literal(&mut self, token: &Token) -> Parsed<LiteralValue> {
        let word = self.text(token).to_ascii_uppercase();
        let relative = match word.as_str() {
            "NULL" => return Ok(LiteralValue::Null),
            "TRUE" => return Ok(LiteralValue::Bool(true)),
            "FALSE" => return Ok(LiteralValue::Bool(false)),
            "TODAY" => RelativeDate::Today,
            "YESTERDAY" => RelativeDate::Yesterday,
            "TOMORROW" => RelativeDate::Tomorrow,
            "LAST_90_DAYS" => RelativeDate::LastNDays(90),
            "NEXT_90_DAYS" => RelativeDate::NextNDays(90),
            "LAST_N_DAYS" => RelativeDate::LastNDays(self.day_count()?),
            "NEXT_N_DAYS" => RelativeDate::NextNDays(self.day_count()?),
            other if UNSUPPORTED_DATE_LITERALS.contains(&other) => {
                return Err(self.unsupported(token.start, &format!("the date literal {other} is")));
            }
            _ => return Err(self.unexpected(token)),
        };
        Ok(LiteralValue::Relative(relative))
    }

    /// The `:n` of `LAST_N_DAYS:n`.
    fn day_count(&mut self) -> Parsed<u32> {
        self.expect(TokenKind::Colon)?;
        let token = self.bump();
        let count = (token.kind == TokenKind::Number)
            .then(|| self.text(&token).parse::<u32>().ok())
            .flatten();
        count.ok_or_else(|| self.unexpected(&token))
    }
}

fn is_reserved(word: &str) -> bool {
    RESERVED
        .iter()
        .any(|reserved| reserved.eq_ignore_ascii_case(word))
}

fn is_bare_count(item: &SelectItem) -> bool {
    matches!(item, SelectItem::Count { arg: None, .. })
}
