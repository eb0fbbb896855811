//! The *syntax tree*: what a query says, before any name is checked against the org.
//!
//! Every name and literal keeps the byte offset where it was written, so that the binder
//! can point its caret at it.

/// A parsed query: the output of [`crate::parse`], the input of [`crate::bind`].
#[derive(Debug, Clone)]
pub struct Query {
    pub(crate) source: String,
    pub(crate) select: Vec<SelectItem>,
    pub(crate) from: Name,
    pub(crate) filter: Option<Condition>,
    pub(crate) order_by: Vec<OrderItem>,
    pub(crate) limit: Option<u64>,
    pub(crate) offset: Option<u64>,
}

impl Query {
    /// The query text as given to [`crate::parse`].
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The object name as written after `FROM` (not yet checked).
    pub fn object_name(&self) -> &str {
        &self.from.text
    }

    /// The `LIMIT` value, if any.
    pub fn limit(&self) -> Option<u64> {
        self.limit
    }

    /// The `OFFSET` value, if any.
    pub fn offset(&self) -> Option<u64> {
        self.offset
    }
}

/// A name as written, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Name {
    pub text: String,
    pub start: usize,
}

/// A dotted field path (`Account.Owner.Name`); never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Path {
    pub segments: Vec<Name>,
}

impl Path {
    pub fn start(&self) -> usize {
        self.segments[0].start
    }

    /// The path as written, segments joined with dots.
    pub fn written(&self) -> String {
        let names: Vec<&str> = self
            .segments
            .iter()
            .map(|name| name.text.as_str())
            .collect();
        names.join(".")
    }
}

/// One entry of the `SELECT` list.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SelectItem {
    Field(Path),
    Fields {
        group: FieldGroup,
        start: usize,
    },
    /// `COUNT()` when `arg` is `None`, else `COUNT(field) [alias]`.
    Count {
        arg: Option<Path>,
        alias: Option<Name>,
        start: usize,
    },
}

/// The argument of `FIELDS(...)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldGroup {
    All,
    Standard,
    Custom,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `!=` or `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// A `WHERE` condition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Condition {
    And(Vec<Condition>),
    Or(Vec<Condition>),
    Not(Box<Condition>),
    Compare {
        path: Path,
        op: CmpOp,
        value: Literal,
    },
    In {
        path: Path,
        negated: bool,
        values: Vec<Literal>,
    },
    /// `pattern` is the raw text between the quotes, escapes undecoded, because `\%` and
    /// `\_` mean something different in a pattern.
    Like {
        path: Path,
        pattern: String,
    },
}

/// A literal value and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Literal {
    pub value: LiteralValue,
    pub start: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum LiteralValue {
    Null,
    Bool(bool),
    Number(f64),
    Text(String),
    Date(i32),
    DateTime(i64),
    Relative(RelativeDate),
}

/// The relative date literals the simulator evaluates (in UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RelativeDate {
    Today,
    Yesterday,
    Tomorrow,
    LastNDays(u32),
    NextNDays(u32),
}

/// One `ORDER BY` key; `nulls_first` is `None` when not written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OrderItem {
    pub path: Path,
    pub descending: bool,
    pub nulls_first: Option<bool>,
}
