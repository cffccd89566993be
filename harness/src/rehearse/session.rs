//! The harness's own session on a scenario's database, kept from one step to the next: after
//! every step the rehearsal reads the parameters and writes or reads the world's jobs, and a
//! new connection each time (a backend forked, its catalogue caches filled again) cost more
//! CPU than most of those reads. Operator SQL never runs on it (psql and the read-only role
//! have their own sessions), so nothing a scenario does reaches its state.
//!
//! The session is opened on first use and again whenever the server behind it is another one
//! (a restart, PostgreSQL killed, a fresh volume: another postmaster) or its connection closed.

use tokio::sync::Mutex;
use tokio_postgres::Client;

use crate::postgres::Server;

/// The kept session and the server it was opened on (its postmaster's pid and the database).
#[derive(Default)]
pub struct Session(Mutex<Option<(Option<i32>, String, Client)>>);

impl Session {
    /// Runs `f` on the session to `db` on `srv`, opening it first when there is none for that
    /// server and database, or it closed. A connection that fails is the caller's error, as a
    /// failed `connect` was.
    pub async fn run<R>(
        &self,
        srv: &Server,
        db: &str,
        f: impl AsyncFnOnce(&mut Client) -> Result<R, String>,
    ) -> Result<R, String> {
        let owner = srv.cluster().and_then(|c| c.pid());
        let mut kept = self.0.lock().await;
        let usable =
            matches!(&*kept, Some((pid, name, c)) if *pid == owner && name == db && !c.is_closed());
        if !usable {
            *kept = None;
            let c = srv.connect(db).await.map_err(|e| e.to_string())?;
            *kept = Some((owner, db.to_owned(), c));
        }
        let (_, _, client) = kept.as_mut().expect("opened above");
        let r = f(client).await;
        if client.is_closed() {
            *kept = None;
        }
        r
    }

    /// Closes the session (before its database is dropped).
    pub async fn close(&self) {
        self.0.lock().await.take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_session_is_kept_and_opened_again_on_a_restarted_server() {
        let mut server = tokio::task::spawn_blocking(Server::ephemeral)
            .await
            .unwrap()
            .expect("a throwaway cluster");
        let s = Session::default();
        let backend = async |s: &Session, srv: &Server| -> i32 {
            s.run(srv, "postgres", async |c: &mut Client| {
                let r = c
                    .query_one("select pg_backend_pid()", &[])
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(r.get(0))
            })
            .await
            .expect("the server answers")
        };
        let first = backend(&s, &server).await;
        assert_eq!(backend(&s, &server).await, first, "one backend for both");
        // Another postmaster: a new session, no error.
        server
            .cluster_mut()
            .expect("own cluster")
            .restart()
            .expect("restart");
        let again = backend(&s, &server).await;
        assert_eq!(backend(&s, &server).await, again);
        // Stopped: the caller's error, then a session again once it runs.
        server.cluster_mut().unwrap().stop_server();
        let down = s
            .run(&server, "postgres", async |_: &mut Client| Ok(()))
            .await;
        assert!(down.is_err());
        server.cluster_mut().unwrap().restart().expect("restart");
        backend(&s, &server).await;
        s.close().await;
    }
}
