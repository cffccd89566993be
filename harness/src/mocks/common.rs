//! What every stand-in shares: the virtual clock, fault injection, the request log and the
//! server handle (spawn on a listener, stop, restart on the same address, shut down on drop).
//!
//! State transitions in the mocks read time only from [`VirtualClock`], which the harness
//! advances; the only wall-clock waits are the injected network faults (timeouts, slow
//! answers), because those are about the socket, not about the modelled system.

use std::{
    collections::VecDeque,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    Router,
    extract::{Request, State},
    http::{Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

/// 2026-01-01T00:00:00Z in nanoseconds since the Unix epoch: the default start of virtual time.
pub const DEFAULT_EPOCH_NS: u64 = 1_767_225_600 * 1_000_000_000;

/// Virtual time in nanoseconds since the Unix epoch (Nomad's `ModifyTime` unit), shared by
/// clones. It moves forward only: by [`VirtualClock::advance`] (the harness jumping time in a
/// rehearsal) and, for a served clock ([`VirtualClock::served`]), with the wall clock at a
/// constant speed.
#[derive(Clone, Debug)]
pub struct VirtualClock(Arc<ClockInner>);

#[derive(Debug)]
struct ClockInner {
    /// Start plus every `advance`, ns since the epoch.
    base_ns: AtomicU64,
    /// For a served clock: the wall instant the clock started at and the speed factor.
    flow: Option<(Instant, u64)>,
}

/// The highest `--speed` a served clock accepts: one virtual day per 8.6 wall seconds. Past
/// that, the 5 s loops of the real services could not keep pace and times would be meaningless.
pub const MAX_SPEED: u64 = 10_000;

impl Default for VirtualClock {
    fn default() -> Self {
        Self::starting_at_ns(DEFAULT_EPOCH_NS)
    }
}

impl VirtualClock {
    /// A clock starting at `ns` nanoseconds since the Unix epoch, standing still until advanced
    /// (a rehearsal's clock: the harness decides when time passes).
    pub fn starting_at_ns(ns: u64) -> Self {
        Self(Arc::new(ClockInner {
            base_ns: AtomicU64::new(ns),
            flow: None,
        }))
    }

    /// The clock of the served world (`hrsi up`): starts at the wall clock's now and runs at
    /// `speed` times the wall clock (1 = real time), so the timestamps real clients compare
    /// with their own clock (`ModifyTime`, `created`, `updated`) are coherent. `advance` still
    /// jumps it forward. Refuses a speed of 0 or above [`MAX_SPEED`].
    pub fn served(speed: u64) -> Result<Self, String> {
        if speed == 0 || speed > MAX_SPEED {
            return Err(format!(
                "speed {speed} is out of range: give a whole factor from 1 (real time) to {MAX_SPEED}"
            ));
        }
        Ok(Self(Arc::new(ClockInner {
            base_ns: AtomicU64::new(wall_now_ns()),
            flow: Some((Instant::now(), speed)),
        })))
    }

    /// The speed factor of a served clock; `None` for a clock that only moves when advanced.
    pub fn speed(&self) -> Option<u64> {
        self.0.flow.map(|(_, s)| s)
    }

    /// Now, in nanoseconds since the Unix epoch.
    pub fn now_ns(&self) -> u64 {
        let base = self.0.base_ns.load(Ordering::SeqCst);
        match self.0.flow {
            Some((t0, speed)) => {
                let flowed = (t0.elapsed().as_nanos() as u64).saturating_mul(speed);
                base.saturating_add(flowed)
            }
            None => base,
        }
    }

    /// Now, in whole seconds since the Unix epoch.
    pub fn now_secs(&self) -> u64 {
        self.now_ns() / 1_000_000_000
    }

    /// Moves time forward by `d`.
    pub fn advance(&self, d: Duration) {
        self.0
            .base_ns
            .fetch_add(d.as_nanos() as u64, Ordering::SeqCst);
    }
}

/// The wall clock, ns since the Unix epoch: what token expiry is measured against, because the
/// clients that compare it (keystoneauth) read their own wall clock, whatever virtual time says.
pub fn wall_now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Formats seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (the OpenStack timestamp shape).
pub fn iso8601(secs: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(secs);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// Formats seconds since the epoch as `YYYY-mm-dd HH:MM:SS` (the deployment scripts' log shape).
pub fn log_time(secs: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(secs);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
}

/// Days-from-civil inverse (Howard Hinnant's algorithm): no date crate needed for UTC output.
fn civil(secs: u64) -> (i64, u32, u32, u64, u64, u64) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Deterministic UUID-shaped identifiers: a per-mock sequence mixed through SplitMix64, so two
/// runs of the same scenario see the same IDs.
#[derive(Clone, Debug)]
pub struct IdGen {
    salt: u64,
    n: u64,
}

impl IdGen {
    /// A generator whose IDs differ from other generators' by `salt`.
    pub fn new(salt: u64) -> Self {
        Self { salt, n: 0 }
    }

    fn next_u64(&mut self) -> u64 {
        self.n += 1;
        let mut z = self.salt ^ self.n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A new `8-4-4-4-12` hexadecimal identifier.
    pub fn uuid(&mut self) -> String {
        let a = self.next_u64();
        let b = self.next_u64();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | (b >> 48) & 0x3fff,
            b & 0xffff_ffff_ffff
        )
    }

    /// Eight hexadecimal characters (the suffix of Nomad dispatch IDs).
    pub fn hex8(&mut self) -> String {
        format!("{:08x}", self.next_u64() >> 32)
    }
}

/// What an injected fault does to a matching request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// Answer with this status (e.g. 500, 502, 503) and a plain-text body, without touching state.
    Status(u16),
    /// Hold the request for this long before answering 504: a client with a shorter timeout
    /// sees a read timeout, as python-nomad does with its 5 s limit.
    Timeout(Duration),
    /// Answer normally but only after this delay (a slow list).
    Slow(Duration),
}

/// One fault rule: which requests it hits and how many times.
#[derive(Clone, Debug)]
pub struct Fault {
    /// Only this method, or any method when `None`.
    pub method: Option<Method>,
    /// Only paths starting with this prefix (e.g. `/v1/nodes`), or every path when `None`.
    pub path_prefix: Option<String>,
    /// What happens.
    pub kind: FaultKind,
    /// How many requests it hits before it expires; `None` means until cleared.
    pub remaining: Option<u32>,
}

impl Fault {
    /// A fault on every request until cleared.
    pub fn always(kind: FaultKind) -> Self {
        Self {
            method: None,
            path_prefix: None,
            kind,
            remaining: None,
        }
    }

    /// Restricts the fault to paths starting with `prefix`.
    pub fn on_path(mut self, prefix: &str) -> Self {
        self.path_prefix = Some(prefix.to_owned());
        self
    }

    /// Restricts the fault to one HTTP method.
    pub fn on_method(mut self, method: Method) -> Self {
        self.method = Some(method);
        self
    }

    /// Lets the fault hit only the next `n` matching requests.
    pub fn times(mut self, n: u32) -> Self {
        self.remaining = Some(n);
        self
    }
}

/// One line of the request log. Bodies and headers are never recorded: job definitions carry
/// secrets in their env templates and `X-Auth-Token` is a credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedRequest {
    /// Virtual time of arrival (ns since the epoch).
    pub at_ns: u64,
    /// HTTP method.
    pub method: String,
    /// Path without the query string.
    pub path: String,
    /// Names of the query parameters (values may carry user data, so they are left out).
    pub query_keys: Vec<String>,
    /// Status answered.
    pub status: u16,
    /// The injected fault, if one answered.
    pub fault: Option<FaultKind>,
}

/// Fault rules and the request log of one mock, reached through each mock's `control()`.
#[derive(Debug, Default)]
pub struct Control {
    faults: Mutex<Vec<Fault>>,
    log: Mutex<VecDeque<LoggedRequest>>,
}

/// The request log keeps the most recent entries only, so a long rehearsal stays bounded.
const LOG_CAPACITY: usize = 10_000;

impl Control {
    /// Adds a fault rule; rules are tried in insertion order.
    pub fn inject(&self, fault: Fault) {
        lock(&self.faults).push(fault);
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        lock(&self.faults).clear();
    }

    /// A copy of the request log, oldest first.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.log).iter().cloned().collect()
    }

    /// Empties the request log.
    pub fn clear_requests(&self) {
        lock(&self.log).clear();
    }

    fn take_fault(&self, method: &Method, path: &str) -> Option<FaultKind> {
        let mut faults = lock(&self.faults);
        let i = faults.iter().position(|f| {
            f.method.as_ref().is_none_or(|m| m == method)
                && f.path_prefix.as_deref().is_none_or(|p| path.starts_with(p))
        })?;
        let kind = faults[i].kind.clone();
        if let Some(n) = faults[i].remaining.as_mut() {
            *n -= 1;
            if *n == 0 {
                faults.remove(i);
            }
        }
        Some(kind)
    }

    fn record(&self, entry: LoggedRequest) {
        let mut log = lock(&self.log);
        if log.len() == LOG_CAPACITY {
            log.pop_front();
        }
        log.push_back(entry);
    }
}

/// Locks a mutex, recovering the data if a previous holder panicked: a mock must keep
/// answering even after a bug in one handler.
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A mock's state machine that catches up with the virtual clock (boots, GC, builds).
pub trait Clocked {
    /// Applies everything due at `now_ns`.
    fn tick(&mut self, now_ns: u64);
}

/// A mock's state behind its lock, brought up to the virtual clock on every access: what the
/// Nomad and OpenStack mocks share between their handlers and their handle.
pub struct Synced<S> {
    state: Mutex<S>,
    /// The clock the state follows.
    pub clock: VirtualClock,
}

impl<S: Clocked> Synced<S> {
    /// Wraps a state that follows `clock`.
    pub fn new(state: S, clock: VirtualClock) -> Self {
        Synced {
            state: Mutex::new(state),
            clock,
        }
    }

    /// The state, caught up with the clock.
    pub fn synced(&self) -> std::sync::MutexGuard<'_, S> {
        let mut st = lock(&self.state);
        st.tick(self.clock.now_ns());
        st
    }

    /// Moves the clock forward and lets the state catch up at once.
    pub fn advance(&self, d: std::time::Duration) {
        self.clock.advance(d);
        drop(self.synced());
    }

    /// Runs `f` on the state, caught up with the clock.
    pub fn with<R>(&self, f: impl FnOnce(&mut S) -> R) -> R {
        f(&mut self.synced())
    }

    /// The state as it is, without catching up (for a reset that discards it anyway).
    pub fn unsynced(&self) -> std::sync::MutexGuard<'_, S> {
        lock(&self.state)
    }
}

#[derive(Clone)]
struct MiddlewareState {
    control: Arc<Control>,
    clock: VirtualClock,
}

async fn fault_and_log(State(st): State<MiddlewareState>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let query_keys = req
        .uri()
        .query()
        .map(|q| {
            q.split('&')
                .filter(|kv| !kv.is_empty())
                .map(|kv| kv.split('=').next().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default();
    let at_ns = st.clock.now_ns();
    let fault = st.control.take_fault(&method, &path);
    let response = match &fault {
        Some(FaultKind::Status(code)) => {
            let status = StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (status, format!("injected fault: {code}")).into_response()
        }
        Some(FaultKind::Timeout(d)) => {
            tokio::time::sleep(*d).await;
            (StatusCode::GATEWAY_TIMEOUT, "injected fault: timeout").into_response()
        }
        Some(FaultKind::Slow(d)) => {
            tokio::time::sleep(*d).await;
            next.run(req).await
        }
        None => next.run(req).await,
    };
    st.control.record(LoggedRequest {
        at_ns,
        method: method.to_string(),
        path,
        query_keys,
        status: response.status().as_u16(),
        fault,
    });
    response
}

/// Wraps a router with the fault injector and the request logger.
pub(crate) fn instrument(router: Router, control: Arc<Control>, clock: VirtualClock) -> Router {
    router.layer(axum::middleware::from_fn_with_state(
        MiddlewareState { control, clock },
        fault_and_log,
    ))
}

/// A running axum server on a loopback listener. Dropping it stops the server. Stop and
/// restart take `&self` so a mock shared behind an `Arc` can be powered off and on.
pub struct Server {
    addr: SocketAddr,
    router: Router,
    running: Mutex<Option<(oneshot::Sender<()>, JoinHandle<()>)>>,
}

impl Server {
    /// Serves `router` on `listener` in a background task.
    pub fn spawn(listener: TcpListener, router: Router) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let s = Self {
            addr,
            router,
            running: Mutex::new(None),
        };
        s.serve(listener);
        Ok(s)
    }

    fn serve(&self, listener: TcpListener) {
        let (tx, rx) = oneshot::channel::<()>();
        let app = self.router.clone();
        let join = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        *lock(&self.running) = Some((tx, join));
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Whether the listener is open.
    pub fn is_running(&self) -> bool {
        lock(&self.running).is_some()
    }

    /// Closes the listener: clients then get "connection refused", as when the VM is gone.
    /// Idle keep-alive connections are closed too (the server task is aborted).
    pub async fn stop(&self) {
        let running = lock(&self.running).take();
        if let Some((tx, join)) = running {
            let _ = tx.send(());
            join.abort();
            let _ = join.await;
        }
    }

    /// Re-opens the listener on the same address (a recreated VM keeps its address here so
    /// that clients configured with `NOMAD_ADDR` find it again).
    pub async fn restart(&self) -> std::io::Result<()> {
        if !self.is_running() {
            let listener = TcpListener::bind(self.addr).await?;
            self.serve(listener);
        }
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some((tx, join)) = lock(&self.running).take() {
            let _ = tx.send(());
            join.abort();
        }
    }
}

/// A plain-text error with a status, the way Nomad's HTTP agent writes its errors.
pub(crate) fn text_error(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, msg.into()).into_response()
}

/// A body parse helper for handlers that must answer 400 (not axum's 422) on bad JSON.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_match_known_instants() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            iso8601(DEFAULT_EPOCH_NS / 1_000_000_000),
            "2026-01-01T00:00:00Z"
        );
        // 2024-02-29T12:34:56Z, a leap day, is 1709210096 s after the epoch.
        assert_eq!(iso8601(1_709_210_096), "2024-02-29T12:34:56Z");
        assert_eq!(log_time(1_709_210_096), "2024-02-29 12:34:56");
    }

    #[test]
    fn served_clock_starts_at_the_wall_clock_and_runs_at_its_speed() {
        assert!(VirtualClock::served(0).is_err());
        assert!(VirtualClock::served(MAX_SPEED + 1).is_err());
        let before = wall_now_ns();
        let c = VirtualClock::served(1).unwrap();
        let t0 = c.now_ns();
        assert!(t0 >= before && t0 <= wall_now_ns());
        let fast = VirtualClock::served(1000).unwrap();
        let f0 = fast.now_ns();
        std::thread::sleep(Duration::from_millis(20));
        // 20 ms of wall time is at least 20 s at 1000x, and at least 20 ms at 1x.
        assert!(fast.now_ns() - f0 >= 20_000_000_000);
        assert!(c.now_ns() - t0 >= 20_000_000);
        assert!(c.now_ns() - t0 < 20_000_000_000);
        c.advance(Duration::from_secs(3600));
        assert!(c.now_ns() - t0 >= 3_600_000_000_000);
        assert_eq!(c.speed(), Some(1));
        let still = VirtualClock::default();
        assert_eq!(still.speed(), None);
        assert_eq!(still.now_ns(), DEFAULT_EPOCH_NS);
    }

    #[test]
    fn ids_are_deterministic_and_uuid_shaped() {
        let (mut a, mut b) = (IdGen::new(7), IdGen::new(7));
        let (x, y) = (a.uuid(), b.uuid());
        assert_eq!(x, y);
        assert_eq!(x.len(), 36);
        assert_eq!(x.matches('-').count(), 4);
        assert_ne!(a.uuid(), x);
        assert_eq!(a.hex8().len(), 8);
    }

    #[test]
    fn counted_faults_expire_and_match_by_path() {
        let c = Control::default();
        c.inject(
            Fault::always(FaultKind::Status(503))
                .on_path("/v1/nodes")
                .times(2),
        );
        assert_eq!(c.take_fault(&Method::GET, "/v1/jobs"), None);
        assert_eq!(
            c.take_fault(&Method::GET, "/v1/nodes"),
            Some(FaultKind::Status(503))
        );
        assert_eq!(
            c.take_fault(&Method::GET, "/v1/nodes"),
            Some(FaultKind::Status(503))
        );
        assert_eq!(c.take_fault(&Method::GET, "/v1/nodes"), None);
    }
}
