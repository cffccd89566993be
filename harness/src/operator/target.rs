//! Where the operator tools act: the database's HTTP API or a PostgreSQL session. Both reach
//! the same triggers; values are always bound.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{OpError, failed, usage};
use crate::postgres::{ConnParams, quote_ident, redact_url};

/// A status change the trigger refused, with PostgreSQL's SQLSTATE and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// SQLSTATE (P0001 for the transition matrix).
    pub code: String,
    /// PostgreSQL's message.
    pub message: String,
}

/// A connected target.
pub enum Target {
    /// The HTTP API.
    Api {
        /// Client (loopback or not: plain HTTP, as the production API).
        http: reqwest::Client,
        /// Base URL without a trailing slash.
        base: String,
    },
    /// A PostgreSQL session.
    Db {
        /// Session.
        client: tokio_postgres::Client,
        /// URL for messages (password redacted).
        shown: String,
    },
}

/// Bounds every HTTP call: an API that hangs must not hang the operator.
const HTTP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

impl Target {
    /// The API at `base` (`http://HOST:PORT`).
    pub fn api(base: &str) -> Result<Target, OpError> {
        let base = base.trim_end_matches('/').to_owned();
        let url = reqwest::Url::parse(&base).map_err(|e| {
            usage(format!(
                "bad API URL `{}`: {e}\n(hint: use the form http://HOST:3000)",
                redact_url(&base)
            ))
        })?;
        if url.scheme() != "http" {
            return Err(usage(format!(
                "bad API URL `{}`: only http:// is supported (the production API has no TLS)",
                redact_url(&base)
            )));
        }
        let http = reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .build()
            .map_err(|e| failed(e.to_string()))?;
        Ok(Target::Api { http, base })
    }

    /// A session on the database a PostgreSQL URL names.
    pub async fn database(url: &str) -> Result<Target, OpError> {
        let params = ConnParams::parse(url).map_err(|e| usage(e.to_string()))?;
        let shown = params.display_url(&params.dbname);
        let (client, conn) = params
            .config(&params.dbname)
            .connect(tokio_postgres::NoTls)
            .await
            .map_err(|e| OpError::Unreachable(format!("failed to connect to {shown}: {e}")))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        client
            .batch_execute("set search_path = cosims, public; set timezone = 'UTC'")
            .await
            .map_err(|e| failed(db_message(&e)))?;
        Ok(Target::Db { client, shown })
    }

    /// Where, for messages.
    pub fn describe(&self) -> String {
        match self {
            Target::Api { base, .. } => format!("the API at {}", redact_url(base)),
            Target::Db { shown, .. } => format!("the database {shown}"),
        }
    }

    async fn api_json(
        &self,
        req: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<(u16, Value), OpError> {
        let Target::Api { base, .. } = self else {
            unreachable!("API call on a database target")
        };
        let resp = req.send().await.map_err(|e| {
            OpError::Unreachable(format!(
                "failed to {what}: {} is unreachable: {e}",
                redact_url(base)
            ))
        })?;
        let status = resp.status().as_u16();
        let text = resp
            .text()
            .await
            .map_err(|e| OpError::Unreachable(format!("failed to {what}: {e}")))?;
        let v = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok((status, v))
    }

    /// The one row of `cosims.system_parameters`, as the API returns it.
    pub async fn params(&self) -> Result<Map<String, Value>, OpError> {
        let v = match self {
            Target::Api { http, base } => {
                let req = http
                    .get(format!("{base}/system_parameters?id=eq.1"))
                    .header("Accept", "application/vnd.pgrst.object+json");
                let (status, v) = self.api_json(req, "read the system parameters").await?;
                if status != 200 {
                    return Err(failed(format!(
                        "failed to read the system parameters: HTTP {status}: {}",
                        api_message(&v)
                    )));
                }
                v
            }
            Target::Db { client, .. } => {
                let row = client
                    .query_one(
                        "select row_to_json(p)::text from cosims.system_parameters p where id = 1",
                        &[],
                    )
                    .await
                    .map_err(|e| {
                        failed(format!(
                            "failed to read cosims.system_parameters: {}",
                            db_message(&e)
                        ))
                    })?;
                serde_json::from_str(row.get::<_, &str>(0)).map_err(|e| failed(e.to_string()))?
            }
        };
        match v {
            Value::Object(o) => Ok(o),
            other => Err(failed(format!("unexpected system parameters: {other}"))),
        }
    }

    /// Updates the parameters (one statement, no filter: the table has one row), each value a
    /// JSON string that PostgreSQL coerces, or null. Returns the history row it created.
    pub async fn set_params(
        &self,
        values: &BTreeMap<String, Option<String>>,
    ) -> Result<(i64, String), OpError> {
        let body: Map<String, Value> = values
            .iter()
            .map(|(k, v)| (k.clone(), v.clone().map_or(Value::Null, Value::String)))
            .collect();
        match self {
            Target::Api { http, base } => {
                let req = http.patch(format!("{base}/system_parameters")).json(&body);
                let (status, v) = self.api_json(req, "update the system parameters").await?;
                if !(200..300).contains(&status) {
                    return Err(failed(format!(
                        "the API refused the update: HTTP {status}: {}",
                        api_message(&v)
                    )));
                }
                let req = http.get(format!(
                    "{base}/system_parameters_history?select=history_id,time&order=history_id.desc&limit=1"
                ));
                let (_, v) = self.api_json(req, "read the parameters' history").await?;
                let h = &v[0];
                Ok((
                    h["history_id"].as_i64().unwrap_or_default(),
                    h["time"].as_str().unwrap_or_default().to_owned(),
                ))
            }
            Target::Db { client, .. } => {
                let cols = values
                    .keys()
                    .map(|k| quote_ident(k))
                    .collect::<Vec<_>>()
                    .join(", ");
                let sql = format!(
                    "with u as (update cosims.system_parameters set ({cols}) = (select {cols} from json_populate_record(null::cosims.system_parameters, $1::text::json)) returning 1)
                     select h.history_id, to_char(h.time, 'YYYY-MM-DD\"T\"HH24:MI:SS.US') from cosims.system_parameters_history h, (select count(*) from u) n
                     order by h.history_id desc limit 1"
                );
                let json = Value::Object(body).to_string();
                let row = client.query_one(&sql, &[&json]).await.map_err(|e| {
                    failed(format!(
                        "the database refused the update: {}",
                        db_message(&e)
                    ))
                })?;
                Ok((row.get(0), row.get(1)))
            }
        }
    }

    /// One page of jobs of `table` (`(job id, parent job id)`), keyset-paged on the parent id.
    pub async fn select_jobs(
        &self,
        table: &str,
        sel: &Selection,
        after: i64,
        limit: u32,
    ) -> Result<Vec<(i64, i64)>, OpError> {
        match self {
            Target::Api { http, base } => {
                // The serializer is not `Send`: built and finished before any await.
                let (path, query) = {
                    let mut q = form_urlencoded::Serializer::new(String::new());
                    q.append_pair("select", "id,fk_parent_job_id");
                    q.append_pair("fk_parent_job_id", &format!("gt.{after}"));
                    q.append_pair("order", "fk_parent_job_id");
                    q.append_pair("limit", &limit.to_string());
                    let path = match sel.statuses.as_slice() {
                        [] => table.to_owned(),
                        s => {
                            // The dashboard view carries the parent's last status (and hides jobs
                            // without any, which have nothing to patch).
                            q.append_pair("status_id", &format!("in.({})", join(s)));
                            format!("{}_view", table)
                        }
                    };
                    if let Some((col, from, to)) = &sel.window {
                        q.append_pair(col, &format!("gte.{from}"));
                        q.append_pair(col, &format!("lt.{to}"));
                    }
                    if !sel.ids.is_empty() {
                        q.append_pair("id", &format!("in.({})", join(&sel.ids)));
                    }
                    (path, q.finish())
                };
                let req = http.get(format!("{base}/{path}?{query}"));
                let (status, v) = self.api_json(req, "select the jobs").await?;
                if status != 200 {
                    return Err(failed(format!(
                        "failed to select the jobs: HTTP {status}: {}",
                        api_message(&v)
                    )));
                }
                Ok(v.as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|r| {
                                Some((r["id"].as_i64()?, r["fk_parent_job_id"].as_i64()?))
                            })
                            .collect()
                    })
                    .unwrap_or_default())
            }
            Target::Db { client, .. } => {
                let statuses: Vec<i16> = sel.statuses.iter().map(|s| *s as i16).collect();
                let mut sql = format!(
                    "select c.id, c.fk_parent_job_id from cosims.{} c join cosims.parent_jobs p on p.id = c.fk_parent_job_id
                     where c.fk_parent_job_id > $1 and (cardinality($2::smallint[]) = 0 or p.last_status_id = any($2))
                       and (cardinality($3::bigint[]) = 0 or c.id = any($3))",
                    quote_ident(table)
                );
                let (from, to) = match &sel.window {
                    Some((col, from, to)) => {
                        sql.push_str(&format!(
                            " and c.{col} >= $4::text::timestamp and c.{col} < $5::text::timestamp",
                            col = quote_ident(col)
                        ));
                        (from.clone(), to.clone())
                    }
                    None => {
                        sql.push_str(" and $4::text is null and $5::text is null");
                        (String::new(), String::new())
                    }
                };
                sql.push_str(" order by c.fk_parent_job_id limit $6");
                let (f, t): (Option<&str>, Option<&str>) = if sel.window.is_some() {
                    (Some(&from), Some(&to))
                } else {
                    (None, None)
                };
                let rows = client
                    .query(
                        &sql,
                        &[&after, &statuses, &sel.ids, &f, &t, &i64::from(limit)],
                    )
                    .await
                    .map_err(|e| {
                        failed(format!("failed to select the jobs: {}", db_message(&e)))
                    })?;
                Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
            }
        }
    }

    /// The current status of each job: the last history row, as the trigger reads it
    /// (`last_job_status_id()`), not `parent_jobs.last_status_id`.
    pub async fn current_status(&self, parents: &[i64]) -> Result<BTreeMap<i64, u8>, OpError> {
        let rows: Vec<(i64, i64)> = match self {
            Target::Api { http, base } => {
                let req = http
                    .post(format!("{base}/rpc/last_job_status_id"))
                    .json(&serde_json::json!({ "parent_job_ids": parents }));
                let (status, v) = self.api_json(req, "read the jobs' statuses").await?;
                if status != 200 {
                    return Err(failed(format!(
                        "failed to read the jobs' statuses: HTTP {status}: {}",
                        api_message(&v)
                    )));
                }
                v.as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|r| {
                                Some((r["parent_job_id"].as_i64()?, r["status"].as_i64()?))
                            })
                            .collect()
                    })
                    .unwrap_or_default()
            }
            Target::Db { client, .. } => client
                .query(
                    "select parent_job_id, status::bigint from cosims.last_job_status_id($1::bigint[])",
                    &[&parents],
                )
                .await
                .map_err(|e| {
                    failed(format!("failed to read the jobs' statuses: {}", db_message(&e)))
                })?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect(),
        };
        Ok(rows.into_iter().map(|(j, s)| (j, s as u8)).collect())
    }

    /// Posts one status change through the transition trigger.
    pub async fn post_status(
        &self,
        parent: i64,
        status: u8,
    ) -> Result<Result<(), Refusal>, OpError> {
        match self {
            Target::Api { http, base } => {
                let req = http
                    .post(format!("{base}/job_status_changes"))
                    .json(&serde_json::json!({"fk_parent_job_id": parent, "job_status": status}));
                let (code, v) = self.api_json(req, "post a status change").await?;
                if code == 201 {
                    return Ok(Ok(()));
                }
                if code >= 500 || v.get("code").is_none() {
                    return Err(failed(format!(
                        "the API failed on job {parent}: HTTP {code}: {}",
                        api_message(&v)
                    )));
                }
                Ok(Err(Refusal {
                    code: v["code"].as_str().unwrap_or_default().to_owned(),
                    message: v["message"].as_str().unwrap_or_default().to_owned(),
                }))
            }
            Target::Db { client, .. } => {
                match client
                    .execute(
                        "insert into cosims.job_status_changes (fk_parent_job_id, job_status) values ($1, $2)",
                        &[&parent, &i16::from(status)],
                    )
                    .await
                {
                    Ok(_) => Ok(Ok(())),
                    Err(e) => match e.as_db_error() {
                        Some(db) => Ok(Err(Refusal {
                            code: db.code().code().to_owned(),
                            message: db.message().to_owned(),
                        })),
                        None => Err(failed(format!("failed to post a status change: {e}"))),
                    },
                }
            }
        }
    }
}

/// How jobs are selected (all criteria must hold).
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Last statuses (ids); empty = any.
    pub statuses: Vec<u8>,
    /// A time window `[from, to)` on a timestamp column of the job table.
    pub window: Option<(String, String, String)>,
    /// Job ids (the job table's `id`, as `job.id` in the runbook's script); empty = any.
    pub ids: Vec<i64>,
}

fn join<T: ToString>(v: &[T]) -> String {
    v.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

fn api_message(v: &Value) -> String {
    match (v.get("code"), v.get("message")) {
        (Some(c), Some(m)) => format!(
            "{} ({})",
            m.as_str().unwrap_or_default(),
            c.as_str().unwrap_or_default()
        ),
        _ => v.to_string(),
    }
}

fn db_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}
