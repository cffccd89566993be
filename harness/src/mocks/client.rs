//! Clients for the real services the harness may be pointed at instead of its mocks: a Nomad
//! server named by `NOMAD_ADDR` (with `NOMAD_TOKEN`), an OpenStack cloud named by `OS_AUTH_URL`
//! and the `OS_*` credentials, and the product catalogue (resto search API, Finder) that
//! publication feeds. They speak the same calls the system makes (orchestration.md §4.6, §5,
//! §6), with python-nomad's 5 s timeout. Loopback or plain HTTP only: the workspace builds
//! reqwest without a TLS stack, so an `https://` URL is refused with a clear error.
//!
//! Secrets (tokens, passwords) are sent in headers or bodies only; no error or `Debug` output
//! contains them.

use std::{collections::BTreeMap, time::Duration};

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};

use super::jobspec::Job;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A bad address or missing setting.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The connection failed or timed out (python-nomad's `BaseNomadException` cases).
    #[error("failed to reach `{url}`: {message}")]
    Transport {
        /// URL without query string.
        url: String,
        /// The transport error.
        message: String,
    },
    /// The service answered with an error status.
    #[error("`{method} {path}` answered {status}: {body}")]
    Status {
        /// Method.
        method: String,
        /// Path.
        path: String,
        /// HTTP status.
        status: u16,
        /// Response body (the service's message).
        body: String,
    },
    /// The answer was not the JSON expected.
    #[error("failed to decode the answer of `{path}`: {message}")]
    Decode {
        /// Path.
        path: String,
        /// Decoder message.
        message: String,
    },
}

impl ClientError {
    /// The HTTP status, for errors that have one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

type Result<T> = std::result::Result<T, ClientError>;

fn check_base(url: &str, var: &str) -> Result<String> {
    let trimmed = url.trim_end_matches('/');
    let rest = trimmed.strip_prefix("http://").ok_or_else(|| {
        if trimmed.starts_with("https://") {
            ClientError::Config(format!(
                "{var}={trimmed}: https is not supported (the harness is built without TLS)"
            ))
        } else {
            ClientError::Config(format!("{var}={trimmed}: expected an http:// URL"))
        }
    })?;
    if rest.is_empty() || rest.starts_with('/') || rest.contains(char::is_whitespace) {
        return Err(ClientError::Config(format!(
            "{var}={trimmed}: missing or invalid host"
        )));
    }
    Ok(trimmed.to_owned())
}

fn http(timeout: Duration) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| ClientError::Config(e.to_string()))
}

async fn send(rb: RequestBuilder, url: &str) -> Result<reqwest::Response> {
    let path = url.split('?').next().unwrap_or(url).to_owned();
    rb.send().await.map_err(|e| ClientError::Transport {
        url: path,
        message: if e.is_timeout() {
            "timed out".into()
        } else {
            e.to_string()
        },
    })
}

async fn json_or_error(resp: reqwest::Response, method: &Method, path: &str) -> Result<Value> {
    let status = resp.status();
    let text = resp.text().await.map_err(|e| ClientError::Decode {
        path: path.into(),
        message: e.to_string(),
    })?;
    if !status.is_success() {
        return Err(ClientError::Status {
            method: method.to_string(),
            path: path.into(),
            status: status.as_u16(),
            body: text,
        });
    }
    if text.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(&text).map_err(|e| ClientError::Decode {
        path: path.into(),
        message: e.to_string(),
    })
}

// ---- Nomad --------------------------------------------------------------------------------------

/// A Nomad HTTP API client.
#[derive(Clone)]
pub struct NomadClient {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl std::fmt::Debug for NomadClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NomadClient")
            .field("base", &self.base)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl NomadClient {
    /// A client for `addr` (`http://host:4646`), with python-nomad's 5 s timeout.
    pub fn new(addr: &str, token: Option<String>) -> Result<Self> {
        Self::with_timeout(addr, token, Duration::from_secs(5))
    }

    /// A client with another timeout.
    pub fn with_timeout(addr: &str, token: Option<String>, timeout: Duration) -> Result<Self> {
        Ok(Self {
            base: check_base(addr, "NOMAD_ADDR")?,
            token,
            http: http(timeout)?,
        })
    }

    /// From `NOMAD_ADDR` (default `http://127.0.0.1:4646`, as python-nomad) and `NOMAD_TOKEN`,
    /// read through `var` so callers and tests choose the environment.
    pub fn from_env_with(var: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let addr = var("NOMAD_ADDR").unwrap_or_else(|| "http://127.0.0.1:4646".into());
        Self::new(&addr, var("NOMAD_TOKEN").filter(|t| !t.is_empty()))
    }

    /// From the process environment.
    pub fn from_env() -> Result<Self> {
        Self::from_env_with(|k| std::env::var(k).ok())
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value> {
        let url = format!("{}{path}", self.base);
        let mut rb = self.http.request(method.clone(), &url);
        if let Some(t) = &self.token {
            rb = rb.header("X-Nomad-Token", t);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = send(rb, &url).await?;
        json_or_error(resp, &method, path.split('?').next().unwrap_or(path)).await
    }

    /// `GET /v1/jobs`.
    pub async fn jobs(&self) -> Result<Value> {
        self.call(Method::GET, "/v1/jobs", None).await
    }

    /// `GET /v1/job/:id`.
    pub async fn job(&self, id: &str) -> Result<Value> {
        self.call(Method::GET, &format!("/v1/job/{id}"), None).await
    }

    /// `POST /v1/jobs` (`nomad job run`).
    pub async fn register(&self, job: &Job) -> Result<Value> {
        self.call(Method::POST, "/v1/jobs", Some(json!({ "Job": job })))
            .await
    }

    /// `POST /v1/job/:id/dispatch` as job_execution sends it; returns `DispatchedJobID`.
    pub async fn dispatch(&self, id: &str, meta: &BTreeMap<String, String>) -> Result<String> {
        let path = format!("/v1/job/{id}/dispatch");
        let v = self
            .call(
                Method::POST,
                &path,
                Some(json!({"Meta": meta, "Payload": null})),
            )
            .await?;
        v["DispatchedJobID"]
            .as_str()
            .map(str::to_owned)
            .ok_or(ClientError::Decode {
                path,
                message: "no DispatchedJobID".into(),
            })
    }

    /// `GET /v1/job/:id/summary`.
    pub async fn summary(&self, id: &str) -> Result<Value> {
        self.call(Method::GET, &format!("/v1/job/{id}/summary"), None)
            .await
    }

    /// `GET /v1/job/:id/allocations`.
    pub async fn job_allocations(&self, id: &str) -> Result<Value> {
        self.call(Method::GET, &format!("/v1/job/{id}/allocations"), None)
            .await
    }

    /// `DELETE /v1/job/:id` (the monitor never purges).
    pub async fn deregister(&self, id: &str, purge: bool) -> Result<Value> {
        let q = if purge { "?purge=true" } else { "" };
        self.call(Method::DELETE, &format!("/v1/job/{id}{q}"), None)
            .await
    }

    /// `GET /v1/nodes`.
    pub async fn nodes(&self) -> Result<Value> {
        self.call(Method::GET, "/v1/nodes", None).await
    }

    /// `GET /v1/node/:id/allocations`.
    pub async fn node_allocations(&self, id: &str) -> Result<Value> {
        self.call(Method::GET, &format!("/v1/node/{id}/allocations"), None)
            .await
    }

    /// `POST /v1/node/:id/eligibility`.
    pub async fn set_eligibility(&self, id: &str, eligible: bool) -> Result<Value> {
        let e = if eligible { "eligible" } else { "ineligible" };
        self.call(
            Method::POST,
            &format!("/v1/node/{id}/eligibility"),
            Some(json!({"Eligibility": e, "NodeID": id})),
        )
        .await
    }

    /// `GET /v1/allocation/:id`.
    pub async fn allocation(&self, id: &str) -> Result<Value> {
        self.call(Method::GET, &format!("/v1/allocation/{id}"), None)
            .await
    }
}

// ---- OpenStack ----------------------------------------------------------------------------------

/// The `OS_*` credentials (the OpenStack RC v3 file).
#[derive(Clone, PartialEq, Eq)]
pub struct OsCredentials {
    /// `OS_AUTH_URL` (the Keystone v3 URL).
    pub auth_url: String,
    /// `OS_USERNAME`.
    pub username: String,
    /// `OS_PASSWORD`.
    pub password: String,
    /// `OS_PROJECT_ID` (or `OS_PROJECT_NAME` when no ID).
    pub project: String,
    /// `OS_USER_DOMAIN_NAME` (default `Default`).
    pub user_domain: String,
    /// `OS_REGION_NAME`, to pick catalog endpoints.
    pub region: Option<String>,
}

impl std::fmt::Debug for OsCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OsCredentials")
            .field("auth_url", &self.auth_url)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("project", &self.project)
            .finish()
    }
}

impl OsCredentials {
    /// Reads the `OS_*` variables through `var`; names the first one missing.
    pub fn from_env_with(var: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let need = |k: &str| {
            var(k).filter(|v| !v.is_empty()).ok_or_else(|| {
                ClientError::Config(format!("{k} is not set (source the OpenStack RC v3 file)"))
            })
        };
        Ok(Self {
            auth_url: check_base(&need("OS_AUTH_URL")?, "OS_AUTH_URL")?,
            username: need("OS_USERNAME")?,
            password: need("OS_PASSWORD")?,
            project: var("OS_PROJECT_ID")
                .or_else(|| var("OS_PROJECT_NAME"))
                .ok_or_else(|| {
                    ClientError::Config("OS_PROJECT_ID or OS_PROJECT_NAME is not set".into())
                })?,
            user_domain: var("OS_USER_DOMAIN_NAME").unwrap_or_else(|| "Default".into()),
            region: var("OS_REGION_NAME"),
        })
    }

    /// From the process environment.
    pub fn from_env() -> Result<Self> {
        Self::from_env_with(|k| std::env::var(k).ok())
    }
}

#[derive(Clone, Debug)]
struct Session {
    token: String,
    compute: String,
}

/// An OpenStack client: Keystone password auth, then Nova through the catalog's compute
/// endpoint (microversion 2.47, so flavors come embedded). A 401 (expired token) triggers one
/// re-authentication and a retry, as keystoneauth does.
pub struct OpenStackClient {
    creds: OsCredentials,
    http: reqwest::Client,
    session: tokio::sync::Mutex<Option<Session>>,
}

impl OpenStackClient {
    /// A client; nothing is sent until the first call.
    pub fn new(creds: OsCredentials) -> Result<Self> {
        Ok(Self {
            creds,
            http: http(Duration::from_secs(30))?,
            session: tokio::sync::Mutex::new(None),
        })
    }

    async fn authenticate(&self) -> Result<Session> {
        let url = format!("{}/auth/tokens", self.creds.auth_url);
        let c = &self.creds;
        let scope = if c.project.len() == 32 || c.project.contains('-') {
            json!({"project": {"id": c.project}})
        } else {
            json!({"project": {"name": c.project, "domain": {"name": c.user_domain}}})
        };
        let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": c.username, "domain": {"name": c.user_domain}, "password": c.password}}}, "scope": scope}});
        let resp = send(self.http.post(&url).json(&body), &url).await?;
        let token = resp
            .headers()
            .get("X-Subject-Token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let v = json_or_error(resp, &Method::POST, "/v3/auth/tokens").await?;
        let token = token.ok_or(ClientError::Decode {
            path: "/v3/auth/tokens".into(),
            message: "no X-Subject-Token header".into(),
        })?;
        let compute =
            v["token"]["catalog"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|s| s["type"] == "compute")
                .flat_map(|s| s["endpoints"].as_array().into_iter().flatten())
                .find(|e| {
                    e["interface"] == "public"
                        && self.creds.region.as_ref().is_none_or(|r| {
                            e["region"] == r.as_str() || e["region_id"] == r.as_str()
                        })
                })
                .and_then(|e| e["url"].as_str())
                .ok_or(ClientError::Decode {
                    path: "/v3/auth/tokens".into(),
                    message: "no public compute endpoint in the catalog".into(),
                })?;
        Ok(Session {
            token,
            compute: compute.trim_end_matches('/').to_owned(),
        })
    }

    async fn compute(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value> {
        for attempt in 0..2 {
            let session = {
                let mut guard = self.session.lock().await;
                if guard.is_none() {
                    *guard = Some(self.authenticate().await?);
                }
                guard.clone().expect("set above")
            };
            let url = format!("{}{path}", session.compute);
            let mut rb = self
                .http
                .request(method.clone(), &url)
                .header("X-Auth-Token", &session.token)
                .header("X-OpenStack-Nova-API-Version", "2.47");
            if let Some(b) = &body {
                rb = rb.json(b);
            }
            let resp = send(rb, &url).await?;
            if resp.status() == StatusCode::UNAUTHORIZED && attempt == 0 {
                *self.session.lock().await = None;
                continue;
            }
            return json_or_error(resp, &method, path.split('?').next().unwrap_or(path)).await;
        }
        unreachable!("the loop returns on its second attempt")
    }

    /// `GET /servers/detail`, optionally filtered by a name regex (Nova semantics).
    pub async fn servers(&self, name: Option<&str>) -> Result<Vec<Value>> {
        let q = name.map(|n| format!("?name={n}")).unwrap_or_default();
        let v = self
            .compute(Method::GET, &format!("/servers/detail{q}"), None)
            .await?;
        Ok(v["servers"].as_array().cloned().unwrap_or_default())
    }

    /// `POST /servers`; returns the new server's ID.
    pub async fn create_server(
        &self,
        name: &str,
        image_id: &str,
        flavor_id: &str,
        network_ids: &[&str],
    ) -> Result<String> {
        let nets: Vec<Value> = network_ids.iter().map(|n| json!({"uuid": n})).collect();
        let v = self.compute(Method::POST, "/servers", Some(json!({"server": {"name": name, "imageRef": image_id, "flavorRef": flavor_id, "networks": nets}}))).await?;
        v["server"]["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or(ClientError::Decode {
                path: "/servers".into(),
                message: "no server id".into(),
            })
    }

    /// `DELETE /servers/:id`.
    pub async fn delete_server(&self, id: &str) -> Result<()> {
        self.compute(Method::DELETE, &format!("/servers/{id}"), None)
            .await
            .map(|_| ())
    }

    /// `GET /flavors/detail`.
    pub async fn flavors(&self) -> Result<Vec<Value>> {
        let v = self.compute(Method::GET, "/flavors/detail", None).await?;
        Ok(v["flavors"].as_array().cloned().unwrap_or_default())
    }

    /// The `os-getConsoleOutput` action.
    pub async fn console_output(&self, id: &str) -> Result<String> {
        let v = self
            .compute(
                Method::POST,
                &format!("/servers/{id}/action"),
                Some(json!({"os-getConsoleOutput": {}})),
            )
            .await?;
        Ok(v["output"].as_str().unwrap_or_default().to_owned())
    }
}

// ---- product catalogue --------------------------------------------------------------------------

/// The resto search API of the product catalogue (Finder), which publication feeds and the
/// downstream job creations read back (orchestration.md §6): 200 results per page.
#[derive(Clone, Debug)]
pub struct CatalogueClient {
    base: String,
    http: reqwest::Client,
}

/// Percent-encodes a query value (reqwest is built without its `query` feature).
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b':' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Results per page, as `hrsi_util.py` asks.
pub const CATALOGUE_PAGE: usize = 200;

impl CatalogueClient {
    /// A client for `base` (e.g. `http://host/resto/api`).
    pub fn new(base: &str) -> Result<Self> {
        Ok(Self {
            base: check_base(base, "catalogue URL")?,
            http: http(Duration::from_secs(30))?,
        })
    }

    /// Every `productIdentifier` of `product_type` published in `[after, before)`, following
    /// pages until one comes back short.
    pub async fn published(
        &self,
        product_type: &str,
        after: &str,
        before: &str,
    ) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for page in 1.. {
            let url = format!("{}/collections/HRSI/search.json", self.base);
            let query = [
                ("productType", product_type),
                ("publishedAfter", after),
                ("publishedBefore", before),
                ("maxRecords", &CATALOGUE_PAGE.to_string()),
                ("page", &page.to_string()),
            ]
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect::<Vec<_>>()
            .join("&");
            let rb = self.http.get(format!("{url}?{query}"));
            let v = json_or_error(
                send(rb, &url).await?,
                &Method::GET,
                "/collections/HRSI/search.json",
            )
            .await?;
            let features = v["features"].as_array().cloned().unwrap_or_default();
            out.extend(features.iter().filter_map(|f| {
                f["properties"]["productIdentifier"]
                    .as_str()
                    .map(str::to_owned)
            }));
            if features.len() < CATALOGUE_PAGE {
                break;
            }
        }
        Ok(out)
    }
}
