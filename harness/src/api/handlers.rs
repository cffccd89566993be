//! Request handling: routing by path, PostgREST's headers (`Prefer`, `Range`, `Accept`), and
//! the response shapes.

use std::sync::Arc;

use axum::{
    Router,
    body::Bytes,
    extract::{DefaultBodyLimit, State as AxState},
    http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use serde_json::{Map, Value};

use super::{
    MAX_BODY, State,
    error::ApiError,
    query::{self, Query},
    sql::{self, Statement},
};

const SINGULAR: &str = "application/vnd.pgrst.object+json";

pub(crate) fn router(state: Arc<State>) -> Router {
    Router::new()
        .fallback(handle)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// What `Prefer` asks for.
#[derive(Debug, Default)]
struct Prefer {
    representation: bool,
    count: bool,
}

fn prefer(headers: &HeaderMap) -> Prefer {
    let mut p = Prefer::default();
    for v in headers.get_all("prefer") {
        for token in v.to_str().unwrap_or_default().split(',') {
            match token.trim() {
                "return=representation" => p.representation = true,
                "count=exact" | "count=planned" | "count=estimated" => p.count = true,
                _ => {}
            }
        }
    }
    p
}

/// `Range: a-b` / `a-` (items), as (offset, optional last index).
fn range(headers: &HeaderMap) -> Result<Option<(u64, Option<u64>)>, ApiError> {
    let Some(v) = headers.get(header::RANGE) else {
        return Ok(None);
    };
    let text = v.to_str().unwrap_or_default().trim();
    let text = text.strip_prefix("items=").unwrap_or(text);
    let bad = || {
        ApiError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "PGRST103",
            "Requested range not satisfiable",
        )
        .details(format!("`Range: {text}`: expected FIRST-LAST or FIRST-"))
    };
    let (a, b) = text.split_once('-').ok_or_else(bad)?;
    let a: u64 = a.parse().map_err(|_| bad())?;
    let b = if b.is_empty() {
        None
    } else {
        Some(b.parse::<u64>().map_err(|_| bad())?)
    };
    if b.is_some_and(|b| b < a) {
        return Err(bad());
    }
    Ok(Some((a, b)))
}

fn singular(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains(SINGULAR))
}

async fn handle(
    AxState(state): AxState<Arc<State>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match route(&state, &method, &uri, &headers, body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

fn decode_segment(s: &str) -> Result<String, ApiError> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| ApiError::bad_request("the path is not valid UTF-8"))
}

async fn route(
    state: &State,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let path = uri.path();
    let raw_query = uri.query().unwrap_or_default();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method.clone(), segments.as_slice()) {
        (Method::GET | Method::HEAD, [""]) => Ok(root(state)),
        (Method::POST, ["rpc", name]) => {
            let args = json_object(headers, &body, "function arguments")?;
            rpc(state, &decode_segment(name)?, args, false, headers).await
        }
        (Method::GET, ["rpc", name]) => {
            let q = query::parse_query(raw_query, true)?;
            let args: Map<String, Value> = q
                .other
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect();
            rpc(state, &decode_segment(name)?, args, true, headers).await
        }
        (_, ["rpc", _]) => Err(method_not_allowed(method)),
        (m, [name]) if !name.is_empty() => {
            let name = decode_segment(name)?;
            let table = sql::table(&state.catalog, &name)?;
            let q = query::parse_query(raw_query, false)?;
            match m {
                Method::GET | Method::HEAD => {
                    read(state, table, &q, headers, m == Method::HEAD).await
                }
                Method::POST => {
                    let rows = json_rows(headers, &body)?;
                    let st = sql::insert(&state.catalog, table, &q, &rows)?;
                    mutate(state, st, headers, StatusCode::CREATED).await
                }
                Method::PATCH => {
                    let obj = json_object(headers, &body, "the update")?;
                    if obj.is_empty() {
                        return Ok(StatusCode::NO_CONTENT.into_response());
                    }
                    let st = sql::update(&state.catalog, table, &q, &obj)?;
                    mutate(state, st, headers, StatusCode::OK).await
                }
                Method::DELETE => {
                    let st = sql::delete(&state.catalog, table, &q)?;
                    mutate(state, st, headers, StatusCode::OK).await
                }
                Method::OPTIONS => Ok((
                    StatusCode::OK,
                    [(header::ALLOW, "OPTIONS,GET,HEAD,POST,PATCH,DELETE")],
                )
                    .into_response()),
                _ => Err(method_not_allowed(method)),
            }
        }
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "PGRST125",
            format!("Invalid path specified in request URL: {path}"),
        )),
    }
}

fn method_not_allowed(m: &Method) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "PGRST117",
        format!("Unsupported HTTP method: {m}"),
    )
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
}

fn invalid_json(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "PGRST102", "Empty or invalid json")
        .details(e.to_string())
}

/// The body as JSON: an HTML form becomes one object of strings (as the Python client's
/// `data=` posts are read by PostgREST).
fn body_json(headers: &HeaderMap, body: &Bytes) -> Result<Value, ApiError> {
    if is_form(headers) {
        let obj: Map<String, Value> = form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        return Ok(Value::Object(obj));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    serde_json::from_slice(body).map_err(invalid_json)
}

fn json_object(
    headers: &HeaderMap,
    body: &Bytes,
    what: &str,
) -> Result<Map<String, Value>, ApiError> {
    match body_json(headers, body)? {
        Value::Object(o) => Ok(o),
        _ => Err(invalid_json(format!("{what} must be a JSON object"))),
    }
}

fn json_rows(headers: &HeaderMap, body: &Bytes) -> Result<Vec<Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) && !is_form(headers) {
        return Err(invalid_json("the body is empty"));
    }
    match body_json(headers, body)? {
        Value::Array(a) => Ok(a),
        o @ Value::Object(_) => Ok(vec![o]),
        _ => Err(invalid_json(
            "expected a JSON object or an array of objects",
        )),
    }
}

/// Runs a statement answering (rows, JSON, total).
async fn run(
    state: &State,
    st: &Statement,
    read_only: bool,
) -> Result<(i64, Option<String>, Option<i64>), ApiError> {
    let mut conn = state.pool.get().await?;
    let prepared = conn.prepare(&st.sql).await?;
    let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = st
        .params
        .iter()
        .map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync))
        .collect();
    let row = if read_only {
        let tx = conn
            .client
            .build_transaction()
            .read_only(true)
            .start()
            .await?;
        let row = tx.query_one(&prepared, &params).await?;
        tx.commit().await?;
        row
    } else {
        conn.client.query_one(&prepared, &params).await?
    };
    Ok((row.get(0), row.get(1), row.get(2)))
}

fn json_response(status: StatusCode, body: String, singular: bool) -> Response {
    let ct = if singular {
        "application/vnd.pgrst.object+json; charset=utf-8"
    } else {
        "application/json; charset=utf-8"
    };
    (status, [(header::CONTENT_TYPE, ct)], body).into_response()
}

/// `[x]` → `x`, or PostgREST's 406 when there is not exactly one row.
fn single(rows: i64, json: String) -> Result<String, ApiError> {
    if rows != 1 {
        return Err(ApiError::new(
            StatusCode::NOT_ACCEPTABLE,
            "PGRST116",
            "JSON object requested, multiple (or no) rows returned",
        )
        .details(format!("The result contains {rows} rows")));
    }
    Ok(json[1..json.len() - 1].to_owned())
}

async fn read(
    state: &State,
    table: &super::catalog::Table,
    q: &Query,
    headers: &HeaderMap,
    head: bool,
) -> Result<Response, ApiError> {
    let p = prefer(headers);
    // The query's limit/offset intersected with the Range header.
    let mut offset = q.offset.unwrap_or(0);
    let mut limit = q.limit;
    let range = range(headers)?;
    if let Some((first, last)) = range {
        offset = offset.saturating_add(first);
        let span = last.map(|l| l - first + 1);
        limit = match (limit.map(|l| l.saturating_sub(first)), span) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    let st = sql::read(&state.catalog, table, q, offset, limit, p.count)?;
    let (rows, json, total) = run(state, &st, false).await?;
    let json = json.unwrap_or_else(|| "[]".into());
    let total_text = total.map_or("*".to_string(), |t| t.to_string());
    let content_range = if rows == 0 {
        format!("*/{total_text}")
    } else {
        format!("{offset}-{}/{total_text}", offset + rows as u64 - 1)
    };
    let partial =
        total.is_some_and(|t| rows > 0 && (offset > 0 || (offset + rows as u64) < t as u64));
    if let Some(t) = total
        && (range.is_some() || q.offset.is_some())
        && offset > 0
        && t > 0
        && offset >= t as u64
    {
        return Err(ApiError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "PGRST103",
            "Requested range not satisfiable",
        )
        .details(format!(
            "An offset of {offset} was requested, but there are only {t} rows."
        )));
    }
    let is_single = singular(headers);
    let body = if is_single { single(rows, json)? } else { json };
    let status = if partial {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let mut resp = json_response(status, if head { String::new() } else { body }, is_single);
    if let Ok(v) = HeaderValue::from_str(&content_range) {
        resp.headers_mut().insert(header::CONTENT_RANGE, v);
    }
    Ok(resp)
}

async fn mutate(
    state: &State,
    st: Statement,
    headers: &HeaderMap,
    ok: StatusCode,
) -> Result<Response, ApiError> {
    let p = prefer(headers);
    let (rows, json, _) = run(state, &st, false).await?;
    let json = json.unwrap_or_else(|| "[]".into());
    let mut resp = if p.representation {
        let is_single = singular(headers);
        let body = if is_single { single(rows, json)? } else { json };
        json_response(ok, body, is_single)
    } else if ok == StatusCode::CREATED {
        StatusCode::CREATED.into_response()
    } else {
        StatusCode::NO_CONTENT.into_response()
    };
    if let Ok(v) = HeaderValue::from_str(&format!("*/{rows}")) {
        resp.headers_mut().insert(header::CONTENT_RANGE, v);
    }
    Ok(resp)
}

async fn rpc(
    state: &State,
    name: &str,
    args: Map<String, Value>,
    via_get: bool,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let f = sql::function(&state.catalog, name, &args)?;
    if via_get && !f.read_only {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "PGRST101",
            format!("{name} is VOLATILE: call it with POST"),
        ));
    }
    let st = sql::call(&state.catalog, f, &args);
    let (rows, json, _) = run(state, &st, f.read_only).await?;
    match f.returns {
        super::catalog::Returns::Void => Ok(StatusCode::NO_CONTENT.into_response()),
        super::catalog::Returns::SetOfRows if singular(headers) => Ok(json_response(
            StatusCode::OK,
            single(rows, json.unwrap_or_else(|| "[]".into()))?,
            true,
        )),
        _ => Ok(json_response(
            StatusCode::OK,
            json.unwrap_or_else(|| "null".into()),
            false,
        )),
    }
}

/// A minimal OpenAPI document listing the paths, as PostgREST serves at `/`.
fn root(state: &State) -> Response {
    let mut paths = Map::new();
    for t in state.catalog.tables.values() {
        paths.insert(format!("/{}", t.name), Value::Object(Map::new()));
    }
    for name in state.catalog.functions.keys() {
        paths.insert(format!("/rpc/{name}"), Value::Object(Map::new()));
    }
    let doc = serde_json::json!({
        "swagger": "2.0",
        "info": {"title": "hrsi PostgREST-compatible API", "version": env!("CARGO_PKG_VERSION")},
        "basePath": "/",
        "paths": paths,
    });
    json_response(StatusCode::OK, doc.to_string(), false)
}
