//! The error type of the PostgreSQL layer (and of the backup and patch layers built on it).

use std::path::PathBuf;

/// What went wrong while setting up or using a PostgreSQL server.
///
/// Messages follow the project style: a lowercase "failed to …" fragment, the object in
/// backticks, and a `(hint: …)` on a new line where the fix is known. Passwords never appear:
/// URLs are redacted before they are stored here.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No PostgreSQL server binaries could be found.
    #[error(
        "no PostgreSQL server binaries found (looked on PATH, in `pg_config --bindir` and under `/usr/lib/postgresql/*/bin`)\n(hint: install them, e.g. `apt-get install -y postgresql`, or set HRSI_PG_BINDIR)"
    )]
    NoBinaries,
    /// A program the harness needs is not installed.
    #[error("`{program}` is not installed or not on PATH\n(hint: {hint})")]
    MissingTool {
        /// The program name.
        program: String,
        /// How to install it.
        hint: String,
    },
    /// An I/O operation failed.
    #[error("failed to {action}: {source}")]
    Io {
        /// What was being done.
        action: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// `initdb` or the server failed; the log tail says why.
    #[error("failed to {action}; the server log says:\n{log}")]
    Server {
        /// What was being done.
        action: String,
        /// The last lines of the log.
        log: String,
    },
    /// A SQL statement failed.
    #[error("failed to {action}: {message}")]
    Sql {
        /// What was being done.
        action: String,
        /// The server's message, with its SQLSTATE when there is one.
        message: String,
        /// The SQLSTATE code, when the server sent one.
        code: Option<String>,
    },
    /// A database or cluster that the harness did not create was about to be changed.
    #[error(
        "refusing to {action} `{database}`: it does not carry the hrsi ownership mark\n(hint: the harness only changes or drops databases and clusters it created itself)"
    )]
    NotOwned {
        /// What was refused.
        action: String,
        /// The database.
        database: String,
    },
    /// A URL or another user input is invalid.
    #[error("invalid {what} `{value}`: {reason}\n(hint: {hint})")]
    BadInput {
        /// What kind of input.
        what: String,
        /// The value, with any password redacted.
        value: String,
        /// Why it is invalid.
        reason: String,
        /// How to fix it.
        hint: String,
    },
    /// A file given by the user does not exist or cannot be read.
    #[error("failed to read `{}`: {source}\n(hint: check the path)", path.display())]
    ReadInput {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A command-line tool (psql, pg_dumpall, borg) failed.
    #[error("`{command}` failed ({status}):\n{stderr}")]
    Tool {
        /// The command, without secrets.
        command: String,
        /// Its exit status.
        status: String,
        /// The tail of its standard error.
        stderr: String,
    },
    /// A SQL script (a schema, a patch, a dump) failed at a given file and line.
    #[error("{0}")]
    Script(Box<crate::schema::ScriptError>),
    /// The Docker backend could not start a container.
    #[error(
        "failed to start a PostgreSQL container: {0}\n(hint: is a Docker daemon running? without one, drop `--features docker` and use the native backend)"
    )]
    Docker(String),
}

impl Error {
    /// Wraps an I/O error with what was being done.
    pub fn io(action: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            action: action.into(),
            source,
        }
    }

    /// Wraps a tokio-postgres error with what was being done, keeping the SQLSTATE.
    pub fn sql(action: impl Into<String>, err: &tokio_postgres::Error) -> Error {
        let (message, code) = match err.as_db_error() {
            Some(db) => (
                format!("{}: {}", db.code().code(), db.message()),
                Some(db.code().code().to_string()),
            ),
            None => {
                // tokio-postgres keeps the cause (e.g. "Connection refused") in the source.
                let mut text = err.to_string();
                let mut cause = std::error::Error::source(err);
                while let Some(c) = cause {
                    text.push_str(&format!(": {c}"));
                    cause = c.source();
                }
                (text, None)
            }
        };
        Error::Sql {
            action: action.into(),
            message,
            code,
        }
    }

    /// Whether the error comes from the user's input rather than from the environment.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            Error::BadInput { .. } | Error::ReadInput { .. } | Error::Script(_)
        )
    }
}

/// Result alias for this layer.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Keeps the last `n` lines of a log, for error messages.
pub(crate) fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
