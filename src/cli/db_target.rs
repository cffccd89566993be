//! Where the operator tools (`hrsi params`, `hrsi jobs patch`) act: the database's HTTP API,
//! as the real operator scripts do (`COSIMS_DB_HTTP_API_BASE_URL`), or a PostgreSQL URL, as
//! `sudo -u postgres psql` does. The tools themselves live in `hrsi_harness::operator`, shared
//! with the rehearsal's `set_param` and `patch_jobs` steps.

use anyhow::Result;
use hrsi_harness::operator::OpError;
pub use hrsi_harness::operator::{Refusal, Selection, Target};

/// Which database to act on.
#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
    /// The database's HTTP API (PostgREST), e.g. `http://127.0.0.1:3000`
    /// [default: $COSIMS_DB_HTTP_API_BASE_URL].
    #[arg(long, value_name = "URL")]
    pub api: Option<String>,
    /// A PostgreSQL URL instead of the API [default: $DATABASE_URL when
    /// $COSIMS_DB_HTTP_API_BASE_URL is not set].
    #[arg(long, value_name = "URL", conflicts_with = "api")]
    pub database_url: Option<String>,
}

/// Connects to the target the arguments (or the environment) name.
pub async fn connect(args: &TargetArgs) -> Result<Target> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let (api, db) = match (&args.api, &args.database_url) {
        (Some(a), _) => (Some(a.clone()), None),
        (None, Some(d)) => (None, Some(d.clone())),
        (None, None) => match env("COSIMS_DB_HTTP_API_BASE_URL") {
            Some(a) => (Some(a), None),
            None => (None, env("DATABASE_URL")),
        },
    };
    if let Some(api) = api {
        return Ok(Target::api(&api)?);
    }
    let Some(db) = db else {
        return Err(usage(
            "no database to act on\n(hint: pass --api URL or --database-url URL, or set COSIMS_DB_HTTP_API_BASE_URL, e.g. with `eval \"$(hrsi up)\"`)",
        ));
    };
    Ok(Target::database(&db).await?)
}

/// An error meaning "bad input" (exit code 2).
#[derive(Debug)]
pub struct Usage(pub String);
impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for Usage {}

/// An error meaning "could not reach or set up" (exit code 3).
#[derive(Debug)]
pub struct Setup(pub anyhow::Error);
impl std::fmt::Display for Setup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.0)
    }
}
impl std::error::Error for Setup {}

/// Bad input.
pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Usage(msg.into()))
}

/// The exit code for an error: usage 2, setup 3, anything else 1.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    match e.downcast_ref::<OpError>() {
        Some(OpError::Usage(_)) => return super::exit::USAGE,
        Some(OpError::Unreachable(_)) => return super::exit::SETUP,
        Some(OpError::Failed(_)) => return super::exit::FAILED,
        None => {}
    }
    if e.downcast_ref::<Usage>().is_some() {
        super::exit::USAGE
    } else if e.downcast_ref::<Setup>().is_some() {
        super::exit::SETUP
    } else {
        super::exit::FAILED
    }
}

/// Asks before a change: on a terminal, a y/N question; otherwise `--yes` is required.
pub fn confirm(yes: bool, what: &str) -> Result<bool> {
    use std::io::{BufRead, IsTerminal, Write};
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        return Err(usage(format!(
            "refusing to {what} without confirmation: stdin is not a terminal\n(hint: check the list above, then run again with --yes)"
        )));
    }
    eprint!("{what}? [y/N] ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}
