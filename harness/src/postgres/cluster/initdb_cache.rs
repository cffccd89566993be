//! Data directories not made by `initdb` in place: the initdb cache of
//! [`ClusterOptions::reuse_initdb`] (a pristine `initdb` result kept in the base directory) and
//! a prepared data directory ([`ClusterOptions::data_from`]), each copied (`cp -a`, as the
//! server's OS user) into the new cluster.

use std::{os::unix::fs::PermissionsExt, path::Path, process::Stdio};

use nix::unistd::User;

#[cfg(doc)]
use super::ClusterOptions;
use super::{Cluster, Error, INITDB_ARGS, Result, server_user_command};

/// By its path: with a bare name and the clean environment's `PATH`, std would fork the harness.
const CP: &str = "/bin/cp";

impl Cluster {
    /// The data directory as a copy of `from` ([`ClusterOptions::data_from`]).
    pub(super) fn copy_data_dir(&self, from: &Path, run_as: Option<&User>) -> Result<()> {
        let uid = run_as
            .map(|u| u.uid.as_raw())
            .unwrap_or_else(|| nix::unistd::geteuid().as_raw());
        if !prepared_data_dir_valid(from, uid) {
            return Err(Error::Server {
                action: format!(
                    "start on a copy of `{}` (not a stopped data directory owned by the server's user, mode 0700)",
                    from.display()
                ),
                log: String::new(),
            });
        }
        let mut cmd = server_user_command(CP, run_as, &self.dir);
        cmd.arg("-a")
            .arg(from)
            .arg(self.data_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let out = cmd
            .output()
            .map_err(|e| Error::io("run `cp -a` of the prepared data directory", e))?;
        if !out.status.success() {
            return Err(Error::Server {
                action: format!("copy the data directory `{}`", from.display()),
                log: String::from_utf8_lossy(&out.stderr).into_owned(),
            });
        }
        Ok(())
    }

    /// `initdb` through the cache described at [`ClusterOptions::reuse_initdb`].
    pub(super) fn initdb_cached(&self, base: &Path, run_as: Option<&User>) -> Result<()> {
        let uid = run_as
            .map(|u| u.uid.as_raw())
            .unwrap_or_else(|| nix::unistd::geteuid().as_raw());
        let mut h: u64 = 0xcbf29ce484222325;
        for b in self
            .binaries
            .bin_dir()
            .display()
            .to_string()
            .bytes()
            .chain(INITDB_ARGS.join(" ").bytes())
        {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x100000001b3);
        }
        let cache = base.join(format!(
            "{INITDB_CACHE_PREFIX}{uid}-{}-{h:016x}",
            self.binaries.major()
        ));
        let copy = |from: &Path, to: &Path| {
            let mut cmd = server_user_command(CP, run_as, &self.dir);
            cmd.arg("-a")
                .arg(from)
                .arg(to)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            cmd.status().map(|s| s.success()).unwrap_or(false)
        };
        if initdb_cache_valid(&cache, uid) && copy(&cache.join("data"), &self.data_dir()) {
            return Ok(());
        }
        let _ = std::fs::remove_dir_all(self.data_dir());
        self.initdb(run_as)?;
        // Fill the cache for the next cluster: a copy made inside our own directory (removed
        // with it if we die half-way), marked complete, then renamed into place atomically.
        let staging = self.dir.join("initdb-cache");
        if std::fs::create_dir(&staging).is_ok()
            && std::fs::set_permissions(&staging, std::fs::Permissions::from_mode(0o700)).is_ok()
            && run_as.is_none_or(|u| {
                std::os::unix::fs::chown(&staging, Some(u.uid.as_raw()), Some(u.gid.as_raw()))
                    .is_ok()
            })
            && copy(&self.data_dir(), &staging.join("data"))
            && std::fs::write(staging.join(INITDB_CACHE_MARK), "complete\n").is_ok()
        {
            // Another process may have won the race: then its cache stays.
            let _ = std::fs::rename(&staging, &cache);
        }
        let _ = std::fs::remove_dir_all(&staging);
        Ok(())
    }
}

/// Prefix of initdb caches in the base directory (never swept: they hold no data).
const INITDB_CACHE_PREFIX: &str = "hrsi-initdb-";
/// Written last into a complete cache.
const INITDB_CACHE_MARK: &str = "complete";

/// Whether a cache directory can be trusted: a real directory (not a symlink someone
/// planted), owned by the server's OS user, mode 0700, and complete.
fn initdb_cache_valid(dir: &Path, uid: u32) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(m) = std::fs::symlink_metadata(dir) else {
        return false;
    };
    m.file_type().is_dir()
        && m.uid() == uid
        && m.mode() & 0o777 == 0o700
        && dir.join(INITDB_CACHE_MARK).is_file()
        && dir.join("data/PG_VERSION").is_file()
}

/// Whether a data directory can be copied: a real directory owned by the server's OS user,
/// mode 0700, a data directory (`PG_VERSION`) whose server stopped cleanly (no
/// `postmaster.pid`).
fn prepared_data_dir_valid(dir: &Path, uid: u32) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(m) = std::fs::symlink_metadata(dir) else {
        return false;
    };
    m.file_type().is_dir()
        && m.uid() == uid
        && m.mode() & 0o777 == 0o700
        && dir.join("PG_VERSION").is_file()
        && !dir.join("postmaster.pid").exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_planted_initdb_cache_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let me = nix::unistd::geteuid().as_raw();
        let cache = dir.path().join("cache");
        std::fs::create_dir_all(cache.join("data")).unwrap();
        std::fs::write(cache.join("data/PG_VERSION"), "15\n").unwrap();
        std::fs::write(cache.join(INITDB_CACHE_MARK), "complete\n").unwrap();
        std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(!initdb_cache_valid(&cache, me), "group/world-accessible");
        std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert!(initdb_cache_valid(&cache, me));
        assert!(!initdb_cache_valid(&cache, me + 1), "another owner");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&cache, &link).unwrap();
        assert!(!initdb_cache_valid(&link, me), "a symlink");
        std::fs::remove_file(cache.join(INITDB_CACHE_MARK)).unwrap();
        assert!(!initdb_cache_valid(&cache, me), "incomplete");
    }

    #[test]
    fn only_a_stopped_data_directory_of_the_server_user_is_copied() {
        let dir = tempfile::tempdir().unwrap();
        let me = nix::unistd::geteuid().as_raw();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert!(!prepared_data_dir_valid(&data, me), "no PG_VERSION");
        std::fs::write(data.join("PG_VERSION"), "15\n").unwrap();
        assert!(prepared_data_dir_valid(&data, me));
        assert!(!prepared_data_dir_valid(&data, me + 1), "another owner");
        std::fs::write(data.join("postmaster.pid"), "1\n").unwrap();
        assert!(!prepared_data_dir_valid(&data, me), "a server runs on it");
        std::fs::remove_file(data.join("postmaster.pid")).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(
            !prepared_data_dir_valid(&data, me),
            "group/world-accessible"
        );
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&data, &link).unwrap();
        assert!(!prepared_data_dir_valid(&link, me), "a symlink");
    }
}
