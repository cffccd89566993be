//! The schema cache: tables, views, columns, to-one relations and functions of the exposed
//! schema, read once from the catalogs at start (PostgREST reloads on SIGUSR1; a rehearsal
//! that changes the schema restarts the API).
//!
//! Every identifier a request names is looked up here first; only names found here, quoted,
//! ever reach SQL text.

use std::collections::BTreeMap;

use tokio_postgres::Client;

use crate::postgres::quote_ident;

/// A column of a table or view.
#[derive(Debug, Clone)]
pub struct Column {
    /// Name.
    pub name: String,
    /// The type as SQL (`format_type`), e.g. `timestamp without time zone`, `bigint[]`.
    pub sql_type: String,
    /// Whether the type is an array.
    pub is_array: bool,
}

/// A to-one relation: `table.fk_column` references `target.target_column`.
#[derive(Debug, Clone)]
pub struct Relation {
    /// The local column.
    pub column: String,
    /// The referenced table.
    pub target: String,
    /// The referenced column.
    pub target_column: String,
}

/// A table or view.
#[derive(Debug, Clone)]
pub struct Table {
    /// Name.
    pub name: String,
    /// Whether it is a view (read-only for the services).
    pub is_view: bool,
    /// Columns in order.
    pub columns: Vec<Column>,
    /// Single-column foreign keys to other tables of the schema.
    pub relations: Vec<Relation>,
}

impl Table {
    /// The column with this name.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// A function argument.
#[derive(Debug, Clone)]
pub struct Arg {
    /// Name (unnamed arguments cannot be called by name and make the function unreachable).
    pub name: String,
    /// SQL type.
    pub sql_type: String,
    /// Whether the type is an array.
    pub is_array: bool,
    /// Whether it has a default.
    pub has_default: bool,
}

/// What a function returns, which decides the JSON shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returns {
    /// `void`: no body.
    Void,
    /// One scalar value.
    Scalar,
    /// `setof` a scalar: a JSON array of values.
    SetOfScalar,
    /// One row: a JSON object.
    Row,
    /// `setof` rows or `returns table(…)`: a JSON array of objects.
    SetOfRows,
}

/// A function callable as `/rpc/<name>`.
#[derive(Debug, Clone)]
pub struct Function {
    /// Name.
    pub name: String,
    /// Input arguments in order.
    pub args: Vec<Arg>,
    /// Result shape.
    pub returns: Returns,
    /// STABLE or IMMUTABLE: run in a read-only transaction, callable with GET.
    pub read_only: bool,
}

/// Everything the API knows about the exposed schema.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// The schema name.
    pub schema: String,
    /// Tables and views by name.
    pub tables: BTreeMap<String, Table>,
    /// Functions by name (overloads in catalogue order).
    pub functions: BTreeMap<String, Vec<Function>>,
}

impl Catalog {
    /// Reads the schema cache.
    pub async fn load(client: &Client, schema: &str) -> Result<Catalog, tokio_postgres::Error> {
        let mut tables = BTreeMap::new();
        let rows = client
            .query(
                "select c.relname::text, c.relkind::text = 'v' or c.relkind::text = 'm'
                 from pg_class c join pg_namespace n on n.oid = c.relnamespace
                 where n.nspname = $1 and c.relkind in ('r', 'v', 'm', 'p', 'f')
                 order by 1",
                &[&schema],
            )
            .await?;
        for r in rows {
            let name: String = r.get(0);
            tables.insert(
                name.clone(),
                Table {
                    name,
                    is_view: r.get(1),
                    columns: Vec::new(),
                    relations: Vec::new(),
                },
            );
        }
        let cols = client
            .query(
                "select c.relname::text, a.attname::text, format_type(a.atttypid, null),
                        t.typcategory = 'A'
                 from pg_attribute a
                 join pg_class c on c.oid = a.attrelid
                 join pg_namespace n on n.oid = c.relnamespace
                 join pg_type t on t.oid = a.atttypid
                 where n.nspname = $1 and a.attnum > 0 and not a.attisdropped
                   and c.relkind in ('r', 'v', 'm', 'p', 'f')
                 order by c.relname, a.attnum",
                &[&schema],
            )
            .await?;
        for r in cols {
            let table: String = r.get(0);
            if let Some(t) = tables.get_mut(&table) {
                t.columns.push(Column {
                    name: r.get(1),
                    sql_type: r.get(2),
                    is_array: r.get(3),
                });
            }
        }
        let fks = client
            .query(
                "select c.relname::text, a.attname::text, tc.relname::text, ta.attname::text
                 from pg_constraint k
                 join pg_class c on c.oid = k.conrelid
                 join pg_namespace n on n.oid = c.relnamespace
                 join pg_class tc on tc.oid = k.confrelid
                 join pg_namespace tn on tn.oid = tc.relnamespace
                 join pg_attribute a on a.attrelid = k.conrelid and a.attnum = k.conkey[1]
                 join pg_attribute ta on ta.attrelid = k.confrelid and ta.attnum = k.confkey[1]
                 where k.contype = 'f' and n.nspname = $1 and tn.nspname = $1
                   and array_length(k.conkey, 1) = 1
                 order by 1, 2",
                &[&schema],
            )
            .await?;
        for r in fks {
            let table: String = r.get(0);
            if let Some(t) = tables.get_mut(&table) {
                t.relations.push(Relation {
                    column: r.get(1),
                    target: r.get(2),
                    target_column: r.get(3),
                });
            }
        }
        let mut functions: BTreeMap<String, Vec<Function>> = BTreeMap::new();
        let fns = client
            .query(
                "select p.proname::text, p.oid::bigint, p.proretset, p.provolatile::text,
                        rt.typname::text, rt.typtype::text, p.pronargs::int, p.pronargdefaults::int,
                        coalesce(p.proargnames, '{}')::text[], coalesce(p.proargmodes::text[], '{}'),
                        array(select format_type(x, null) from unnest(p.proargtypes) x),
                        array(select t.typcategory = 'A' from unnest(p.proargtypes) with ordinality u(x, i)
                              join pg_type t on t.oid = u.x order by u.i)
                 from pg_proc p
                 join pg_namespace n on n.oid = p.pronamespace
                 join pg_type rt on rt.oid = p.prorettype
                 where n.nspname = $1 and p.prokind = 'f' and rt.typname <> 'trigger'
                 order by p.proname, p.oid",
                &[&schema],
            )
            .await?;
        for r in fns {
            let name: String = r.get(0);
            let retset: bool = r.get(2);
            let volatile: String = r.get(3);
            let ret_name: String = r.get(4);
            let ret_kind: String = r.get(5);
            let nargs: i32 = r.get(6);
            let ndefaults: i32 = r.get(7);
            let names: Vec<String> = r.get(8);
            let modes: Vec<String> = r.get(9);
            let types: Vec<String> = r.get(10);
            let arrays: Vec<bool> = r.get(11);
            // proargnames covers all arguments (OUT ones too); keep the input ones, which
            // proargtypes lists in order.
            let input_names: Vec<String> = if modes.is_empty() {
                names.clone()
            } else {
                names
                    .iter()
                    .zip(&modes)
                    .filter(|(_, m)| matches!(m.as_str(), "i" | "b" | "v"))
                    .map(|(n, _)| n.clone())
                    .collect()
            };
            let first_default = nargs - ndefaults;
            let args = (0..nargs as usize)
                .map(|i| Arg {
                    name: input_names.get(i).cloned().unwrap_or_default(),
                    sql_type: types.get(i).cloned().unwrap_or_default(),
                    is_array: arrays.get(i).copied().unwrap_or(false),
                    has_default: i as i32 >= first_default,
                })
                .collect();
            let composite = ret_kind == "c" || ret_name == "record";
            let returns = match (ret_name.as_str(), retset, composite) {
                ("void", _, _) => Returns::Void,
                (_, true, true) => Returns::SetOfRows,
                (_, false, true) => Returns::Row,
                (_, true, false) => Returns::SetOfScalar,
                (_, false, false) => Returns::Scalar,
            };
            functions.entry(name.clone()).or_default().push(Function {
                name,
                args,
                returns,
                read_only: volatile != "v",
            });
        }
        Ok(Catalog {
            schema: schema.to_owned(),
            tables,
            functions,
        })
    }

    /// The schema-qualified, quoted name of a relation of the schema.
    pub fn qualified(&self, name: &str) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(name))
    }
}
