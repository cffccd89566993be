//! Connection URLs for existing servers (`--postgres-url`): parsing and password redaction.

use std::str::FromStr;

use tokio_postgres::config::Host;

use super::error::{Error, Result};

/// How to reach a server: host (a name or a unix socket directory), port, user, password.
#[derive(Clone)]
pub struct ConnParams {
    /// Host name, IP or unix socket directory (an absolute path).
    pub host: String,
    /// Port.
    pub port: u16,
    /// User name.
    pub user: String,
    /// Password, if any. Never printed: `Debug` redacts it.
    pub password: Option<String>,
    /// The database named in the URL (the maintenance database the harness connects to).
    pub dbname: String,
}

impl std::fmt::Debug for ConnParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnParams")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("dbname", &self.dbname)
            .finish()
    }
}

impl ConnParams {
    /// Parses a `postgres://` / `postgresql://` URL (or a libpq key=value string).
    pub fn parse(url: &str) -> Result<ConnParams> {
        let bad = |reason: &str| Error::BadInput {
            what: "PostgreSQL URL".into(),
            value: redact_url(url),
            reason: reason.into(),
            hint: "use the form postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE".into(),
        };
        let trimmed = url.trim();
        if trimmed.is_empty() {
            return Err(bad("it is empty"));
        }
        let looks_like_url =
            trimmed.starts_with("postgres://") || trimmed.starts_with("postgresql://");
        if trimmed.contains("://") && !looks_like_url {
            return Err(bad("the scheme must be postgres:// or postgresql://"));
        }
        if !looks_like_url && !trimmed.contains('=') {
            return Err(bad(
                "it is neither a postgres:// URL nor a key=value string",
            ));
        }
        let config = tokio_postgres::Config::from_str(trimmed).map_err(|e| bad(&e.to_string()))?;
        let host = match config.get_hosts() {
            [] => "localhost".to_string(),
            [Host::Tcp(h)] => h.clone(),
            [Host::Unix(p)] => p.display().to_string(),
            _ => return Err(bad("several hosts are not supported")),
        };
        let port = match config.get_ports() {
            [] => 5432,
            [p] => *p,
            _ => return Err(bad("several ports are not supported")),
        };
        let user = config.get_user().unwrap_or("postgres").to_string();
        let password = config
            .get_password()
            .map(|p| String::from_utf8_lossy(p).into_owned());
        let dbname = config.get_dbname().unwrap_or("postgres").to_string();
        Ok(ConnParams {
            host,
            port,
            user,
            password,
            dbname,
        })
    }

    /// A tokio-postgres configuration for one database.
    pub fn config(&self, dbname: &str) -> tokio_postgres::Config {
        let mut c = tokio_postgres::Config::new();
        if self.host.starts_with('/') {
            c.host_path(&self.host);
        } else {
            c.host(&self.host);
        }
        c.port(self.port)
            .user(&self.user)
            .dbname(dbname)
            .application_name("hrsi-harness");
        if let Some(p) = &self.password {
            c.password(p);
        }
        c
    }

    /// Sets the libpq environment of a client tool (psql, pg_dumpall) for one database.
    ///
    /// The environment is cleared first: a child sees neither `PGPASSWORD` nor
    /// `HRSI_POSTGRES_URL` nor anything else of ours. The password reaches it only through
    /// `passfile`, a 0600 `PGPASSFILE` ([`super::PassFile`]), never the environment or the
    /// command line (both visible in `/proc`).
    pub fn apply_env(
        &self,
        cmd: &mut std::process::Command,
        dbname: &str,
        passfile: Option<&std::path::Path>,
    ) {
        cmd.env_clear()
            .env("PATH", SAFE_PATH)
            .env("LC_ALL", "C.UTF-8")
            .env("PGHOST", &self.host)
            .env("PGPORT", self.port.to_string())
            .env("PGUSER", &self.user)
            .env("PGDATABASE", dbname)
            .env("PGAPPNAME", "hrsi-harness")
            .env("PGTZ", "UTC")
            .env("PGCONNECT_TIMEOUT", "10");
        match passfile {
            Some(p) => cmd.env("PGPASSFILE", p),
            // No password: make sure no ~/.pgpass of the user running hrsi is read either.
            None => cmd.env("PGPASSFILE", "/dev/null"),
        };
    }

    /// A URL for messages: the password is replaced by `***`.
    pub fn display_url(&self, dbname: &str) -> String {
        let pw = if self.password.is_some() { ":***" } else { "" };
        if self.host.starts_with('/') {
            format!(
                "postgres://{}{pw}@/{dbname}?host={}&port={}",
                self.user, self.host, self.port
            )
        } else {
            format!(
                "postgres://{}{pw}@{}:{}/{dbname}",
                self.user, self.host, self.port
            )
        }
    }
}

/// The PATH children get: system directories only.
pub(crate) const SAFE_PATH: &str = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin";

/// Keys of a libpq connection string whose values are safe to show.
const SHOWN_KEYS: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "user",
    "dbname",
    "sslmode",
    "application_name",
    "connect_timeout",
    "target_session_attrs",
];

/// Replaces every secret of a connection string with `***`, for logs and errors.
///
/// Both forms are handled, well-formed or not: in a `postgres://` URL the password of the
/// user info and every query parameter except the [`SHOWN_KEYS`]; in a key=value string every
/// value except those of the shown keys (so `password = x`, `passwd=x` and quoted values
/// with spaces are hidden too). A string that cannot be read at all is not shown.
pub fn redact_url(url: &str) -> String {
    if let Some(scheme_end) = url.find("://") {
        let rest = &url[scheme_end + 3..];
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        let mut out = url[..scheme_end + 3].to_string();
        match authority.rfind('@') {
            Some(at) => {
                let userinfo = &authority[..at];
                match userinfo.find(':') {
                    Some(colon) => {
                        out.push_str(&userinfo[..colon]);
                        out.push_str(":***");
                    }
                    None => out.push_str(userinfo),
                }
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        out.push_str(&redact_query(&rest[authority_end..]));
        out
    } else {
        redact_key_values(url)
    }
}

fn redact_query(tail: &str) -> String {
    let Some(q) = tail.find('?') else {
        return tail.to_string();
    };
    let (path, query) = tail.split_at(q + 1);
    let params: Vec<String> = query
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((k, _)) if SHOWN_KEYS.contains(&k) => p.to_string(),
            Some((k, _)) => format!("{k}=***"),
            None => p.to_string(),
        })
        .collect();
    format!("{path}{}", params.join("&"))
}

/// libpq's key=value syntax: `key = value` with optional blanks around `=`, values bare or
/// single-quoted with backslash escapes.
fn redact_key_values(s: &str) -> String {
    let unreadable = || "<a connection string that cannot be read (not shown)>".to_string();
    let b = s.as_bytes();
    let mut i = 0;
    let mut parts = Vec::new();
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let k0 = i;
        while i < b.len() && b[i] != b'=' && !b[i].is_ascii_whitespace() {
            i += 1;
        }
        let key = &s[k0..i];
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() || b[i] != b'=' || key.is_empty() {
            return unreadable();
        }
        i += 1;
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let v0 = i;
        if i < b.len() && b[i] == b'\'' {
            i += 1;
            loop {
                match b.get(i) {
                    None => return unreadable(),
                    Some(b'\\') => i += 2,
                    Some(b'\'') => {
                        i += 1;
                        break;
                    }
                    Some(_) => i += 1,
                }
            }
        } else {
            while i < b.len() && !b[i].is_ascii_whitespace() {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
        }
        let value = s.get(v0..i.min(b.len())).unwrap_or("");
        if SHOWN_KEYS.contains(&key) && !value.starts_with('\'') {
            parts.push(format!("{key}={value}"));
        } else {
            parts.push(format!("{key}=***"));
        }
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_everywhere() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db.example:5433/prod"),
            "postgres://app:***@db.example:5433/prod"
        );
        assert_eq!(
            redact_url("postgresql://app@db/prod?password=s3cret&sslmode=disable"),
            "postgresql://app@db/prod?password=***&sslmode=disable"
        );
        assert_eq!(
            redact_url("host=db user=app password=s3cret dbname=prod"),
            "host=db user=app password=*** dbname=prod"
        );
        // Every malformed or unusual form hides the secret too.
        for (input, secret) in [
            ("host=db password = S3cretPW dbname=x", "S3cretPW"),
            ("host=db passwd=S3cretPW", "S3cretPW"),
            ("host=db password='S3cret PW with spaces' user=u", "S3cret"),
            ("host=db password='S3cret \\' PW", "S3cret"),
            ("host=db password='unterminated S3cret", "S3cret"),
            ("host=db =S3cret", "S3cret"),
            (
                "postgres://u:S3cret@h/db?sslpassword=S3cret2&sslmode=require",
                "S3cret",
            ),
            ("postgres://u:S3cret@h:notaport/db", "S3cret"),
            ("postgres://u:S3c@ret@h/db", "S3c"),
        ] {
            let shown = redact_url(input);
            assert!(!shown.contains(secret), "{input} -> {shown}");
            if let Err(e) = ConnParams::parse(input) {
                assert!(!e.to_string().contains(secret), "{input} -> {e}");
            }
        }
        assert_eq!(
            redact_url("host=db password = x port=5"),
            "host=db password=*** port=5"
        );
        assert_eq!(redact_url("postgres://db/prod"), "postgres://db/prod");
    }

    #[test]
    fn a_url_is_parsed_into_its_parts() {
        let p = ConnParams::parse("postgres://app:s3cret@db.example:5433/prod").unwrap();
        assert_eq!(
            (p.host.as_str(), p.port, p.user.as_str()),
            ("db.example", 5433, "app")
        );
        assert_eq!(p.password.as_deref(), Some("s3cret"));
        assert_eq!(p.dbname, "prod");
        assert!(!format!("{p:?}").contains("s3cret"));
        assert_eq!(p.display_url("x"), "postgres://app:***@db.example:5433/x");
    }

    #[test]
    fn bad_urls_are_rejected_without_leaking_the_password() {
        for bad in [
            "",
            "mysql://u:s3cret@h/db",
            "not a url",
            "postgres://u:s3cret@h:notaport/db",
        ] {
            let err = ConnParams::parse(bad).unwrap_err();
            let text = err.to_string();
            assert!(err.is_bad_input(), "{bad}: {text}");
            assert!(!text.contains("s3cret"), "{text}");
        }
    }
}
