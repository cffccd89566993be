//! Children that run as another OS user: the throwaway server's, never root.
//!
//! std drops privileges by forking the harness and calling setgroups/setgid/setuid in the
//! child. During a suite the harness holds hundreds of MB, and every fork copies its page
//! tables only for `execve` to drop them again (a tenth of the suite's CPU in a profile).
//! `setpriv` from util-linux does the same drop in a tiny process of its own, so std can
//! start it with `posix_spawn` (a vfork that shares our memory until the exec) instead.

use std::{ffi::OsStr, path::Path, process::Command};

use nix::sys::signal::Signal;

/// util-linux's `setpriv` (Debian's `util-linux` is essential, so it is there).
const SETPRIV: &str = "/usr/bin/setpriv";

/// The numeric user and group a child runs as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OsUser {
    /// The user id.
    pub uid: u32,
    /// Its primary group id; supplementary groups are always cleared.
    pub gid: u32,
}

impl From<&nix::unistd::User> for OsUser {
    fn from(u: &nix::unistd::User) -> Self {
        OsUser {
            uid: u.uid.as_raw(),
            gid: u.gid.as_raw(),
        }
    }
}

/// A command for `program` that runs as `user` (as we are when `None`) and receives `death`
/// when the thread that spawns it exits. Arguments added to it go to `program`.
///
/// `program` must be a path: with a bare name and a `PATH` of its own, std forks anyway.
pub fn command(program: impl AsRef<OsStr>, user: Option<OsUser>, death: Option<Signal>) -> Command {
    if (user.is_some() || death.is_some()) && Path::new(SETPRIV).is_file() {
        let mut cmd = Command::new(SETPRIV);
        if let Some(u) = user {
            cmd.arg(format!("--reuid={}", u.uid))
                .arg(format!("--regid={}", u.gid))
                .arg("--clear-groups");
        }
        if let Some(sig) = death {
            // setpriv sets it after its uid change, which would otherwise clear it.
            cmd.arg("--pdeathsig").arg(sig.as_str());
        }
        cmd.arg("--").arg(program);
        return cmd;
    }
    let mut cmd = Command::new(program);
    fallback(&mut cmd, user, death);
    cmd
}

/// Without `setpriv`: std's own drop after a fork (it calls setgroups([]) first when root).
fn fallback(cmd: &mut Command, user: Option<OsUser>, death: Option<Signal>) {
    use std::os::unix::process::CommandExt;
    if let Some(u) = user {
        cmd.uid(u.uid).gid(u.gid);
    }
    if let Some(sig) = death {
        // SAFETY: the closure only calls prctl(2), which is async-signal-safe. std runs it
        // after the uid change, which would otherwise clear the death signal.
        unsafe {
            cmd.pre_exec(move || nix::sys::prctl::set_pdeathsig(sig).map_err(std::io::Error::from));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::process::Stdio;

    use super::*;

    fn status_of(mut cmd: Command) -> String {
        cmd.arg("/proc/self/status").stdout(Stdio::piped());
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    }

    fn line<'a>(status: &'a str, key: &str) -> &'a str {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap()
            .trim()
    }

    #[test]
    fn the_child_runs_with_every_id_of_the_user_no_groups_and_no_capabilities() {
        if !nix::unistd::geteuid().is_root() {
            return; // only root can change user; the drop is what is under test
        }
        let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
        let user = OsUser::from(&nobody);
        for cmd in [
            command("/bin/cat", Some(user), None),
            command("/bin/cat", Some(user), Some(Signal::SIGQUIT)),
            {
                let mut cmd = Command::new("/bin/cat");
                fallback(&mut cmd, Some(user), Some(Signal::SIGQUIT));
                cmd
            },
        ] {
            let status = status_of(cmd);
            let ids = format!("{0}\t{0}\t{0}\t{0}", user.uid);
            assert_eq!(line(&status, "Uid:"), ids, "real, effective, saved, fs");
            let gids = format!("{0}\t{0}\t{0}\t{0}", user.gid);
            assert_eq!(line(&status, "Gid:"), gids);
            assert_eq!(line(&status, "Groups:"), "", "supplementary groups cleared");
            assert_eq!(line(&status, "CapEff:"), "0000000000000000");
            assert_eq!(line(&status, "CapPrm:"), "0000000000000000");
        }
    }

    #[test]
    fn the_child_dies_with_the_thread_that_spawned_it() {
        use std::os::unix::process::ExitStatusExt;
        let user = nix::unistd::geteuid()
            .is_root()
            .then(|| OsUser::from(&nix::unistd::User::from_name("nobody").unwrap().unwrap()));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let child = command("/bin/sleep", user, Some(Signal::SIGKILL))
                .arg("30")
                .spawn()
                .unwrap();
            // The signal is armed just before the exec of sleep: wait for it, then end.
            let cmdline = format!("/proc/{}/cmdline", child.id());
            while !std::fs::read(&cmdline).unwrap().starts_with(b"/bin/sleep") {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            tx.send(child).unwrap();
        })
        .join()
        .unwrap();
        let status = rx.recv().unwrap().wait().unwrap();
        assert_eq!(status.signal(), Some(Signal::SIGKILL as i32), "{status:?}");
    }

    #[test]
    fn without_a_user_or_a_signal_the_program_runs_itself() {
        let cmd = command("/bin/true", None, None);
        assert_eq!(cmd.get_program(), "/bin/true");
        let cmd = command("/bin/true", Some(OsUser { uid: 1, gid: 1 }), None);
        assert_eq!(cmd.get_program(), SETPRIV);
        let args: Vec<_> = cmd.get_args().collect();
        assert_eq!(
            args,
            [
                "--reuid=1",
                "--regid=1",
                "--clear-groups",
                "--",
                "/bin/true"
            ]
        );
    }
}
