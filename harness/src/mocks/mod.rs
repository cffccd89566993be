//! Stateful stand-ins for the HTTP services the system talks to, which cannot run here
//! (Nomad, OpenStack), and a client for the real ones.
//!
//! Each mock is an axum server on a loopback listener the caller provides
//! (`spawn(listener, clock, config)`), with state behind a `std::sync::Mutex`, driven by the
//! harness's [`VirtualClock`], with fault injection and a body-free request log ([`Control`]).
//! The state machines ([`nomad_model::NomadState`], [`openstack_model::OpenStackState`]) are plain
//! structs, testable without sockets.

pub mod client;
pub mod common;
pub mod jobspec;
pub mod nomad;
pub mod nomad_files;
pub mod nomad_model;
pub mod openstack;
pub mod openstack_model;

pub use common::{Control, Fault, FaultKind, LoggedRequest, VirtualClock};
pub use nomad::NomadMock;
pub use openstack::{OpenStackMock, link_workers};
