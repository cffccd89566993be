//! Stateful stand-ins for the HTTP services the system talks to, which cannot run here
//! (Nomad, OpenStack), and a client for the real ones.
//!
//! Each mock is an axum server on a loopback listener the caller provides
//! (`spawn(listener, clock, config)`), with state behind a `std::sync::Mutex`, driven by the
//! harness's [`VirtualClock`], with fault injection and a body-free request log ([`Control`]).
//! The state machines ([`nomad_model::NomadState`], [`openstack_model::OpenStackState`]) are plain
//! structs, testable without sockets.
//!
//! Faults the harness can inject:
//!
//! | fault | how |
//! |---|---|
//! | 5xx answer, timeout, slow answer (per path/method, N times) | `mock.control().inject(Fault::always(FaultKind::Status(503)).on_path("/v1/nodes").times(1))` |
//! | lost node / lost allocations | [`NomadMock::lose_node`], or `with_state(|s| s.lose_alloc(id))` |
//! | quota exceeded | [`OpenStackMock::set_quotas`] |
//! | expired token | [`OpenStackMock::expire_tokens`] |
//! | Nomad server gone (connection refused) | [`NomadMock::power_off`] |
//!
//! The request log ([`Control::requests`]) records method, path, query keys, status and the
//! fault applied: never bodies, headers or query values (job definitions and tokens are secrets).

pub mod client;
pub mod common;
pub mod jobspec;
pub mod nomad;
pub mod nomad_files;
pub mod nomad_model;
pub mod nomad_runs;
pub mod openstack;
pub mod openstack_model;
pub mod served;

pub use common::{Control, Fault, FaultKind, LoggedRequest, VirtualClock};
pub use nomad::NomadMock;
pub use openstack::{OpenStackMock, link_workers};
