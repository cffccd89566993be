//! Clones of a template made ahead, in the background, so that taking one costs a caller no
//! copy.
//!
//! `CREATE DATABASE … STRATEGY FILE_COPY` copies every file of the template and runs two
//! checkpoints: for a template holding 30 days of production (≈ 100 MB) that is 100-250 ms on
//! this machine, whatever the settings. A rehearsal suite clones the same template once per
//! scenario and then works seconds on the clone, so the copy for the next scenario can be made
//! while the current one runs. The pool keeps `size` clones ready: a thread of its own (with
//! its own runtime and session, so it outlives no caller's runtime and blocks none) makes a new
//! one whenever one is taken. Taking a clone when none is ready copies it in the caller, as an
//! unpooled template does: what a caller waits for is never more than a plain clone.
//!
//! The clones are ordinary databases, complete and independent (a file copy of the template,
//! with the ownership mark), made from a template that must not change while the pool lives
//! (templates never do: nobody connects to them). Clones not handed out are dropped when the
//! pool stops (the last handle of the template dropped, or [`Template::drop`](super::Template)),
//! so none is left behind on a server the harness does not own.

use std::{
    collections::VecDeque,
    sync::{Arc, Condvar, Mutex},
    thread::JoinHandle,
};

use tokio_postgres::NoTls;

use super::{
    error::{Error, Result},
    server::{Server, create_database_sql, mark_database_sql, quote_ident, unique_db_name},
    url::ConnParams,
};

/// At most this many clones are kept ready (each one is a full copy of the template).
pub const MAX_POOL: usize = 8;

/// The pool of one template.
pub(super) struct Pool {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Default)]
struct State {
    /// Clones made and not yet handed out, oldest first.
    ready: VecDeque<String>,
    /// Set when the pool stops.
    stop: bool,
    /// The last error of the background thread (it stops making clones after one).
    failed: Option<String>,
    /// Clones made in the background since the start.
    made: u64,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.shared.state.lock().expect("pool lock");
        f.debug_struct("Pool")
            .field("ready", &s.ready.len())
            .field("made", &s.made)
            .finish()
    }
}

/// What the background thread needs to reach the server (no borrow of the [`Server`]).
struct Target {
    params: ConnParams,
    maintenance_db: String,
    template: String,
    version: i32,
    size: usize,
}

impl Pool {
    /// Starts the thread that keeps `size` clones of `template` ready.
    pub(super) fn start(
        server: &Server,
        maintenance_db: &str,
        template: &str,
        version: i32,
        size: usize,
    ) -> Result<Pool> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
        });
        let target = Target {
            params: server.params().clone(),
            maintenance_db: maintenance_db.to_owned(),
            template: template.to_owned(),
            version,
            size: size.min(MAX_POOL),
        };
        let s2 = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("hrsi-clone-pool".into())
            .spawn(move || run(&target, &s2))
            .map_err(|e| Error::io("start the clone pool's thread", e))?;
        Ok(Pool {
            shared,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// A ready clone, if there is one (the thread starts the next copy at once).
    pub(super) fn take(&self) -> Option<String> {
        let mut s = self.shared.state.lock().expect("pool lock");
        let name = s.ready.pop_front();
        if name.is_some() {
            self.shared.wake.notify_all();
        }
        name
    }

    /// Clones ready now.
    pub(super) fn ready(&self) -> usize {
        self.shared.state.lock().expect("pool lock").ready.len()
    }

    /// Clones made in the background so far, and the thread's error if it stopped on one.
    pub(super) fn made(&self) -> (u64, Option<String>) {
        let s = self.shared.state.lock().expect("pool lock");
        (s.made, s.failed.clone())
    }

    /// Stops the thread and drops the clones not handed out (waits for a copy in progress).
    pub(super) fn stop(&self) {
        {
            let mut s = self.shared.state.lock().expect("pool lock");
            s.stop = true;
            self.shared.wake.notify_all();
        }
        if let Some(t) = self.thread.lock().expect("pool lock").take() {
            let _ = t.join();
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The background thread: one session on the maintenance database, a clone made whenever
/// fewer than `size` are ready, the ready ones dropped at the stop.
fn run(t: &Target, shared: &Shared) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            shared.state.lock().expect("pool lock").failed = Some(e.to_string());
            return;
        }
    };
    let outcome: std::result::Result<(), String> = rt.block_on(async {
        let (client, conn) = t
            .params
            .config(&t.maintenance_db)
            .connect(NoTls)
            .await
            .map_err(|e| e.to_string())?;
        let conn = tokio::spawn(conn);
        let result = async {
            loop {
                {
                    let mut s = shared.state.lock().expect("pool lock");
                    while !s.stop && s.ready.len() >= t.size {
                        s = shared.wake.wait(s).expect("pool lock");
                    }
                    if s.stop {
                        break;
                    }
                }
                let name = unique_db_name("c");
                let create = create_database_sql(&name, Some(&t.template), t.version);
                client
                    .batch_execute(&create)
                    .await
                    .map_err(|e| e.to_string())?;
                if let Err(e) = client.batch_execute(&mark_database_sql(&name)).await {
                    let _ = client
                        .batch_execute(&format!("drop database {}", quote_ident(&name)))
                        .await;
                    return Err(e.to_string());
                }
                let mut s = shared.state.lock().expect("pool lock");
                s.made += 1;
                s.ready.push_back(name);
                shared.wake.notify_all();
            }
            Ok(())
        }
        .await;
        // Whatever happened, the clones nobody took are dropped.
        let left: Vec<String> = shared
            .state
            .lock()
            .expect("pool lock")
            .ready
            .drain(..)
            .collect();
        for name in left {
            let _ = client
                .batch_execute(&format!("drop database if exists {}", quote_ident(&name)))
                .await;
        }
        drop(client);
        let _ = conn.await;
        result
    });
    if let Err(e) = outcome {
        let mut s = shared.state.lock().expect("pool lock");
        s.failed = Some(e);
        shared.wake.notify_all();
    }
}
