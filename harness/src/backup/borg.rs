//! A borg repository used the way the database VM's backup handlers use it.

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use crate::{
    backup::{missing_or_io, retention::RETENTION_ARGS, run_tool},
    postgres::{Error, Result, Server},
    timefmt::UnixTime,
};

/// Archive names are `pgdump_<YYYY-MM-DDTHH:MM:SS>`.
pub const ARCHIVE_PREFIX: &str = "pgdump_";
/// The single item of every archive.
pub const STDIN_NAME: &str = "database-all.sql";

/// One archive of the repository.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Archive {
    /// `pgdump_…`.
    pub name: String,
    /// Creation time as borg prints it (UTC, ISO 8601).
    pub time: String,
}

/// A borg repository (unencrypted, as production's `/backup/tf-tutu`).
#[derive(Debug, Clone)]
pub struct Borg {
    repo: PathBuf,
    base_dir: PathBuf,
}

impl Borg {
    /// A repository at `repo`; borg's own config and cache go under `base_dir` so that the
    /// harness never touches the user's `~/.config/borg`.
    pub fn new(repo: impl Into<PathBuf>, base_dir: impl Into<PathBuf>) -> Borg {
        Borg {
            repo: repo.into(),
            base_dir: base_dir.into(),
        }
    }

    /// The repository path.
    pub fn repo(&self) -> &Path {
        &self.repo
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new("borg");
        cmd.env("BORG_BASE_DIR", &self.base_dir)
            // As the production handlers: no encryption, no passphrase, repo may move.
            .env("BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK", "yes")
            .env("BORG_RELOCATED_REPO_ACCESS_IS_OK", "yes")
            .env("BORG_PASSPHRASE", "")
            .env("TZ", "UTC")
            .stdin(Stdio::null());
        cmd
    }

    fn archive_ref(&self, archive: &str) -> String {
        format!("{}::{archive}", self.repo.display())
    }

    /// `borg init --encryption=none`; returns false when the repository already existed
    /// (borg's exit code 2, which `20.pgdump.sh` treats as "already initialised").
    pub async fn init(&self) -> Result<bool> {
        let mut cmd = self.command();
        cmd.args(["init", "--encryption=none"]).arg(&self.repo);
        let out = tokio::process::Command::from(cmd)
            .output()
            .await
            .map_err(|e| missing_or_io("borg", e))?;
        match out.status.code() {
            Some(0) => Ok(true),
            Some(2) => Ok(false),
            _ => Err(Error::Tool {
                command: "borg init".into(),
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            }),
        }
    }

    /// The repository as a copy of `empty`, one `borg init --encryption=none` made and nothing
    /// wrote to since: the files `borg init` would write, without starting Python for it.
    /// Copies share the repository id; each keeps its own `BORG_BASE_DIR`, and the relocated
    /// access is allowed, as for every repository here.
    pub async fn init_from(&self, empty: &Path) -> Result<()> {
        let mut cmd = tokio::process::Command::new("/bin/cp");
        cmd.arg("-a")
            .arg(empty)
            .arg(&self.repo)
            .stdin(Stdio::null());
        let out = cmd
            .output()
            .await
            .map_err(|e| Error::io("copy the empty backup repository", e))?;
        if !out.status.success() {
            return Err(Error::Tool {
                command: "cp -a of the empty backup repository".into(),
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            });
        }
        Ok(())
    }

    /// The nightly job: `pg_dumpall | borg create --stdin-name database-all.sql
    /// REPO::pgdump_<ts> -`, streamed without a temporary file. `at` backdates the archive
    /// (borg's `--timestamp`), to build a history for retention rehearsals.
    pub async fn backup_dumpall(&self, server: &Server, at: Option<UnixTime>) -> Result<String> {
        let when = at.unwrap_or_else(UnixTime::now);
        let name = format!("{ARCHIVE_PREFIX}{}", when.iso());
        let mut dump = server.command("pg_dumpall", server.maintenance_db());
        dump.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut dump = tokio::process::Command::from(dump)
            .spawn()
            .map_err(|e| missing_or_io("pg_dumpall", e))?;
        let stdout: Stdio = dump
            .stdout
            .take()
            .expect("piped")
            .try_into()
            .map_err(|e| Error::io("pipe pg_dumpall into borg", e))?;
        let mut create = self.create_command(&name, at);
        create.stdin(stdout);
        let created = run_tool(create, "borg create");
        let dumped = dump.wait_with_output();
        let (created, dumped) = tokio::join!(created, dumped);
        // pipefail: a failed dump must fail the backup even if borg stored a partial stream.
        let dumped = dumped.map_err(|e| Error::io("wait for pg_dumpall", e))?;
        if !dumped.status.success() {
            return Err(Error::Tool {
                command: "pg_dumpall".into(),
                status: dumped.status.to_string(),
                stderr: String::from_utf8_lossy(&dumped.stderr).into_owned(),
            });
        }
        created?;
        Ok(name)
    }

    /// Stores arbitrary bytes as an archive (for rehearsing retention without dumps).
    pub async fn backup_bytes(&self, data: &[u8], at: UnixTime) -> Result<String> {
        let name = format!("{ARCHIVE_PREFIX}{}", at.iso());
        let file =
            tempfile::NamedTempFile::new().map_err(|e| Error::io("create a temp file", e))?;
        std::fs::write(file.path(), data).map_err(|e| Error::io("write a temp file", e))?;
        let mut create = self.create_command(&name, Some(at));
        create
            .stdin(std::fs::File::open(file.path()).map_err(|e| Error::io("open a temp file", e))?);
        run_tool(create, "borg create").await?;
        Ok(name)
    }

    fn create_command(&self, name: &str, at: Option<UnixTime>) -> Command {
        let mut cmd = self.command();
        cmd.args([
            "create",
            "--compression",
            "zstd",
            "--stdin-name",
            STDIN_NAME,
        ]);
        if let Some(t) = at {
            cmd.arg("--timestamp").arg(t.iso());
        }
        cmd.arg(self.archive_ref(name)).arg("-");
        cmd
    }

    /// `borg list`: the archives, oldest first.
    pub async fn list(&self) -> Result<Vec<Archive>> {
        let mut cmd = self.command();
        cmd.args(["list", "--json"]).arg(&self.repo);
        let out = run_tool(cmd, "borg list").await?;
        #[derive(serde::Deserialize)]
        struct Listing {
            archives: Vec<Archive>,
        }
        let listing: Listing = serde_json::from_slice(&out.stdout).map_err(|e| Error::Tool {
            command: "borg list --json".into(),
            status: "unreadable output".into(),
            stderr: e.to_string(),
        })?;
        Ok(listing.archives)
    }

    /// `borg extract --stdout REPO::ARCHIVE database-all.sql > dest`.
    pub async fn extract(&self, archive: &str, dest: &Path) -> Result<()> {
        let mut cmd = self.command();
        cmd.args(["extract", "--stdout"])
            .arg(self.archive_ref(archive))
            .arg(STDIN_NAME);
        let out = run_tool(cmd, "borg extract").await?;
        std::fs::write(dest, &out.stdout)
            .map_err(|e| Error::io(format!("write `{}`", dest.display()), e))
    }

    /// Production's prune: `--keep-within 7d --keep-weekly 4 --keep-monthly 12` on the
    /// `pgdump_` archives. Returns the archives removed.
    pub async fn prune(&self) -> Result<Vec<String>> {
        let before = self.list().await?;
        let mut cmd = self.command();
        cmd.arg("prune")
            .args(RETENTION_ARGS)
            .args(["--glob-archives", &format!("{ARCHIVE_PREFIX}*")])
            .arg(&self.repo);
        run_tool(cmd, "borg prune").await?;
        let after: Vec<String> = self.list().await?.into_iter().map(|a| a.name).collect();
        Ok(before
            .into_iter()
            .map(|a| a.name)
            .filter(|n| !after.contains(n))
            .collect())
    }
}

/// Splits `REPO::ARCHIVE` into its parts (the form `borg` itself accepts).
pub fn parse_archive_ref(s: &str) -> Option<(PathBuf, String)> {
    let (repo, archive) = s.split_once("::")?;
    (!repo.is_empty() && !archive.is_empty()).then(|| (PathBuf::from(repo), archive.to_string()))
}
