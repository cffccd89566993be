//! Reversibility (`--revert FILE`): on its own clone, apply the patch, apply the revert,
//! apply the patch again, and compare schema and data digests: after the revert the
//! database should be as before the patch, and re-applying should give the same result as
//! the first time.

use std::collections::{BTreeMap, BTreeSet};

use tokio_postgres::Client;

use super::{
    apply::{self, Limits, Mode},
    parse::Patch,
    report::{Attempt, RevertReport},
};

/// The schema as a set of lines, and every table's row count and checksum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    /// One line per column, constraint, index, function, view, trigger, schema.
    pub schema: BTreeSet<String>,
    /// `schema.table` → (rows, md5 of the rows).
    pub data: BTreeMap<String, (i64, String)>,
}

const SCHEMA_SQL: &str = "
with ns as (select oid, nspname from pg_catalog.pg_namespace where nspname <> 'information_schema' and nspname !~ '^pg_')
select 'schema ' || nspname from ns
union all
select 'column ' || c.oid::regclass::text || '.' || a.attname || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod)
       || case when a.attnotnull then ' not null' else '' end
       || coalesce(' default ' || pg_catalog.pg_get_expr(d.adbin, d.adrelid), '')
  from pg_catalog.pg_attribute a join pg_catalog.pg_class c on c.oid = a.attrelid join ns on ns.oid = c.relnamespace
  left join pg_catalog.pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
 where c.relkind in ('r','p','v','m') and a.attnum > 0 and not a.attisdropped
union all
select 'constraint ' || co.conrelid::regclass::text || ' ' || co.conname || ' ' || pg_catalog.pg_get_constraintdef(co.oid)
  from pg_catalog.pg_constraint co join ns on ns.oid = co.connamespace
union all
select 'index ' || pg_catalog.pg_get_indexdef(i.indexrelid)
  from pg_catalog.pg_index i join pg_catalog.pg_class c on c.oid = i.indexrelid join ns on ns.oid = c.relnamespace
union all
select 'function ' || p.oid::regprocedure::text || ' ' || pg_catalog.md5(coalesce(p.prosrc, ''))
  from pg_catalog.pg_proc p join ns on ns.oid = p.pronamespace
union all
select 'view ' || c.oid::regclass::text || ' ' || pg_catalog.md5(pg_catalog.pg_get_viewdef(c.oid))
  from pg_catalog.pg_class c join ns on ns.oid = c.relnamespace where c.relkind in ('v','m')
union all
select 'trigger ' || pg_catalog.pg_get_triggerdef(t.oid)
  from pg_catalog.pg_trigger t join pg_catalog.pg_class c on c.oid = t.tgrelid join ns on ns.oid = c.relnamespace
 where not t.tgisinternal";

/// Reads the digest (as the patch role: no code of the patch runs with more rights).
pub async fn digest(client: &Client) -> Result<Digest, tokio_postgres::Error> {
    let schema = client
        .query(SCHEMA_SQL, &[])
        .await?
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect();
    let mut data = BTreeMap::new();
    let tables = client
        .query(
            "select pg_catalog.quote_ident(schemaname) || '.' || pg_catalog.quote_ident(tablename) from pg_catalog.pg_tables
             where schemaname <> 'information_schema' and schemaname !~ '^pg_' order by 1",
            &[],
        )
        .await?;
    for t in tables {
        let name: String = t.get(0);
        // The name was quoted by the server: safe in SQL.
        let q = format!(
            "select count(*), coalesce(pg_catalog.md5(string_agg(t::text, E'\\n' order by t::text)), '') from {name} t"
        );
        let r = client.query_one(&q, &[]).await?;
        data.insert(name, (r.get(0), r.get(1)));
    }
    Ok(Digest { schema, data })
}

/// Runs the revert check on a fresh clone.
pub async fn check(
    client: &Client,
    patch: &Patch,
    revert: &Patch,
    limits: Limits,
) -> Result<RevertReport, tokio_postgres::Error> {
    let d0 = digest(client).await?;
    let first = apply::run(client, patch, Mode::Transaction, limits, None).await;
    let d1 = digest(client).await?;
    let rv = apply::run(client, revert, Mode::Transaction, limits, None).await;
    let d2 = digest(client).await?;
    let schema_differs: Vec<String> = d0
        .schema
        .symmetric_difference(&d2.schema)
        .take(5)
        .map(|l| {
            let sign = if d0.schema.contains(l) {
                "missing"
            } else {
                "extra"
            };
            format!("{sign}: {l}")
        })
        .collect();
    let data_differs: Vec<String> = d0
        .data
        .keys()
        .chain(d2.data.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|t| d0.data.get(*t) != d2.data.get(*t))
        .map(|t| {
            let rows = |d: &Digest| d.data.get(t).map(|x| x.0.to_string()).unwrap_or("-".into());
            format!("{t} ({} rows before, {} after)", rows(&d0), rows(&d2))
        })
        .collect();
    let (reapply, reapply_same) = if rv.applied() && first.applied() {
        let again = apply::run(client, patch, Mode::Transaction, limits, None).await;
        let d3 = digest(client).await?;
        (
            Some(Attempt::from_run(&again)),
            Some(d3.schema == d1.schema),
        )
    } else {
        (None, None)
    };
    Ok(RevertReport {
        file: revert.path.display().to_string(),
        revert: Attempt::from_run(&rv),
        schema_restored: schema_differs.is_empty(),
        data_differs,
        schema_differs,
        reapply,
        reapply_same,
    })
}
