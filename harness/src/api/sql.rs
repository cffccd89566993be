//! SQL for a parsed request. Identifiers come only from the schema cache (quoted); every value
//! is a `$n::text` parameter cast to the column's type in SQL, so no request text is ever
//! spliced into a statement.
//!
//! Each statement answers one row: the number of rows affected or returned, the rows as a
//! JSON array built by PostgreSQL, and (for `Prefer: count=exact`) the total.

use axum::http::StatusCode;

use super::{
    catalog::{Catalog, Function, Returns, Table},
    error::ApiError,
    query::{Filter, IsValue, OrderTerm, Predicate, Query, SelectItem},
};
use crate::postgres::{quote_ident, quote_literal};

/// A statement and its parameters (all text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// SQL with `$n::text` placeholders.
    pub sql: String,
    /// Values of the placeholders, in order.
    pub params: Vec<Option<String>>,
}

#[derive(Default)]
struct Params(Vec<Option<String>>);

impl Params {
    fn push(&mut self, v: impl Into<String>) -> String {
        self.0.push(Some(v.into()));
        format!("${}::text", self.0.len())
    }
    fn push_opt(&mut self, v: Option<String>) -> String {
        self.0.push(v);
        format!("${}::text", self.0.len())
    }
}

/// Closest name, for hints.
fn closest<'a>(name: &str, names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    hrsi_sim::params::closest(name, names)
}

fn column<'t>(table: &'t Table, name: &str) -> Result<&'t super::catalog::Column, ApiError> {
    table.column(name).ok_or_else(|| {
        ApiError::unknown_column(
            &table.name,
            name,
            closest(name, table.columns.iter().map(|c| c.name.as_str())),
        )
    })
}

/// The table or view `name`, or PostgREST's 404 with the closest name.
pub fn table<'c>(cat: &'c Catalog, name: &str) -> Result<&'c Table, ApiError> {
    cat.tables.get(name).ok_or_else(|| {
        let e = ApiError::new(
            StatusCode::NOT_FOUND,
            "PGRST205",
            format!(
                "Could not find the table '{}.{name}' in the schema cache",
                cat.schema
            ),
        );
        match closest(name, cat.tables.keys().map(String::as_str)) {
            Some(h) => e.hint(format!("Perhaps you meant the table '{}.{h}'", cat.schema)),
            None => e,
        }
    })
}

fn where_clause(t: &Table, filters: &[Filter], p: &mut Params) -> Result<String, ApiError> {
    where_on(t, "_t", filters, p)
}

fn where_on(
    t: &Table,
    alias: &str,
    filters: &[Filter],
    p: &mut Params,
) -> Result<String, ApiError> {
    if filters.is_empty() {
        return Ok("true".into());
    }
    let parts = filters
        .iter()
        .map(|f| filter_sql(t, alias, f, p))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(parts.join(" and "))
}

fn filter_sql(t: &Table, alias: &str, f: &Filter, p: &mut Params) -> Result<String, ApiError> {
    let (negated, sql) = match f {
        Filter::Leaf {
            column: name,
            negated,
            predicate,
        } => {
            let c = column(t, name)?;
            let col = format!("{alias}.{}", quote_ident(&c.name));
            let sql = match predicate {
                Predicate::Cmp(op, v) => match op {
                    super::query::Op::Like | super::query::Op::Ilike => {
                        format!("{col}::text {} {}", op.sql(), p.push(v.replace('*', "%")))
                    }
                    _ => format!("{col} {} {}::{}", op.sql(), p.push(v.as_str()), c.sql_type),
                },
                Predicate::In(vs) => {
                    if c.is_array {
                        return Err(ApiError::bad_request(format!(
                            "in.() on the array column {}.{} is not supported",
                            t.name, c.name
                        )));
                    }
                    let json = serde_json::to_string(vs).expect("strings serialise");
                    format!(
                        "{col} = any(array(select json_array_elements_text({}::json))::{}[])",
                        p.push(json),
                        c.sql_type
                    )
                }
                Predicate::Is(v) => format!(
                    "{col} is {}",
                    match v {
                        IsValue::Null => "null",
                        IsValue::True => "true",
                        IsValue::False => "false",
                        IsValue::Unknown => "unknown",
                    }
                ),
            };
            (*negated, sql)
        }
        Filter::Logic {
            or,
            negated,
            children,
        } => {
            let parts = children
                .iter()
                .map(|c| filter_sql(t, alias, c, p))
                .collect::<Result<Vec<_>, _>>()?;
            let sep = if *or { " or " } else { " and " };
            (*negated, format!("({})", parts.join(sep)))
        }
    };
    Ok(if negated {
        format!("not ({sql})")
    } else {
        format!("({sql})")
    })
}

fn order_clause(t: &Table, order: &[OrderTerm]) -> Result<String, ApiError> {
    if order.is_empty() {
        return Ok(String::new());
    }
    let terms = order
        .iter()
        .map(|o| {
            let c = column(t, &o.column)?;
            Ok(format!(
                "_t.{}{}{}",
                quote_ident(&c.name),
                if o.desc { " desc" } else { " asc" },
                match o.nulls_first {
                    Some(true) => " nulls first",
                    Some(false) => " nulls last",
                    None => "",
                }
            ))
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(format!(" order by {}", terms.join(", ")))
}

/// The select list over `alias` (a row of `t`), embeddings as correlated sub-queries.
fn select_list(
    cat: &Catalog,
    t: &Table,
    alias: &str,
    items: &[SelectItem],
    depth: usize,
    embedded: &[(String, Filter)],
    p: &mut Params,
) -> Result<String, ApiError> {
    if items.is_empty() {
        return Ok(format!("{alias}.*"));
    }
    let mut out = Vec::new();
    for item in items {
        match item {
            SelectItem::Star => out.push(format!("{alias}.*")),
            SelectItem::Column { name, alias: a } => {
                let c = column(t, name)?;
                out.push(format!(
                    "{alias}.{} as {}",
                    quote_ident(&c.name),
                    quote_ident(a.as_deref().unwrap_or(&c.name))
                ));
            }
            SelectItem::Embed {
                relation,
                alias: a,
                items,
            } => {
                let matches: Vec<_> = t
                    .relations
                    .iter()
                    .filter(|r| &r.target == relation || &r.column == relation)
                    .collect();
                let rel = match matches.as_slice() {
                    [r] => *r,
                    [] => {
                        return Err(ApiError::bad_request(format!(
                            "Could not find a relationship between '{}' and '{relation}' in the schema cache",
                            t.name
                        ))
                        .hint("only to-one embedding through a foreign key column is supported"));
                    }
                    _ => {
                        return Err(ApiError::new(
                            StatusCode::MULTIPLE_CHOICES,
                            "PGRST201",
                            format!(
                                "Could not embed because more than one relationship was found for '{}' and '{relation}'",
                                t.name
                            ),
                        )
                        .hint("embed through the foreign key column's name instead"));
                    }
                };
                let target = table(cat, &rel.target)?;
                let inner = format!("_p{depth}");
                let list = select_list(cat, target, &inner, items, depth + 1, &[], p)?;
                // `rel.col=op.v` filters the embedded row (it becomes null), not the parent.
                let key = a.as_deref().unwrap_or(relation);
                let own: Vec<Filter> = if depth == 0 {
                    embedded
                        .iter()
                        .filter(|(r, _)| r == key)
                        .map(|(_, f)| f.clone())
                        .collect()
                } else {
                    Vec::new()
                };
                let extra = if own.is_empty() {
                    String::new()
                } else {
                    format!(" and {}", where_on(target, &inner, &own, p)?)
                };
                out.push(format!(
                    "(select row_to_json(_e{depth}) from (select {list} from {} {inner} where {inner}.{} = {alias}.{}{extra}) _e{depth}) as {}",
                    cat.qualified(&target.name),
                    quote_ident(&rel.target_column),
                    quote_ident(&rel.column),
                    quote_ident(a.as_deref().unwrap_or(relation)),
                ));
            }
        }
    }
    Ok(out.join(", "))
}

/// A read: `GET /<table>`. Answers (rows returned, JSON array, total or NULL).
pub fn read(
    cat: &Catalog,
    t: &Table,
    q: &Query,
    offset: u64,
    limit: Option<u64>,
    count: bool,
) -> Result<Statement, ApiError> {
    let mut p = Params::default();
    check_embedded(q)?;
    let list = select_list(cat, t, "_t", &q.select, 0, &q.embedded, &mut p)?;
    let w = where_clause(t, &q.filters, &mut p)?;
    let order = order_clause(t, &q.order)?;
    let rel = cat.qualified(&t.name);
    let mut page = String::new();
    if let Some(l) = limit {
        page.push_str(&format!(" limit {}::bigint", p.push(l.to_string())));
    }
    if offset > 0 {
        page.push_str(&format!(" offset {}::bigint", p.push(offset.to_string())));
    }
    let total = if count {
        format!("(select count(*) from {rel} _t where {w})")
    } else {
        "null::bigint".into()
    };
    Ok(Statement {
        sql: format!(
            "select count(*), coalesce(json_agg(_r), '[]')::text, {total} from (select {list} from {rel} _t where {w}{order}{page}) _r"
        ),
        params: p.0,
    })
}

/// Every `rel.col` filter must name a relation embedded in `select`.
fn check_embedded(q: &Query) -> Result<(), ApiError> {
    for (rel, _) in &q.embedded {
        let embedded = q.select.iter().any(|i| matches!(i, SelectItem::Embed { relation, alias, .. } if alias.as_deref().unwrap_or(relation) == rel));
        if !embedded {
            return Err(ApiError::bad_request(format!(
                "the filter on `{rel}.…` needs `{rel}` embedded in select, e.g. select=*,{rel}(*)"
            )));
        }
    }
    Ok(())
}

fn mutation_result(
    cat: &Catalog,
    t: &Table,
    q: &Query,
    cte: String,
    p: &mut Params,
) -> Result<String, ApiError> {
    if !q.embedded.is_empty() {
        return Err(ApiError::bad_request(
            "filters on embedded resources only apply to reads",
        ));
    }
    let list = select_list(cat, t, "_t", &q.select, 0, &[], p)?;
    Ok(format!(
        "with _w as ({cte} returning _t.*) select count(*), coalesce(json_agg(_r), '[]')::text, null::bigint from (select {list} from _w _t) _r"
    ))
}

fn writable(t: &Table) -> Result<(), ApiError> {
    if t.is_view {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "PGRST105",
            format!("'{}' is a view: it cannot be written to", t.name),
        ));
    }
    Ok(())
}

fn payload_columns(
    t: &Table,
    obj: &serde_json::Map<String, serde_json::Value>,
) -> Result<Vec<String>, ApiError> {
    obj.keys()
        .map(|k| {
            t.column(k).map(|c| quote_ident(&c.name)).ok_or_else(|| {
                let e = ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "PGRST204",
                    format!(
                        "Could not find the '{k}' column of '{}' in the schema cache",
                        t.name
                    ),
                );
                match closest(k, t.columns.iter().map(|c| c.name.as_str())) {
                    Some(h) => e.hint(format!("Perhaps you meant the '{h}' column")),
                    None => e,
                }
            })
        })
        .collect()
}

/// An insert: `POST /<table>` with one object or an array of objects with the same keys.
pub fn insert(
    cat: &Catalog,
    t: &Table,
    q: &Query,
    rows: &[serde_json::Value],
) -> Result<Statement, ApiError> {
    writable(t)?;
    let rel = cat.qualified(&t.name);
    let objects = rows
        .iter()
        .map(|r| {
            r.as_object().ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "PGRST102",
                    "All object keys must match",
                )
                .details("every element of the array must be a JSON object")
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut p = Params::default();
    let cte = match objects.first() {
        None => format!("insert into {rel} as _t select * from {rel} where false"),
        Some(first) if first.is_empty() => {
            if objects.len() > 1 {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "PGRST102",
                    "Empty objects can only be inserted one at a time",
                ));
            }
            format!("insert into {rel} as _t default values")
        }
        Some(first) => {
            let keys: Vec<&String> = first.keys().collect();
            if objects
                .iter()
                .any(|o| o.len() != keys.len() || !keys.iter().all(|k| o.contains_key(*k)))
            {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "PGRST102",
                    "All object keys must match",
                ));
            }
            let cols = payload_columns(t, first)?.join(", ");
            let json = serde_json::to_string(rows).expect("JSON values serialise");
            format!(
                "insert into {rel} as _t ({cols}) select {cols} from json_populate_recordset(null::{rel}, {}::json)",
                p.push(json)
            )
        }
    };
    Ok(Statement {
        sql: mutation_result(cat, t, q, cte, &mut p)?,
        params: p.0,
    })
}

/// An update: `PATCH /<table>?filters` with one object.
pub fn update(
    cat: &Catalog,
    t: &Table,
    q: &Query,
    obj: &serde_json::Map<String, serde_json::Value>,
) -> Result<Statement, ApiError> {
    writable(t)?;
    let rel = cat.qualified(&t.name);
    let cols = payload_columns(t, obj)?.join(", ");
    let mut p = Params::default();
    let json = serde_json::to_string(obj).expect("JSON values serialise");
    let src = p.push(json);
    let w = where_clause(t, &q.filters, &mut p)?;
    let cte = format!(
        "update {rel} as _t set ({cols}) = (select {cols} from json_populate_record(null::{rel}, {src}::json)) where {w}"
    );
    Ok(Statement {
        sql: mutation_result(cat, t, q, cte, &mut p)?,
        params: p.0,
    })
}

/// A delete: `DELETE /<table>?filters`.
pub fn delete(cat: &Catalog, t: &Table, q: &Query) -> Result<Statement, ApiError> {
    writable(t)?;
    let rel = cat.qualified(&t.name);
    let mut p = Params::default();
    let w = where_clause(t, &q.filters, &mut p)?;
    Ok(Statement {
        sql: mutation_result(
            cat,
            t,
            q,
            format!("delete from {rel} as _t where {w}"),
            &mut p,
        )?,
        params: p.0,
    })
}

/// The overload of `name` that takes exactly these named arguments (the others having
/// defaults), or PostgREST's 404.
pub fn function<'c>(
    cat: &'c Catalog,
    name: &str,
    args: &serde_json::Map<String, serde_json::Value>,
) -> Result<&'c Function, ApiError> {
    let fits = |f: &&Function| {
        args.keys().all(|k| f.args.iter().any(|a| &a.name == k))
            && f.args
                .iter()
                .all(|a| a.has_default || args.contains_key(&a.name))
    };
    cat.functions
        .get(name)
        .and_then(|fs| fs.iter().find(fits))
        .ok_or_else(|| {
            let mut keys: Vec<&str> = args.keys().map(String::as_str).collect();
            keys.sort_unstable();
            let e = ApiError::new(
                StatusCode::NOT_FOUND,
                "PGRST202",
                format!(
                    "Could not find the function {}.{name}({}) in the schema cache",
                    cat.schema,
                    keys.join(", ")
                ),
            );
            match cat.functions.get(name) {
                Some(fs) => e.hint(format!(
                    "the function takes ({})",
                    fs[0]
                        .args
                        .iter()
                        .map(|a| format!("{} {}", a.name, a.sql_type))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
                None => match closest(name, cat.functions.keys().map(String::as_str)) {
                    Some(h) => e.hint(format!(
                        "Perhaps you meant to call the function {}.{h}",
                        cat.schema
                    )),
                    None => e,
                },
            }
        })
}

/// A call: `POST /rpc/<fn>` with named arguments. Answers (rows, JSON, NULL).
pub fn call(
    cat: &Catalog,
    f: &Function,
    args: &serde_json::Map<String, serde_json::Value>,
) -> Statement {
    let mut p = Params::default();
    let body = p.push_opt(Some(
        serde_json::to_string(args).expect("JSON values serialise"),
    ));
    let named = f
        .args
        .iter()
        .filter(|a| args.contains_key(&a.name))
        .map(|a| {
            let key = quote_literal(&a.name);
            let expr = if a.is_array {
                format!(
                    "(case json_typeof({body}::json->{key}) when 'array' then array(select json_array_elements_text({body}::json->{key}))::{ty} else ({body}::json->>{key})::{ty} end)",
                    ty = a.sql_type
                )
            } else {
                format!("({body}::json->>{key})::{}", a.sql_type)
            };
            format!("{} => {expr}", quote_ident(&a.name))
        })
        .collect::<Vec<_>>()
        .join(", ");
    let call = format!("{}({named})", cat.qualified(&f.name));
    let sql = match f.returns {
        Returns::Void => format!("select 0::bigint, null::text, null::bigint from {call} _r"),
        Returns::Scalar => format!("select 1::bigint, to_json({call})::text, null::bigint"),
        Returns::SetOfScalar => format!(
            "select count(*), coalesce(json_agg(_r.v), '[]')::text, null::bigint from {call} _r(v)"
        ),
        Returns::Row => format!("select 1::bigint, to_json(_r)::text, null::bigint from {call} _r"),
        Returns::SetOfRows => {
            format!(
                "select count(*), coalesce(json_agg(_r), '[]')::text, null::bigint from {call} _r"
            )
        }
    };
    // A call without arguments has no placeholder: the body must not be bound.
    let params = if named.is_empty() { Vec::new() } else { p.0 };
    Statement { sql, params }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;
    use crate::api::{
        catalog::{Column, Table},
        query::{self, parse_query},
    };

    fn catalog() -> Catalog {
        let col = |name: &str, ty: &str| Column {
            name: name.into(),
            sql_type: ty.into(),
            is_array: false,
        };
        let t = Table {
            name: "parent_jobs".into(),
            is_view: false,
            columns: vec![
                col("id", "bigint"),
                col("name", "text"),
                col("tile_id", "text"),
                col("last_status_id", "smallint"),
            ],
            relations: vec![],
        };
        Catalog {
            schema: "cosims".into(),
            tables: BTreeMap::from([("parent_jobs".into(), t)]),
            functions: BTreeMap::new(),
        }
    }

    /// The same filter with every value replaced by `v` (lists keep their length).
    fn blank(f: &Filter) -> Filter {
        match f {
            Filter::Leaf {
                column,
                negated,
                predicate,
            } => Filter::Leaf {
                column: column.clone(),
                negated: *negated,
                predicate: match predicate {
                    Predicate::Cmp(op, _) => Predicate::Cmp(*op, "v".into()),
                    Predicate::In(vs) => Predicate::In(vec!["v".into(); vs.len()]),
                    Predicate::Is(v) => Predicate::Is(*v),
                },
            },
            Filter::Logic {
                or,
                negated,
                children,
            } => Filter::Logic {
                or: *or,
                negated: *negated,
                children: children.iter().map(blank).collect(),
            },
        }
    }

    proptest! {
        /// The SQL text depends only on the request's shape, never on its values (quotes,
        /// semicolons and all): values only ever travel as parameters.
        #[test]
        fn values_are_only_ever_parameters(filters in prop::collection::vec(query::tests::filter(), 1..4)) {
            let cat = catalog();
            let t = &cat.tables["parent_jobs"];
            let q = parse_query(&query::tests::encode(&filters), false).unwrap();
            let st = read(&cat, t, &q, 0, Some(10), true).unwrap();
            let blanked: Vec<Filter> = filters.iter().map(blank).collect();
            let qb = parse_query(&query::tests::encode(&blanked), false).unwrap();
            let sb = read(&cat, t, &qb, 0, Some(10), true).unwrap();
            prop_assert_eq!(&st.sql, &sb.sql);
            prop_assert_eq!(st.params.len(), sb.params.len());
        }
    }

    #[test]
    fn unknown_columns_are_refused_before_any_sql() {
        let cat = catalog();
        let t = &cat.tables["parent_jobs"];
        let q = parse_query("nme=eq.x", false).unwrap();
        let e = read(&cat, t, &q, 0, None, false).unwrap_err();
        assert_eq!(
            (e.status, e.code.as_str()),
            (StatusCode::BAD_REQUEST, "42703")
        );
        assert_eq!(e.message, "column parent_jobs.nme does not exist");
        assert!(e.hint.unwrap().contains("parent_jobs.name"));
        let q = parse_query("order=id%3Bdrop", false).unwrap();
        assert_eq!(read(&cat, t, &q, 0, None, false).unwrap_err().code, "42703");
    }
}
