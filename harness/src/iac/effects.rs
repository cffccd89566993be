//! What applying and destroying resources does outside Terraform's state.
//!
//! tf-tutu's instance is the PostgreSQL server and its cold volume is the data directory
//! ([`DatabaseInstance`]); tf-tete is the Nomad server (destroying it empties the Nomad mock and
//! closes its port; creating it re-registers the job files); tf-tata is the orchestrator node,
//! which registers with Nomad after its boot. Worker VMs are not Terraform's: nothing here
//! touches them.

use std::{future::Future, pin::Pin, sync::Arc, time::Duration};

use super::model::{Resource, Role};
use crate::mocks::{
    NomadMock, OpenStackMock,
    nomad_model::NodeSpec,
    openstack_model::{OsError, ServerRequest},
};

/// A boxed future, so the effect traits stay object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The database VM as the infrastructure sees it. Implemented in memory here and, by the
/// PostgreSQL harness, by a real cluster (stop = shut the server down and keep the data dir).
pub trait DatabaseInstance: Send {
    /// The instance boots on the current volume: the server starts on the data it finds.
    fn start(&mut self) -> BoxFuture<'_, Result<(), String>>;
    /// The instance is destroyed: the server stops; the volume (data dir) is kept.
    fn stop(&mut self) -> BoxFuture<'_, Result<(), String>>;
    /// A new, empty volume: the next start initialises a fresh cluster (empty `cosims`).
    fn fresh_volume(&mut self) -> BoxFuture<'_, Result<(), String>>;
    /// The volume is destroyed: its data is gone for good.
    fn discard_volume(&mut self) -> BoxFuture<'_, Result<(), String>>;
}

/// An in-memory database instance: enough to test the model's effects without PostgreSQL.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct InMemoryDatabase {
    /// Whether the server answers.
    pub running: bool,
    /// Whether a volume exists.
    pub has_volume: bool,
    /// Rows in the database (survive stop/start, lost with a fresh volume).
    pub rows: Vec<String>,
    /// How many fresh volumes were initialised.
    pub fresh_volumes: u32,
}

impl InMemoryDatabase {
    /// Writes a row; fails while the server is down, as a connection would.
    pub fn insert(&mut self, row: &str) -> Result<(), String> {
        if !self.running {
            return Err("connection refused: the database instance is not running".into());
        }
        self.rows.push(row.into());
        Ok(())
    }
}

impl DatabaseInstance for InMemoryDatabase {
    fn start(&mut self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            if !self.has_volume {
                return Err("no database volume to boot from".into());
            }
            self.running = true;
            Ok(())
        })
    }

    fn stop(&mut self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            self.running = false;
            Ok(())
        })
    }

    fn fresh_volume(&mut self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            if self.running {
                return Err("cannot replace the volume of a running instance".into());
            }
            self.has_volume = true;
            self.rows.clear();
            self.fresh_volumes += 1;
            Ok(())
        })
    }

    fn discard_volume(&mut self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            if self.running {
                return Err("cannot destroy the volume of a running instance".into());
            }
            self.has_volume = false;
            self.rows.clear();
            Ok(())
        })
    }
}

/// A shared handle on a database instance, so a test keeps access while the model drives it.
impl<T: DatabaseInstance> DatabaseInstance for Arc<tokio::sync::Mutex<T>> {
    fn start(&mut self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move { self.lock().await.start().await })
    }

    fn stop(&mut self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move { self.lock().await.stop().await })
    }

    fn fresh_volume(&mut self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move { self.lock().await.fresh_volume().await })
    }

    fn discard_volume(&mut self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move { self.lock().await.discard_volume().await })
    }
}

/// Why an effect failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EffectError {
    /// The cloud refused the call (quota, bad request): Terraform itself fails.
    #[error("{0}")]
    Cloud(String),
    /// The resource exists but what runs on it failed (a database that does not start):
    /// Terraform does not see it.
    #[error("{0}")]
    Service(String),
}

/// Reacts to resources being created or destroyed.
pub trait Effects: Send {
    /// When `res` is created.
    fn created<'a>(&'a mut self, res: &'a Resource) -> BoxFuture<'a, Result<(), EffectError>>;
    /// When `res` is destroyed.
    fn destroyed<'a>(&'a mut self, res: &'a Resource) -> BoxFuture<'a, Result<(), EffectError>>;
}

/// No effects: a pure state model.
#[derive(Debug, Default)]
pub struct NoEffects;

impl Effects for NoEffects {
    fn created<'a>(&'a mut self, _: &'a Resource) -> BoxFuture<'a, Result<(), EffectError>> {
        Box::pin(async { Ok(()) })
    }

    fn destroyed<'a>(&'a mut self, _: &'a Resource) -> BoxFuture<'a, Result<(), EffectError>> {
        Box::pin(async { Ok(()) })
    }
}

/// The effects of the real system's resources on the harness's stand-ins.
pub struct SystemEffects {
    /// tf-tutu and its volume.
    pub database: Option<Box<dyn DatabaseInstance>>,
    /// tf-tete and tf-tata.
    pub nomad: Option<Arc<NomadMock>>,
    /// The project where Terraform's VMs and the database volume appear.
    pub openstack: Option<Arc<OpenStackMock>>,
    /// How long tf-tata takes to boot and register (not in the sources: 3 min assumed).
    pub orchestrator_boot: Duration,
}

/// Flavor and networks of each Terraform instance (infra.md §2.1; the proxy's are unknown).
fn instance_shape(role: Role) -> Option<(&'static str, &'static [&'static str])> {
    match role {
        Role::DatabaseInstance | Role::NomadServer => Some(("eo2.2xlarge", &["private_magellium"])),
        Role::Orchestrator => Some(("eo1.large", &["private_magellium"])),
        Role::WorkerTemplate => Some(("eo1.xsmall", &["private_magellium", "eodata_magellium"])),
        Role::Admin => Some(("eo1.small", &["private_magellium", "eodata"])),
        Role::DashboardProxy => Some(("eo1.small", &["private_magellium"])),
        Role::DatabaseVolume | Role::Other => None,
    }
}

fn os_msg(e: OsError) -> String {
    format!("OpenStack answered {}: {}", e.status, e.body)
}

fn cloud_created(os: &OpenStackMock, res: &Resource) -> Result<(), String> {
    let name = res.cloud_name.clone().unwrap_or_else(|| res.name.clone());
    os.with_state(|s| {
        if res.role == Role::DatabaseVolume {
            return s.create_volume(&name, 32).map(|_| ()).map_err(os_msg);
        }
        let Some((flavor, nets)) = instance_shape(res.role) else {
            return Ok(());
        };
        let req = ServerRequest {
            name,
            image_ref: s
                .images()
                .iter()
                .find(|i| i.name == "image_name")
                .map(|i| i.id.clone())
                .unwrap_or_default(),
            flavor_ref: s.flavor(flavor).map_err(os_msg)?.id.clone(),
            networks: nets.iter().map(|n| n.to_string()).collect(),
            security_groups: vec!["default".into(), "allow_ping_ssh_rdp".into()],
            key_name: Some("tf-toto-local-keypair".into()),
            metadata: Default::default(),
        };
        s.create_server(req).map(|_| ()).map_err(os_msg)
    })
}

fn cloud_destroyed(os: &OpenStackMock, res: &Resource) -> Result<(), String> {
    let name = res.cloud_name.clone().unwrap_or_else(|| res.name.clone());
    os.with_state(|s| {
        if res.role == Role::DatabaseVolume {
            let id = s
                .volumes()
                .iter()
                .find(|v| v.name == name)
                .map(|v| v.id.clone());
            return id.map_or(Ok(()), |id| s.delete_volume(&id).map_err(os_msg));
        }
        let id = s.server_by_name(&name).map(|v| v.id.clone());
        id.map_or(Ok(()), |id| s.delete_server(&id).map_err(os_msg))
    })
}

impl SystemEffects {
    /// Effects on a database and a Nomad mock; either may be absent.
    pub fn new(database: Option<Box<dyn DatabaseInstance>>, nomad: Option<Arc<NomadMock>>) -> Self {
        Self {
            database,
            nomad,
            openstack: None,
            orchestrator_boot: Duration::from_secs(180),
        }
    }

    /// Also creates and deletes Terraform's VMs and the database volume in an OpenStack mock.
    pub fn with_openstack(mut self, openstack: Arc<OpenStackMock>) -> Self {
        self.openstack = Some(openstack);
        self
    }
}

impl Effects for SystemEffects {
    fn created<'a>(&'a mut self, res: &'a Resource) -> BoxFuture<'a, Result<(), EffectError>> {
        Box::pin(async move {
            if let Some(os) = &self.openstack {
                cloud_created(os, res).map_err(EffectError::Cloud)?;
            }
            let r = match (res.role, &mut self.database, &self.nomad) {
                (Role::DatabaseVolume, Some(db), _) => db.fresh_volume().await,
                (Role::DatabaseInstance, Some(db), _) => db.start().await,
                (Role::NomadServer, _, Some(n)) => n.power_on().await.map(|_| ()),
                (Role::Orchestrator, _, Some(n)) => {
                    let boot = self.orchestrator_boot;
                    n.with_state(|s| s.add_node(NodeSpec::orchestrator(), boot));
                    Ok(())
                }
                _ => Ok(()),
            };
            r.map_err(EffectError::Service)
        })
    }

    fn destroyed<'a>(&'a mut self, res: &'a Resource) -> BoxFuture<'a, Result<(), EffectError>> {
        Box::pin(async move {
            if let Some(os) = &self.openstack {
                cloud_destroyed(os, res).map_err(EffectError::Cloud)?;
            }
            let r = match (res.role, &mut self.database, &self.nomad) {
                (Role::DatabaseVolume, Some(db), _) => db.discard_volume().await,
                (Role::DatabaseInstance, Some(db), _) => db.stop().await,
                (Role::NomadServer, _, Some(n)) => {
                    n.power_off().await;
                    Ok(())
                }
                (Role::Orchestrator, _, Some(n)) => {
                    let name = res.cloud_name.clone().unwrap_or_default();
                    n.with_state(
                        |s| match s.node_by_name(&name).map(|node| node.id.clone()) {
                            Some(id) => s.node_down(&id).map_err(|e| e.message),
                            None => Ok(()),
                        },
                    )
                }
                _ => Ok(()),
            };
            r.map_err(EffectError::Service)
        })
    }
}
