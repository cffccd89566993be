//! An ephemeral PostgreSQL cluster: `initdb` into `/dev/shm`, the server spawned directly (no
//! `pg_ctl`), a free loopback port plus a unix socket, fast unsafe settings, and shutdown when
//! the [`Cluster`] is dropped or the harness dies.
//!
//! Lifecycle:
//! 1. stale `pgh-*` directories left by dead harness processes are swept;
//! 2. `initdb` runs as the `postgres` system user when we are root (as ourselves otherwise);
//! 3. the postmaster is spawned from a dedicated thread that lives as long as the cluster,
//!    with `PR_SET_PDEATHSIG` so that it stops when that thread (or the whole process) dies;
//! 4. readiness is read from `postmaster.pid` (the server writes `ready` there), as `pg_ctl`
//!    does, without a polling connection;
//! 5. drop: SIGINT (fast shutdown), SIGKILL after 10 s, then the directory is removed.

use std::{
    fs::File,
    io::Read,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, Ordering},
        mpsc,
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use nix::{
    sys::signal::{Signal, kill},
    unistd::{Pid, User},
};

mod initdb_cache;

use super::{
    binaries::Binaries,
    error::{Error, Result, tail},
    os_user::{self, OsUser},
};

/// Prefix of every cluster directory; the sweep only ever touches these.
const PREFIX: &str = "pgh-";
/// Marks a directory as created by this harness (checked before any removal).
const OWNER_FILE: &str = "hrsi-owned";

/// Options for [`Cluster::start_with`].
#[derive(Debug, Clone, Default)]
pub struct ClusterOptions {
    /// Server binaries to use (default: [`Binaries::find`]).
    pub binaries: Option<Binaries>,
    /// Where to create the cluster directory (default: `/dev/shm`, else the temp dir).
    pub base_dir: Option<PathBuf>,
    /// The loopback port (default: a free one). A taken port is an error, not a retry.
    pub port: Option<u16>,
    /// Server settings (`name=value`) applied after the fast defaults, e.g. `wal_level=replica`
    /// to measure WAL as production writes it.
    pub settings: Vec<String>,
    /// [`Cluster::stop_server`] with an immediate shutdown (SIGQUIT) instead of a fast one.
    /// A cluster dropped or stopped for good always shuts down immediately: its data goes
    /// with it, so the shutdown checkpoint would be work thrown away.
    pub immediate_stop: bool,
    /// Copy a pristine `initdb` result kept in the base directory instead of running
    /// `initdb` (made by the first cluster that asks; ≈ 0.4 s saved per cluster). The copy
    /// is only used when it is a real directory owned by the server's OS user, mode 0700.
    pub reuse_initdb: bool,
    /// Start on a copy of this data directory instead of running `initdb`: one the harness
    /// prepared and stopped cleanly ([`Cluster::data_dir`] of a stopped cluster), copied with
    /// `cp -a` as the server's OS user. It must be a real directory (not a symbolic link)
    /// owned by that user, mode 0700, holding `PG_VERSION` and no `postmaster.pid` (a running
    /// or crashed server); anything else is an error. The source is never written.
    pub data_from: Option<PathBuf>,
}

/// A running throwaway PostgreSQL cluster owned by the harness.
///
/// The superuser is `postgres` with `trust` authentication; the server runs in UTC, as the
/// production database must (its timestamps have no time zone).
///
/// ```no_run
/// let cluster = hrsi_harness::postgres::Cluster::start()?;
/// println!("psql -h {} -p {} -U postgres", cluster.socket_dir().display(), cluster.port());
/// # Ok::<(), hrsi_harness::postgres::Error>(())
/// ```
#[derive(Debug)]
pub struct Cluster {
    dir: PathBuf,
    port: u16,
    binaries: Binaries,
    postmaster: Option<Postmaster>,
    settings: Vec<String>,
    run_as: Option<(u32, u32)>,
    stop_signal: Signal,
}

#[derive(Debug)]
struct Postmaster {
    pid: Pid,
    stop: mpsc::Sender<Signal>,
    exited: Arc<Mutex<Option<ExitStatus>>>,
    thread: Option<JoinHandle<()>>,
}

impl Cluster {
    /// Starts a cluster with the default options.
    pub fn start() -> Result<Cluster> {
        Cluster::start_with(ClusterOptions::default())
    }

    /// Starts a cluster.
    pub fn start_with(options: ClusterOptions) -> Result<Cluster> {
        let binaries = match options.binaries {
            Some(b) => b,
            None => Binaries::find()?,
        };
        let base = options.base_dir.unwrap_or_else(default_base_dir);
        sweep_stale_dirs(&base);
        let run_as = server_user()?;
        let dir = make_cluster_dir(&base, run_as.as_ref())?;
        let mut cluster = Cluster {
            dir,
            port: 0,
            binaries,
            postmaster: None,
            settings: options.settings,
            stop_signal: if options.immediate_stop {
                Signal::SIGQUIT
            } else {
                Signal::SIGINT
            },
            run_as: run_as.as_ref().map(|u| (u.uid.as_raw(), u.gid.as_raw())),
        };
        if let Some(from) = &options.data_from {
            cluster.copy_data_dir(from, run_as.as_ref())?;
        } else if options.reuse_initdb {
            cluster.initdb_cached(&base, run_as.as_ref())?;
        } else {
            cluster.initdb(run_as.as_ref())?;
        }
        // A port picked by binding port 0 can be taken by someone else before the server
        // binds it: retry with a fresh one.
        if let Some(port) = options.port {
            return match cluster.spawn_server(run_as.as_ref(), Some(port)) {
                Ok(()) => Ok(cluster),
                Err(SpawnError::PortTaken) => Err(Error::Server {
                    action: format!("listen on port {port} (taken by another process)"),
                    log: cluster.log_tail(),
                }),
                Err(SpawnError::Other(e)) => Err(e),
            };
        }
        let mut last_err = None;
        for _ in 0..5 {
            match cluster.spawn_server(run_as.as_ref(), None) {
                Ok(()) => return Ok(cluster),
                Err(SpawnError::PortTaken) => last_err = None,
                Err(SpawnError::Other(e)) => {
                    last_err = Some(e);
                    break;
                }
            }
        }
        Err(last_err.unwrap_or_else(|| Error::Server {
            action: "find a free loopback port".into(),
            log: cluster.log_tail(),
        }))
    }

    /// The directory holding the data directory, the log and the unix socket.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The unix socket directory (use it as `host`).
    pub fn socket_dir(&self) -> &Path {
        &self.dir
    }

    /// The TCP port on 127.0.0.1 (the unix socket uses the same number).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// The OS user (uid, gid) the server runs as, when it is not ourselves (we are root).
    pub fn run_as(&self) -> Option<(u32, u32)> {
        self.run_as
    }

    /// The binaries this cluster runs.
    pub fn binaries(&self) -> &Binaries {
        &self.binaries
    }

    /// A libpq key=value connection string for a database of this cluster.
    pub fn conninfo(&self, dbname: &str) -> String {
        format!(
            "host={} port={} user=postgres dbname={dbname}",
            self.dir.display(),
            self.port
        )
    }

    /// The server log so far (last lines).
    pub fn log_tail(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = File::open(self.dir.join("log")) {
            let _ = f.read_to_string(&mut s);
        }
        tail(&s, 20)
    }

    /// The postmaster's process id, while it runs.
    pub fn pid(&self) -> Option<i32> {
        self.postmaster.as_ref().map(|p| p.pid.as_raw())
    }

    /// Whether the server process is still running.
    pub fn is_running(&self) -> bool {
        self.postmaster
            .as_ref()
            .is_some_and(|p| p.exited.lock().map(|e| e.is_none()).unwrap_or(false))
    }

    /// Stops the server (immediate shutdown: no checkpoint of data about to go) and removes
    /// the cluster directory.
    pub fn stop(mut self) -> Result<()> {
        self.shutdown(Signal::SIGQUIT);
        remove_owned_dir(&self.dir)
    }

    /// Stops the server but keeps the data directory, so that [`Cluster::restart`] can bring
    /// the same data back (as a stop/start of the database VM keeps its volume).
    pub fn stop_server(&mut self) {
        self.shutdown(self.stop_signal);
    }

    /// Starts the server again on the existing data directory.
    pub fn restart(&mut self) -> Result<()> {
        if self.postmaster.is_some() {
            return Ok(());
        }
        let run_as = server_user()?;
        // Same port as before, as the database VM keeps its address across a stop: clients
        // holding the old connection parameters reconnect unchanged.
        let port = self.port;
        for _ in 0..20 {
            match self.spawn_server(run_as.as_ref(), Some(port)) {
                Ok(()) => return Ok(()),
                Err(SpawnError::PortTaken) => std::thread::sleep(Duration::from_millis(50)),
                Err(SpawnError::Other(e)) => return Err(e),
            }
        }
        Err(Error::Server {
            action: format!("restart on port {port} (taken by another process)"),
            log: self.log_tail(),
        })
    }

    fn initdb(&self, run_as: Option<&User>) -> Result<()> {
        let log = File::create(self.dir.join("initdb.log"))
            .map_err(|e| Error::io("create the initdb log", e))?;
        let log2 = log
            .try_clone()
            .map_err(|e| Error::io("create the initdb log", e))?;
        let mut cmd =
            server_user_command(self.binaries.bin_dir().join("initdb"), run_as, &self.dir);
        cmd.arg("-D")
            .arg(self.data_dir())
            .args(INITDB_ARGS)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        let status = cmd.status().map_err(|e| Error::io("run `initdb`", e))?;
        if !status.success() {
            let mut s = String::new();
            let _ =
                File::open(self.dir.join("initdb.log")).and_then(|mut f| f.read_to_string(&mut s));
            return Err(Error::Server {
                action: format!(
                    "initialise a cluster in `{}` ({status})",
                    self.dir.display()
                ),
                log: tail(&s, 20),
            });
        }
        Ok(())
    }

    fn spawn_server(&mut self, run_as: Option<&User>, port: Option<u16>) -> Result<(), SpawnError> {
        self.port = match port {
            Some(p) => p,
            None => free_port().map_err(|e| SpawnError::Other(Error::io("pick a free port", e)))?,
        };
        let log_path = self.dir.join("log");
        let log = File::options()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| SpawnError::Other(Error::io("open the server log", e)))?;
        let log_len = log.metadata().map(|m| m.len()).unwrap_or(0);
        let log2 = log
            .try_clone()
            .map_err(|e| SpawnError::Other(Error::io("open the server log", e)))?;
        // The death signal: a killed harness takes its servers with it.
        let mut cmd = os_user::command(
            self.binaries.bin_dir().join("postgres"),
            run_as.map(OsUser::from),
            Some(Signal::SIGQUIT),
        );
        server_user_env(&mut cmd, &self.dir);
        cmd.arg("-D")
            .arg(self.data_dir())
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-k")
            .arg(&self.dir);
        for setting in FAST_SETTINGS
            .iter()
            .copied()
            .chain(self.settings.iter().map(String::as_str))
        {
            cmd.arg("-c").arg(setting);
        }
        cmd.stdin(Stdio::null()).stdout(log).stderr(log2);
        let postmaster = Postmaster::spawn(cmd, self.stop_signal)
            .map_err(|e| SpawnError::Other(Error::io("spawn `postgres`", e)))?;
        let pid_file = self.data_dir().join("postmaster.pid");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if server_ready(&pid_file) {
                self.postmaster = Some(postmaster);
                return Ok(());
            }
            let exited = *postmaster.exited.lock().expect("poisoned");
            if let Some(status) = exited {
                let mut text = String::new();
                let _ = File::open(&log_path).and_then(|mut f| f.read_to_string(&mut text));
                let new_part = text.get(log_len as usize..).unwrap_or(&text);
                if new_part.contains("could not bind")
                    || new_part.contains("Address already in use")
                {
                    return Err(SpawnError::PortTaken);
                }
                return Err(SpawnError::Other(Error::Server {
                    action: format!("start `postgres` ({status})"),
                    log: tail(new_part, 20),
                }));
            }
            if Instant::now() > deadline {
                let mut p = postmaster;
                p.stop(Signal::SIGQUIT);
                return Err(SpawnError::Other(Error::Server {
                    action: "start `postgres` within 30 s".into(),
                    log: self.log_tail(),
                }));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn shutdown(&mut self, signal: Signal) {
        if let Some(mut p) = self.postmaster.take() {
            p.stop(signal);
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // The data goes with the cluster: an immediate shutdown spares the checkpoint.
        self.shutdown(Signal::SIGQUIT);
        let _ = remove_owned_dir(&self.dir);
    }
}

enum SpawnError {
    PortTaken,
    Other(Error),
}

/// `initdb`'s options (they key the initdb cache). Throwaway data: no fsync of the files.
const INITDB_ARGS: &[&str] = &[
    "-U",
    "postgres",
    "-A",
    "trust",
    "-E",
    "UTF8",
    "--locale=C",
    "--no-sync",
    "--no-instructions",
];
/// Settings for throwaway clusters only: they trade durability for speed.
const FAST_SETTINGS: &[&str] = &[
    "listen_addresses=127.0.0.1",
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
    "wal_level=minimal",
    "max_wal_senders=0",
    "shared_buffers=128MB",
    "wal_buffers=16MB",
    "autovacuum=off",
    "checkpoint_timeout=1d",
    "jit=off",
    "TimeZone=UTC",
    "log_timezone=UTC",
    "logging_collector=off",
    // Keep dynamic shared memory inside the data directory, so nothing outlives its removal.
    "dynamic_shared_memory_type=mmap",
];

impl Postmaster {
    /// Spawns the server from a thread that lives as long as the server: the death signal
    /// fires when the *spawning thread* exits, so it must not be a pooled thread.
    fn spawn(mut cmd: Command, stop_signal: Signal) -> std::io::Result<Postmaster> {
        let (ready_tx, ready_rx) = mpsc::channel::<std::io::Result<Pid>>();
        let (stop_tx, stop_rx) = mpsc::channel::<Signal>();
        let exited = Arc::new(Mutex::new(None));
        let exited2 = Arc::clone(&exited);
        let thread = std::thread::Builder::new()
            .name("hrsi-postmaster".into())
            .spawn(move || {
                let mut child: Child = match cmd.spawn() {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let pid = Pid::from_raw(child.id() as i32);
                let _ = ready_tx.send(Ok(pid));
                loop {
                    match stop_rx.recv_timeout(Duration::from_millis(20)) {
                        Err(mpsc::RecvTimeoutError::Timeout) => {
                            if let Ok(Some(status)) = child.try_wait() {
                                *exited2.lock().expect("poisoned") = Some(status);
                                return;
                            }
                        }
                        // Asked to stop, or the cluster went without asking.
                        asked => {
                            let signal = asked.unwrap_or(stop_signal);
                            let status = stop_child(&mut child, pid, signal);
                            *exited2.lock().expect("poisoned") = status;
                            return;
                        }
                    }
                }
            })?;
        let pid = ready_rx
            .recv()
            .map_err(|_| std::io::Error::other("the postmaster thread died"))??;
        Ok(Postmaster {
            pid,
            stop: stop_tx,
            exited,
            thread: Some(thread),
        })
    }

    fn stop(&mut self, signal: Signal) {
        let _ = self.stop.send(signal);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn stop_child(child: &mut Child, pid: Pid, signal: Signal) -> Option<ExitStatus> {
    if let Ok(Some(s)) = child.try_wait() {
        return Some(s);
    }
    // SIGINT = fast shutdown: abort transactions, disconnect clients, stop; SIGQUIT =
    // immediate shutdown (no checkpoint).
    let _ = kill(pid, signal);
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(s)) = child.try_wait() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = child.kill();
    child.wait().ok()
}

fn server_ready(pid_file: &Path) -> bool {
    // Line 8 of postmaster.pid is the server status; "ready" once it accepts connections.
    std::fs::read_to_string(pid_file)
        .map(|s| s.lines().nth(7).map(str::trim) == Some("ready"))
        .unwrap_or(false)
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Free space `/dev/shm` needs before clusters go there (a default container has 64 MB).
const SHM_MIN_FREE: u64 = 512 * 1024 * 1024;

fn default_base_dir() -> PathBuf {
    let shm = Path::new("/dev/shm");
    if !shm.is_dir() || nix::unistd::access(shm, nix::unistd::AccessFlags::W_OK).is_err() {
        return std::env::temp_dir();
    }
    let free = nix::sys::statvfs::statvfs(shm)
        .ok()
        .map(|st| st.blocks_available() * st.fragment_size());
    if shm_fits(free) {
        return shm.to_path_buf();
    }
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        eprintln!(
            "note: /dev/shm has only {} MB free (less than {} MB): PostgreSQL clusters go to {} instead (slower)",
            free.unwrap_or(0) / 1_000_000,
            SHM_MIN_FREE / 1_000_000,
            std::env::temp_dir().display()
        )
    });
    std::env::temp_dir()
}

/// Whether `/dev/shm` has room for clusters (its free bytes, when known).
fn shm_fits(free: Option<u64>) -> bool {
    free.is_none_or(|f| f >= SHM_MIN_FREE)
}

/// The user the server runs as: `postgres` (or `nobody`) when we are root, ourselves
/// otherwise (PostgreSQL refuses to run as root).
fn server_user() -> Result<Option<User>> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(None);
    }
    for name in ["postgres", "nobody"] {
        if let Ok(Some(u)) = User::from_name(name) {
            return Ok(Some(u));
        }
    }
    Err(Error::MissingTool {
        program: "postgres system user".into(),
        hint: "running as root needs a `postgres` (or `nobody`) user to run the server; install the `postgresql` package".into(),
    })
}

/// A command that runs `program` as the server's OS user (when we are root), from `dir`,
/// with a clean environment of its own.
pub(super) fn server_user_command(
    program: impl AsRef<std::ffi::OsStr>,
    run_as: Option<&User>,
    dir: &Path,
) -> Command {
    let mut cmd = os_user::command(program, run_as.map(OsUser::from), None);
    server_user_env(&mut cmd, dir);
    cmd
}

fn server_user_env(cmd: &mut Command, dir: &Path) {
    // A clean environment: the server (and whatever a patch makes it run) must not see ours,
    // which may hold HRSI_POSTGRES_URL or PGPASSWORD.
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", super::url::SAFE_PATH)
        .env("HOME", dir)
        .env("TZ", "UTC")
        .env("LC_ALL", "C");
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn make_cluster_dir(base: &Path, run_as: Option<&User>) -> Result<PathBuf> {
    // Short names: the socket path must stay under 107 bytes.
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = base.join(format!(
        "{PREFIX}{}-{n}-{:x}",
        std::process::id(),
        nanos & 0xfffff
    ));
    std::fs::create_dir(&dir).map_err(|e| Error::io(format!("create `{}`", dir.display()), e))?;
    std::fs::write(dir.join(OWNER_FILE), format!("{}\n", std::process::id()))
        .map_err(|e| Error::io("write the ownership mark", e))?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| Error::io("restrict the cluster directory", e))?;
    if let Some(u) = run_as {
        std::os::unix::fs::chown(&dir, Some(u.uid.as_raw()), Some(u.gid.as_raw()))
            .map_err(|e| Error::io(format!("give `{}` to the server user", dir.display()), e))?;
    }
    Ok(dir)
}

fn remove_owned_dir(dir: &Path) -> Result<()> {
    if !dir.join(OWNER_FILE).is_file() {
        return Err(Error::NotOwned {
            action: "remove the cluster directory".into(),
            database: dir.display().to_string(),
        });
    }
    std::fs::remove_dir_all(dir).map_err(|e| Error::io(format!("remove `{}`", dir.display()), e))
}

/// Removes cluster directories whose harness process is gone (killed before its `Drop` ran).
/// The postmaster itself died with its parent thanks to the death signal.
pub fn sweep_stale_dirs(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(PREFIX)) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        let path = entry.path();
        if Path::new(&format!("/proc/{pid}")).exists() || !path.join(OWNER_FILE).is_file() {
            continue;
        }
        // Never remove the directory of a server that still runs (its pid file names it).
        if let Ok(pidfile) = std::fs::read_to_string(path.join("data/postmaster.pid"))
            && let Some(server_pid) = pidfile
                .lines()
                .next()
                .and_then(|l| l.trim().parse::<i32>().ok())
            && kill(Pid::from_raw(server_pid), None).is_ok()
        {
            continue;
        }
        let _ = std::fs::remove_dir_all(&path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_dev_shm_is_not_used() {
        // A default container's 64 MB /dev/shm would fill up with one data set.
        assert!(!shm_fits(Some(64 * 1024 * 1024)));
        assert!(shm_fits(Some(24 << 30)));
        assert!(shm_fits(None));
    }
}
