//! The PostgREST query-string grammar, parsed into a request description that holds no SQL.
//!
//! Supported (database.md §5.3, what the services and operator scripts send):
//! - filters `col=[not.]op.value` with `eq neq gt gte lt lte like ilike in is`;
//! - logic trees `or=(a.eq.1,and(b.gt.2,c.is.null))`, `and=(…)`, `not.or=(…)`;
//! - `select=*,col,alias:col,rel(*)` (one level of to-one embedding), `rel.col=op.v`
//!   filtering an embedding;
//! - `order=a.desc.nullslast,b`, `limit=N`, `offset=N`.
//!
//! Identifiers are only syntax here; they are checked against the schema cache before any
//! SQL is built, and values only ever become bound parameters.

use std::fmt;

/// Most values in one `in.()` list: the real client refuses URLs over 2000 characters, so a
/// longer list is a mistake (or an attack), and the selection should be paged instead.
pub const MAX_IN_LIST: usize = 1000;
/// Most filters (leaves) in one request.
pub const MAX_FILTERS: usize = 100;
/// Deepest nesting of `and(…)`/`or(…)`.
pub const MAX_DEPTH: usize = 8;
/// Longest query string accepted, in bytes.
pub const MAX_QUERY_LEN: usize = 16 * 1024;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `=`
    Eq,
    /// `<>`
    Neq,
    /// `>`
    Gt,
    /// `>=`
    Gte,
    /// `<`
    Lt,
    /// `<=`
    Lte,
    /// `LIKE` with `*` as wildcard.
    Like,
    /// `ILIKE` with `*` as wildcard.
    Ilike,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "eq" => Op::Eq,
            "neq" => Op::Neq,
            "gt" => Op::Gt,
            "gte" => Op::Gte,
            "lt" => Op::Lt,
            "lte" => Op::Lte,
            "like" => Op::Like,
            "ilike" => Op::Ilike,
            _ => return None,
        })
    }

    /// The operator's name in the query string.
    pub fn name(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Neq => "neq",
            Op::Gt => "gt",
            Op::Gte => "gte",
            Op::Lt => "lt",
            Op::Lte => "lte",
            Op::Like => "like",
            Op::Ilike => "ilike",
        }
    }

    /// The SQL operator.
    pub fn sql(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Neq => "<>",
            Op::Gt => ">",
            Op::Gte => ">=",
            Op::Lt => "<",
            Op::Lte => "<=",
            Op::Like => "like",
            Op::Ilike => "ilike",
        }
    }
}

/// The right-hand side of `is.`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IsValue {
    /// `is.null`
    Null,
    /// `is.true`
    True,
    /// `is.false`
    False,
    /// `is.unknown`
    Unknown,
}

/// One condition on a column.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Predicate {
    /// `op.value`
    Cmp(Op, String),
    /// `in.(v1,v2,…)`
    In(Vec<String>),
    /// `is.null` etc.
    Is(IsValue),
}

/// A filter tree.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Filter {
    /// A condition on one column, optionally negated.
    Leaf {
        /// Column name (unchecked).
        column: String,
        /// Whether `not.` was given.
        negated: bool,
        /// The condition.
        predicate: Predicate,
    },
    /// `and(…)` / `or(…)`, optionally negated.
    Logic {
        /// `true` for `or`.
        or: bool,
        /// Whether `not.` was given.
        negated: bool,
        /// The operands (at least one).
        children: Vec<Filter>,
    },
}

/// One item of `select=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectItem {
    /// `*`
    Star,
    /// `[alias:]column`
    Column {
        /// Column name.
        name: String,
        /// Output key, when renamed.
        alias: Option<String>,
    },
    /// `[alias:]relation(items)`: a to-one embedding.
    Embed {
        /// The related table (or the foreign-key column naming it).
        relation: String,
        /// Output key, when renamed.
        alias: Option<String>,
        /// The embedded items.
        items: Vec<SelectItem>,
    },
}

/// One term of `order=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderTerm {
    /// Column.
    pub column: String,
    /// Descending.
    pub desc: bool,
    /// `Some(true)` for `nullsfirst`, `Some(false)` for `nullslast`.
    pub nulls_first: Option<bool>,
}

/// Everything a query string says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Query {
    /// `select=`; empty means `*`.
    pub select: Vec<SelectItem>,
    /// Filters, all of which must hold.
    pub filters: Vec<Filter>,
    /// `order=`.
    pub order: Vec<OrderTerm>,
    /// `limit=`.
    pub limit: Option<u64>,
    /// `offset=`.
    pub offset: Option<u64>,
    /// Filters on embedded resources, `rel.col=op.v`: (relation or alias, filter).
    pub embedded: Vec<(String, Filter)>,
    /// Other keys (for `/rpc/` GET arguments), in order.
    pub other: Vec<(String, String)>,
}

/// A syntax error, with PostgREST's code `PGRST100`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// What failed to parse (`filter (eq.)`, `select`, …).
    pub what: String,
    /// Why.
    pub details: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "failed to parse {}: {}", self.what, self.details)
    }
}

fn err(what: impl Into<String>, details: impl Into<String>) -> ParseError {
    ParseError {
        what: what.into(),
        details: details.into(),
    }
}

/// Parses a raw (still percent-encoded) query string. With `rpc_args`, unknown keys are kept
/// in [`Query::other`] (function arguments); otherwise every other key is a column filter.
pub fn parse_query(raw: &str, rpc_args: bool) -> Result<Query, ParseError> {
    if raw.len() > MAX_QUERY_LEN {
        return Err(err(
            "query string",
            format!("it is {} bytes long, more than {MAX_QUERY_LEN}", raw.len()),
        ));
    }
    let mut q = Query::default();
    let mut leaves = 0usize;
    for (key, value) in form_urlencoded::parse(raw.as_bytes()) {
        let (key, value) = (key.as_ref(), value.as_ref());
        match key {
            "select" => q.select = parse_select(value)?,
            "order" => q.order = parse_order(value)?,
            "limit" => q.limit = Some(parse_count("limit", value)?),
            "offset" => q.offset = Some(parse_count("offset", value)?),
            "or" | "and" | "not.or" | "not.and" => {
                let negated = key.starts_with("not.");
                let or = key.ends_with("or");
                let inner = value
                    .strip_prefix('(')
                    .and_then(|v| v.strip_suffix(')'))
                    .ok_or_else(|| {
                        err(
                            format!("logic tree ({key}={value})"),
                            "expected a parenthesised list, e.g. or=(id.eq.1,id.eq.2)",
                        )
                    })?;
                let children = parse_tree_list(inner, 1)?;
                leaves += count_leaves_list(&children);
                q.filters.push(Filter::Logic {
                    or,
                    negated,
                    children,
                });
            }
            // `?single-object` as the Python client sends it: a bare key with no effect.
            "single-object" if value.is_empty() => {}
            "columns" | "on_conflict" => {
                return Err(err(
                    key,
                    "this PostgREST parameter is not supported by hrsi's API",
                ));
            }
            _ if rpc_args => q.other.push((key.to_owned(), value.to_owned())),
            _ if key.split('.').count() == 2 => {
                let (rel, column) = key.split_once('.').expect("one dot");
                check_ident(rel, "filter")?;
                check_ident(column, "filter")?;
                let (negated, predicate) = parse_predicate(value)
                    .map_err(|d| err(format!("filter ({key}={value})"), d))?;
                leaves += 1;
                q.embedded.push((
                    rel.to_owned(),
                    Filter::Leaf {
                        column: column.to_owned(),
                        negated,
                        predicate,
                    },
                ));
            }
            _ => {
                check_ident(key, "filter")?;
                let (negated, predicate) = parse_predicate(value)
                    .map_err(|d| err(format!("filter ({key}={value})"), d))?;
                leaves += 1;
                q.filters.push(Filter::Leaf {
                    column: key.to_owned(),
                    negated,
                    predicate,
                });
            }
        }
        if leaves > MAX_FILTERS {
            return Err(err(
                "filters",
                format!("more than {MAX_FILTERS} conditions in one request"),
            ));
        }
    }
    Ok(q)
}

fn count_leaves_list(fs: &[Filter]) -> usize {
    fs.iter()
        .map(|f| match f {
            Filter::Leaf { .. } => 1,
            Filter::Logic { children, .. } => count_leaves_list(children),
        })
        .sum()
}

fn parse_count(what: &str, v: &str) -> Result<u64, ParseError> {
    v.parse::<u64>()
        .ok()
        .filter(|n| *n <= i64::MAX as u64)
        .ok_or_else(|| err(format!("{what} ({v})"), "expected a non-negative integer"))
}

/// Characters that end an identifier in PostgREST's grammar.
fn is_reserved(c: char) -> bool {
    matches!(c, '.' | ',' | ':' | '(' | ')' | '!' | '"' | '\\')
}

fn check_ident(s: &str, what: &str) -> Result<(), ParseError> {
    if s.is_empty() {
        return Err(err(what, "an empty name"));
    }
    if let Some(c) = s.chars().find(|c| is_reserved(*c) || c.is_control()) {
        return Err(err(
            format!("{what} ({s})"),
            format!(
                "`{c}` cannot appear in a column name; filters on embedded resources are not supported"
            ),
        ));
    }
    Ok(())
}

/// `[not.]op.value`, as the value of `col=`.
fn parse_predicate(v: &str) -> Result<(bool, Predicate), String> {
    let (negated, rest) = match v.strip_prefix("not.") {
        Some(r) => (true, r),
        None => (false, v),
    };
    let (op, operand) = rest
        .split_once('.')
        .ok_or_else(|| "expected `operator.value`, e.g. eq.3 or in.(1,2)".to_string())?;
    let p = match op {
        "in" => Predicate::In(parse_in_list(operand)?),
        "is" => Predicate::Is(match operand.to_ascii_lowercase().as_str() {
            "null" => IsValue::Null,
            "true" => IsValue::True,
            "false" => IsValue::False,
            "unknown" => IsValue::Unknown,
            _ => {
                return Err(format!(
                    "is.{operand}: expected null, true, false or unknown"
                ));
            }
        }),
        _ => match Op::parse(op) {
            Some(op) => Predicate::Cmp(op, operand.to_owned()),
            None => {
                return Err(format!(
                    "unknown operator `{op}` (supported: eq, neq, gt, gte, lt, lte, like, ilike, in, is)"
                ));
            }
        },
    };
    Ok((negated, p))
}

/// `(a,b,"c,d")`: values separated by commas, double quotes around values holding `,()"`,
/// backslash escapes inside quotes.
fn parse_in_list(s: &str) -> Result<Vec<String>, String> {
    let inner = s
        .strip_prefix('(')
        .and_then(|v| v.strip_suffix(')'))
        .ok_or_else(|| format!("in.{s}: expected a parenthesised list, e.g. in.(1,2,3)"))?;
    if inner.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    let mut chars = inner.chars().peekable();
    loop {
        if out.len() >= MAX_IN_LIST {
            return Err(format!(
                "more than {MAX_IN_LIST} values in one in.() list; select fewer rows per request (page the selection)"
            ));
        }
        let mut item = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err("unterminated double quote in in.() list".into()),
                    Some('\\') => match chars.next() {
                        Some(c) => item.push(c),
                        None => return Err("dangling backslash in in.() list".into()),
                    },
                    Some('"') => break,
                    Some(c) => item.push(c),
                }
            }
            match chars.next() {
                None => {
                    out.push(item);
                    return Ok(out);
                }
                Some(',') => out.push(item),
                Some(c) => return Err(format!("unexpected `{c}` after a quoted value")),
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        out.push(item);
                        return Ok(out);
                    }
                    Some(',') => break,
                    Some(c @ ('"' | '(' | ')')) => {
                        return Err(format!(
                            "`{c}` inside an unquoted in.() value; quote the value with double quotes"
                        ));
                    }
                    Some(c) => item.push(c),
                }
            }
            out.push(item);
        }
    }
}

/// Splits at top-level commas (outside parentheses and double quotes).
fn split_top(s: &str) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let (mut depth, mut quoted, mut escaped, mut start) = (0usize, false, false, 0usize);
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| "unbalanced `)`".to_string())?;
            }
            ',' if !quoted && depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if quoted {
        return Err("unterminated double quote".into());
    }
    if depth != 0 {
        return Err("unbalanced `(`".into());
    }
    parts.push(&s[start..]);
    Ok(parts)
}

fn parse_tree_list(s: &str, depth: usize) -> Result<Vec<Filter>, ParseError> {
    if depth > MAX_DEPTH {
        return Err(err(
            "logic tree",
            format!("nested deeper than {MAX_DEPTH} levels"),
        ));
    }
    let what = || format!("logic tree ({s})");
    let parts = split_top(s).map_err(|d| err(what(), d))?;
    let mut out = Vec::new();
    for part in parts {
        if part.is_empty() {
            return Err(err(what(), "an empty condition"));
        }
        let (negated, rest) = match part.strip_prefix("not.") {
            Some(r) => (true, r),
            None => (false, part),
        };
        let logic = ["and(", "or("]
            .iter()
            .find(|p| rest.starts_with(**p) && rest.ends_with(')'));
        if let Some(prefix) = logic {
            let inner = &rest[prefix.len()..rest.len() - 1];
            out.push(Filter::Logic {
                or: *prefix == "or(",
                negated,
                children: parse_tree_list(inner, depth + 1)?,
            });
            continue;
        }
        let (column, pred) = part
            .split_once('.')
            .ok_or_else(|| err(what(), format!("`{part}`: expected column.operator.value")))?;
        check_ident(column, "logic tree")?;
        let (negated, predicate) = parse_predicate(&unquote_tree_value(pred))
            .map_err(|d| err(format!("logic tree ({part})"), d))?;
        out.push(Filter::Leaf {
            column: column.to_owned(),
            negated,
            predicate,
        });
    }
    Ok(out)
}

/// In a logic tree a plain value may be double-quoted (to hold commas or parentheses):
/// `name.eq."a,b"`. `in.(…)` lists keep their own quoting.
fn unquote_tree_value(pred: &str) -> String {
    let (neg, rest) = match pred.strip_prefix("not.") {
        Some(r) => ("not.", r),
        None => ("", pred),
    };
    if let Some((op, v)) = rest.split_once('.')
        && op != "in"
        && v.len() >= 2
        && v.starts_with('"')
        && v.ends_with('"')
    {
        let mut out = String::new();
        let mut chars = v[1..v.len() - 1].chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            } else {
                out.push(c);
            }
        }
        return format!("{neg}{op}.{out}");
    }
    pred.to_owned()
}

/// `select=` items.
pub fn parse_select(s: &str) -> Result<Vec<SelectItem>, ParseError> {
    parse_select_depth(s, 0)
}

fn parse_select_depth(s: &str, depth: usize) -> Result<Vec<SelectItem>, ParseError> {
    let what = || format!("select ({s})");
    if depth > 2 {
        return Err(err(what(), "embedding nested deeper than 2 levels"));
    }
    let parts = split_top(s).map_err(|d| err(what(), d))?;
    let mut out = Vec::new();
    for part in parts {
        let part = part.trim();
        if part == "*" {
            out.push(SelectItem::Star);
            continue;
        }
        let (alias, body) = match part.split_once(':') {
            Some((a, b)) if !a.contains('(') => {
                check_ident(a, "select alias")?;
                (Some(a.to_owned()), b)
            }
            _ => (None, part),
        };
        if let Some(open) = body.find('(') {
            if !body.ends_with(')') {
                return Err(err(what(), format!("`{part}`: expected relation(columns)")));
            }
            let relation = &body[..open];
            check_ident(relation, "select")?;
            let items = parse_select_depth(&body[open + 1..body.len() - 1], depth + 1)?;
            out.push(SelectItem::Embed {
                relation: relation.to_owned(),
                alias,
                items,
            });
        } else {
            if body.contains("::") || body.contains("->") {
                return Err(err(
                    what(),
                    format!("`{part}`: casts and JSON paths are not supported"),
                ));
            }
            check_ident(body, "select")?;
            out.push(SelectItem::Column {
                name: body.to_owned(),
                alias,
            });
        }
    }
    Ok(out)
}

/// `order=` terms.
pub fn parse_order(s: &str) -> Result<Vec<OrderTerm>, ParseError> {
    let mut out = Vec::new();
    for term in s.split(',') {
        let mut parts = term.split('.');
        let column = parts.next().unwrap_or_default();
        check_ident(column, "order")?;
        let mut t = OrderTerm {
            column: column.to_owned(),
            desc: false,
            nulls_first: None,
        };
        for m in parts {
            match m {
                "asc" => t.desc = false,
                "desc" => t.desc = true,
                "nullsfirst" => t.nulls_first = Some(true),
                "nullslast" => t.nulls_first = Some(false),
                _ => {
                    return Err(err(
                        format!("order ({term})"),
                        format!("unknown modifier `{m}` (asc, desc, nullsfirst, nullslast)"),
                    ));
                }
            }
        }
        out.push(t);
    }
    Ok(out)
}

/// Writes a filter back in the query-string grammar (used by tests and by the CLI's paged
/// selections).
pub fn render_filter(f: &Filter) -> (String, String) {
    match f {
        Filter::Leaf {
            column,
            negated,
            predicate,
        } => (column.clone(), render_predicate(*negated, predicate)),
        Filter::Logic {
            or,
            negated,
            children,
        } => {
            let key = format!("{}{}", if *negated { "not." } else { "" }, logic_name(*or));
            (key, format!("({})", render_children(children)))
        }
    }
}

fn logic_name(or: bool) -> &'static str {
    if or { "or" } else { "and" }
}

fn render_children(children: &[Filter]) -> String {
    children
        .iter()
        .map(|c| match c {
            Filter::Leaf {
                column,
                negated,
                predicate,
            } => {
                let p = match predicate {
                    Predicate::Cmp(op, v) => {
                        format!(
                            "{}{}.{}",
                            if *negated { "not." } else { "" },
                            op.name(),
                            quote_tree(v)
                        )
                    }
                    _ => render_predicate(*negated, predicate),
                };
                format!("{column}.{p}")
            }
            Filter::Logic {
                or,
                negated,
                children,
            } => format!(
                "{}{}({})",
                if *negated { "not." } else { "" },
                logic_name(*or),
                render_children(children)
            ),
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn quote_tree(v: &str) -> String {
    format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
}

fn render_predicate(negated: bool, p: &Predicate) -> String {
    let not = if negated { "not." } else { "" };
    match p {
        Predicate::Cmp(op, v) => format!("{not}{}.{v}", op.name()),
        Predicate::In(vs) => format!(
            "{not}in.({})",
            vs.iter()
                .map(|v| quote_tree(v))
                .collect::<Vec<_>>()
                .join(",")
        ),
        Predicate::Is(v) => format!(
            "{not}is.{}",
            match v {
                IsValue::Null => "null",
                IsValue::True => "true",
                IsValue::False => "false",
                IsValue::Unknown => "unknown",
            }
        ),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn the_python_clients_queries_parse() {
        let q = parse_query(
            "select=*,parent_jobs(*)&or=(id.eq.1,id.eq.2)&order=measurement_date.desc,id&limit=1&single-object",
            false,
        )
        .unwrap();
        assert_eq!(q.select.len(), 2);
        assert_eq!(q.order.len(), 2);
        assert!(q.order[0].desc);
        assert_eq!(q.limit, Some(1));
        assert_eq!(count_leaves_list(&q.filters), 2);
    }

    #[test]
    fn in_lists_quote_commas_and_refuse_stray_quotes() {
        assert_eq!(
            parse_in_list(r#"(1,"a,b","c\"d")"#).unwrap(),
            vec!["1", "a,b", "c\"d"]
        );
        assert!(parse_in_list("(a'b\"c)").is_err());
        assert!(parse_in_list("(\"open").is_err());
        assert_eq!(parse_in_list("()").unwrap(), Vec::<String>::new());
        let huge = format!("({})", vec!["1"; MAX_IN_LIST + 1].join(","));
        assert!(parse_in_list(&huge).unwrap_err().contains("page"));
    }

    #[test]
    fn identifiers_with_sql_in_them_are_syntax_errors() {
        for key in ["id;drop table x", "a\"b", "id)", "a.b.c"] {
            let raw = format!(
                "{}=eq.1",
                form_urlencoded::byte_serialize(key.as_bytes()).collect::<String>()
            );
            // `;` is not reserved: it parses as a name and the schema cache refuses it.
            let r = parse_query(&raw, false);
            if key.contains(';') {
                assert!(r.is_ok());
            } else {
                assert!(r.is_err(), "{key}");
            }
        }
    }

    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = String> {
        // Quotes, semicolons, commas, parentheses, backslashes, percent signs, unicode.
        proptest::string::string_regex(r#"[a-z0-9 '";,()\\%*.:=&+\-é]{0,12}"#).unwrap()
    }

    fn leaf() -> impl Strategy<Value = Filter> {
        let column = prop::sample::select(vec!["id", "name", "tile_id", "last_status_id"]);
        let op = prop::sample::select(vec![
            Op::Eq,
            Op::Neq,
            Op::Gt,
            Op::Gte,
            Op::Lt,
            Op::Lte,
            Op::Like,
            Op::Ilike,
        ]);
        let predicate = prop_oneof![
            (op, value()).prop_map(|(o, v)| Predicate::Cmp(o, v)),
            prop::collection::vec(value(), 0..5).prop_map(Predicate::In),
            prop::sample::select(vec![
                IsValue::Null,
                IsValue::True,
                IsValue::False,
                IsValue::Unknown
            ])
            .prop_map(Predicate::Is),
        ];
        (column, any::<bool>(), predicate).prop_map(|(c, negated, predicate)| Filter::Leaf {
            column: c.to_owned(),
            negated,
            predicate,
        })
    }

    /// Filter trees up to 3 levels deep.
    pub(crate) fn filter() -> impl Strategy<Value = Filter> {
        leaf().prop_recursive(3, 16, 4, |inner| {
            (
                any::<bool>(),
                any::<bool>(),
                prop::collection::vec(inner, 1..4),
            )
                .prop_map(|(or, negated, children)| Filter::Logic {
                    or,
                    negated,
                    children,
                })
        })
    }

    /// The query string for some filters, encoded as a client would.
    pub(crate) fn encode(filters: &[Filter]) -> String {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        for f in filters {
            let (k, v) = render_filter(f);
            ser.append_pair(&k, &v);
        }
        ser.finish()
    }

    proptest! {
        #[test]
        fn rendered_filters_parse_back_to_themselves(filters in prop::collection::vec(filter(), 1..4)) {
            let q = parse_query(&encode(&filters), false).unwrap();
            prop_assert_eq!(q.filters, filters);
        }

        #[test]
        fn any_query_string_parses_or_fails_without_panicking(raw in ".{0,200}") {
            let _ = parse_query(&raw, false);
            let _ = parse_query(&raw, true);
        }

        #[test]
        fn any_select_or_order_parses_or_fails_without_panicking(s in r#"[a-z*:(),.!"\\ ]{0,40}"#) {
            let _ = parse_select(&s);
            let _ = parse_order(&s);
        }
    }
}
