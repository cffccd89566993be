//! Finding the PostgreSQL server and client binaries of this machine.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use super::error::{Error, Result};

/// Where the PostgreSQL programs live, and which major version they are.
#[derive(Debug, Clone)]
pub struct Binaries {
    bin_dir: PathBuf,
    major: u32,
}

impl Binaries {
    /// Finds the server binaries: `$HRSI_PG_BINDIR`, then `initdb` on PATH, then
    /// `pg_config --bindir`, then the newest `/usr/lib/postgresql/*/bin`.
    ///
    /// Found once per process for a given `$HRSI_PG_BINDIR` and `PATH`: every cluster of a
    /// run asks, and each search runs `pg_config` and `postgres --version`.
    pub fn find() -> Result<Binaries> {
        type Key = (Option<std::ffi::OsString>, Option<std::ffi::OsString>);
        static FOUND: std::sync::Mutex<Vec<(Key, Binaries)>> = std::sync::Mutex::new(Vec::new());
        let key = (std::env::var_os("HRSI_PG_BINDIR"), std::env::var_os("PATH"));
        if let Some((_, b)) = FOUND
            .lock()
            .expect("poisoned")
            .iter()
            .find(|(k, _)| *k == key)
        {
            return Ok(b.clone());
        }
        let b = Binaries::search()?;
        FOUND.lock().expect("poisoned").push((key, b.clone()));
        Ok(b)
    }

    fn search() -> Result<Binaries> {
        let candidates = std::env::var_os("HRSI_PG_BINDIR")
            .map(PathBuf::from)
            .into_iter()
            .chain(on_path("initdb").and_then(|p| resolved_dir(&p)))
            .chain(pg_config_bindir())
            .chain(debian_bindirs());
        for dir in candidates {
            if dir.join("initdb").is_file() && dir.join("postgres").is_file() {
                return Binaries::in_dir(&dir);
            }
        }
        Err(Error::NoBinaries)
    }

    /// Uses the binaries of one directory.
    pub fn in_dir(dir: &Path) -> Result<Binaries> {
        let out = Command::new(dir.join("postgres"))
            .arg("--version")
            .output()
            .map_err(|e| Error::io(format!("run `{}/postgres --version`", dir.display()), e))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let major = parse_major(&text).ok_or_else(|| Error::Server {
            action: format!("read the version of `{}/postgres`", dir.display()),
            log: text.to_string(),
        })?;
        Ok(Binaries {
            bin_dir: dir.to_path_buf(),
            major,
        })
    }

    /// The directory holding `initdb` and `postgres`.
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// The major version (15 for 15.18).
    pub fn major(&self) -> u32 {
        self.major
    }

    /// A program of this installation; client tools fall back to PATH when the server
    /// directory lacks them (some packagings split client and server).
    pub fn program(&self, name: &str) -> PathBuf {
        let own = self.bin_dir.join(name);
        if own.is_file() {
            own
        } else {
            PathBuf::from(name)
        }
    }
}

/// The client programs (`psql`, `pg_dumpall`, ...) to use when no server binaries are known,
/// e.g. against an external server.
pub fn client_program(name: &str) -> PathBuf {
    Binaries::find()
        .map(|b| b.program(name))
        .unwrap_or_else(|_| PathBuf::from(name))
}

fn parse_major(version: &str) -> Option<u32> {
    // "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
    let number = version
        .split_whitespace()
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))?;
    number.split('.').next()?.parse().ok()
}

fn on_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

fn resolved_dir(program: &Path) -> Option<PathBuf> {
    // Follow symlinks such as /usr/local/bin/initdb -> /usr/lib/postgresql/15/bin/initdb, so
    // that `postgres` is looked up next to the real initdb.
    std::fs::canonicalize(program)
        .ok()?
        .parent()
        .map(Path::to_path_buf)
}

fn pg_config_bindir() -> Option<PathBuf> {
    let out = Command::new("pg_config").arg("--bindir").output().ok()?;
    out.status
        .success()
        .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

fn debian_bindirs() -> Vec<PathBuf> {
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((v, e.path().join("bin")))
        })
        .collect();
    dirs.sort_by_key(|d| std::cmp::Reverse(d.0));
    dirs.into_iter().map(|(_, d)| d).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn major_version_is_read_from_the_banner() {
        assert_eq!(
            parse_major("postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"),
            Some(15)
        );
        assert_eq!(parse_major("postgres (PostgreSQL) 12.4"), Some(12));
        assert_eq!(parse_major("garbage"), None);
    }
}
