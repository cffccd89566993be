//! PostgREST's error body (`code`, `message`, `details`, `hint`) and its HTTP status mapping
//! of SQLSTATEs (database.md §5.2), so that the services' `catch_errors` substring checks
//! behave as in production.

use axum::{
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

use super::query::ParseError;

/// An error answered to the client.
#[derive(Debug, Clone, Serialize)]
pub struct ApiError {
    /// HTTP status.
    #[serde(skip)]
    pub status: StatusCode,
    /// SQLSTATE, or PostgREST's own `PGRSTxxx` code.
    pub code: String,
    /// Message.
    pub message: String,
    /// Details, when any.
    pub details: Option<String>,
    /// Hint, when any.
    pub hint: Option<String>,
}

impl ApiError {
    /// An error of PostgREST itself.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: code.into(),
            message: message.into(),
            details: None,
            hint: None,
        }
    }

    /// With details.
    pub fn details(mut self, d: impl Into<String>) -> ApiError {
        self.details = Some(d.into());
        self
    }

    /// With a hint.
    pub fn hint(mut self, h: impl Into<String>) -> ApiError {
        self.hint = Some(h.into());
        self
    }

    /// A request PostgREST could not parse (`PGRST100`).
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "PGRST100", message)
    }

    /// A column the table does not have: the message PostgreSQL gives (42703), with the
    /// closest name as the hint.
    pub fn unknown_column(table: &str, column: &str, hint: Option<&str>) -> ApiError {
        let e = ApiError::new(
            StatusCode::BAD_REQUEST,
            "42703",
            format!("column {table}.{column} does not exist"),
        );
        match hint {
            Some(h) => e.hint(format!(
                "Perhaps you meant to reference the column \"{table}.{h}\"."
            )),
            None => e,
        }
    }
}

impl From<ParseError> for ApiError {
    fn from(e: ParseError) -> Self {
        ApiError::bad_request(format!("failed to parse {}", e.what)).details(e.details)
    }
}

/// The HTTP status PostgREST gives a SQLSTATE (anonymous requests).
pub fn status_for_sqlstate(code: &str) -> StatusCode {
    match code {
        "23503" | "23505" => StatusCode::CONFLICT,
        "42883" | "42P01" => StatusCode::NOT_FOUND,
        "42501" => StatusCode::UNAUTHORIZED,
        "25006" => StatusCode::METHOD_NOT_ALLOWED,
        "57014" => StatusCode::INTERNAL_SERVER_ERROR,
        "P0001" => StatusCode::BAD_REQUEST,
        c if c.starts_with("08") || c.starts_with("53") => StatusCode::SERVICE_UNAVAILABLE,
        c if c.starts_with("22") || c.starts_with("23") => StatusCode::BAD_REQUEST,
        c if c.starts_with("42") => StatusCode::BAD_REQUEST,
        c if c.starts_with("PT") => c[2..]
            .parse::<u16>()
            .ok()
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<tokio_postgres::Error> for ApiError {
    fn from(e: tokio_postgres::Error) -> Self {
        match e.as_db_error() {
            Some(db) => {
                let code = db.code().code().to_owned();
                ApiError {
                    status: status_for_sqlstate(&code),
                    code,
                    message: db.message().to_owned(),
                    details: db.detail().map(str::to_owned),
                    hint: db.hint().map(str::to_owned),
                }
            }
            None if e.is_closed() => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "PGRST001",
                "Database client error. Retrying the connection.",
            )
            .details(e.to_string()),
            None => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "PGRST000",
                "Database client error",
            )
            .details(e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_string(&self).unwrap_or_else(|_| "{}".into());
        (
            self.status,
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            body,
        )
            .into_response()
    }
}
