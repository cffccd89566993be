//! Private scratch space and the `PGPASSFILE` through which a password reaches libpq tools.
//!
//! Everything here is 0700 directories and 0600 files, removed when dropped (the CLI turns
//! SIGINT/SIGTERM/SIGHUP into an orderly drop, so signals remove them too).

use std::{
    io::Write,
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
};

use super::error::{Error, Result};

/// A private temporary directory: mode 0700, owned by us (or given to the server's OS user
/// when the tools that read it run as that user), removed when dropped.
#[derive(Debug)]
pub struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    /// Creates one under the system temporary directory, named `hrsi-<pid>-…` (so that a
    /// test can tell ours apart).
    pub fn new() -> Result<Scratch> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("hrsi-{}-", std::process::id()))
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()
            .map_err(|e| Error::io("create a private temporary directory", e))?;
        Ok(Scratch { dir })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a 0600 file (created new: an existing file is an error) and returns its path.
    pub fn write(&self, name: &str, contents: &[u8]) -> Result<PathBuf> {
        let path = self.dir.path().join(name);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| Error::io(format!("create `{}`", path.display()), e))?;
        f.write_all(contents)
            .map_err(|e| Error::io(format!("write `{}`", path.display()), e))?;
        Ok(path)
    }

    /// Gives the directory (and its files) to another OS user, e.g. the server's.
    pub fn chown(&self, uid: u32, gid: u32) -> Result<()> {
        let chown = |p: &Path| {
            std::os::unix::fs::chown(p, Some(uid), Some(gid))
                .map_err(|e| Error::io(format!("give `{}` to uid {uid}", p.display()), e))
        };
        chown(self.dir.path())?;
        for entry in std::fs::read_dir(self.dir.path())
            .map_err(|e| Error::io("list the temporary directory", e))?
            .flatten()
        {
            chown(&entry.path())?;
        }
        Ok(())
    }
}

/// A 0600 password file in libpq's format (`host:port:*:user:password`) inside its own
/// [`Scratch`] directory. The password never goes through the environment (`PGPASSWORD`
/// is readable in `/proc/PID/environ` by the same user) nor the command line.
#[derive(Debug)]
pub struct PassFile {
    scratch: Scratch,
    path: PathBuf,
}

impl PassFile {
    /// Writes the file for one server and user.
    pub fn new(host: &str, port: u16, user: &str, password: &str) -> Result<PassFile> {
        let scratch = Scratch::new()?;
        let line = format!(
            "{}:{port}:*:{}:{}\n",
            escape(host),
            escape(user),
            escape(password)
        );
        let path = scratch.write("pgpass", line.as_bytes())?;
        Ok(PassFile { scratch, path })
    }

    /// The file, for `PGPASSFILE`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The directory holding it.
    pub fn scratch(&self) -> &Scratch {
        &self.scratch
    }
}

/// `:` and `\` are escaped with a backslash in a pgpass field.
fn escape(field: &str) -> String {
    field.replace('\\', "\\\\").replace(':', "\\:")
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    #[test]
    fn the_password_file_is_private_escaped_and_removed() {
        let pf = PassFile::new("db", 5432, "app", "a:b\\c").unwrap();
        let text = std::fs::read_to_string(pf.path()).unwrap();
        assert_eq!(text, "db:5432:*:app:a\\:b\\\\c\n");
        assert_eq!(std::fs::metadata(pf.path()).unwrap().mode() & 0o777, 0o600);
        let dir = pf.scratch().path().to_path_buf();
        assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
        drop(pf);
        assert!(!dir.exists());
    }
}
