//! Servers as Nova writes them (typed, so listing hundreds of workers stays cheap).

use super::*;

#[derive(serde::Serialize)]
struct Link {
    rel: &'static str,
    href: String,
}

#[derive(serde::Serialize)]
struct Address<'a> {
    version: u8,
    addr: &'a str,
    #[serde(rename = "OS-EXT-IPS:type")]
    kind: &'static str,
    #[serde(rename = "OS-EXT-IPS-MAC:mac_addr")]
    mac: String,
}

#[derive(serde::Serialize)]
struct VolumeRef<'a> {
    id: &'a str,
    delete_on_termination: bool,
}

#[derive(serde::Serialize)]
struct NameRef<'a> {
    name: &'a str,
}

#[derive(serde::Serialize)]
struct ImageRef<'a> {
    id: &'a str,
    links: [Link; 0],
}

/// A server as Nova writes it (typed, so that listing hundreds of workers stays cheap).
#[derive(serde::Serialize)]
struct ServerView<'a> {
    id: &'a str,
    name: &'a str,
    status: &'a str,
    tenant_id: &'a str,
    user_id: &'static str,
    metadata: &'a BTreeMap<String, String>,
    #[serde(rename = "hostId")]
    host_id: &'static str,
    image: ImageRef<'a>,
    flavor: Value,
    created: String,
    updated: String,
    addresses: BTreeMap<&'a str, Vec<Address<'a>>>,
    #[serde(rename = "accessIPv4")]
    access_ipv4: &'static str,
    #[serde(rename = "accessIPv6")]
    access_ipv6: &'static str,
    links: [Link; 1],
    key_name: Option<&'a str>,
    security_groups: Vec<NameRef<'a>>,
    #[serde(rename = "OS-EXT-STS:vm_state")]
    vm_state: &'static str,
    #[serde(rename = "OS-EXT-STS:task_state")]
    task_state: Option<&'static str>,
    #[serde(rename = "OS-EXT-STS:power_state")]
    power_state: u8,
    #[serde(rename = "OS-EXT-AZ:availability_zone")]
    availability_zone: &'static str,
    #[serde(rename = "os-extended-volumes:volumes_attached")]
    volumes_attached: Vec<VolumeRef<'a>>,
    progress: u8,
    config_drive: &'static str,
    #[serde(rename = "OS-DCF:diskConfig")]
    disk_config: &'static str,
}

fn server_view<'a>(
    s: &'a Server,
    fips: &'a [FloatingIp],
    base: &str,
    project: &'a str,
    embedded_flavor: bool,
) -> ServerView<'a> {
    let mut addresses: BTreeMap<&str, Vec<Address<'_>>> = BTreeMap::new();
    for (net, ip) in &s.addresses {
        let list = addresses.entry(net.as_str()).or_default();
        list.push(Address {
            version: 4,
            addr: ip,
            kind: "fixed",
            mac: network::mac_of(ip),
        });
        // A floating IP associated with this NIC's port shows after its fixed address, as
        // Nova lists it (the worker pool reads `addresses[net][0]`, the fixed one).
        for f in fips.iter().filter(|f| f.fixed_ip.as_deref() == Some(ip)) {
            list.push(Address {
                version: 4,
                addr: &f.address,
                kind: "floating",
                mac: network::mac_of(ip),
            });
        }
    }
    let f = &s.flavor;
    let flavor = if embedded_flavor {
        json!({"vcpus": f.vcpus, "ram": f.ram_mb, "disk": f.disk_gb, "ephemeral": 0, "swap": 0, "original_name": f.name, "extra_specs": {}})
    } else {
        json!({"id": f.id, "links": [{"rel": "bookmark", "href": format!("{base}/compute/v2.1/flavors/{}", f.id)}]})
    };
    let active = s.status == "ACTIVE";
    ServerView {
        id: &s.id,
        name: &s.name,
        status: &s.status,
        tenant_id: project,
        user_id: "operator",
        metadata: &s.metadata,
        host_id: "",
        image: ImageRef {
            id: &s.image_id,
            links: [],
        },
        flavor,
        created: iso8601(secs(s.created_ns)),
        updated: iso8601(secs(s.updated_ns)),
        addresses,
        access_ipv4: "",
        access_ipv6: "",
        links: [Link {
            rel: "self",
            href: format!("{base}/compute/v2.1/servers/{}", s.id),
        }],
        key_name: s.key_name.as_deref(),
        security_groups: s
            .security_groups
            .iter()
            .map(|g| NameRef { name: g })
            .collect(),
        vm_state: if active { "active" } else { "building" },
        task_state: if active { None } else { Some("spawning") },
        power_state: u8::from(active),
        availability_zone: "nova",
        volumes_attached: s
            .volumes
            .iter()
            .map(|id| VolumeRef {
                id,
                delete_on_termination: false,
            })
            .collect(),
        progress: if active { 100 } else { 0 },
        config_drive: "",
        disk_config: "MANUAL",
    }
}

/// Server JSON, with the flavor embedded (microversion ≥ 2.47, what openstacksdk reads as
/// `flavor["original_name"]`) or as a link (older microversions).
pub fn server_json(s: &Server, st: &OpenStackState, base: &str, embedded_flavor: bool) -> Value {
    serde_json::to_value(server_view(
        s,
        &st.fips,
        base,
        &st.config.project_id,
        embedded_flavor,
    ))
    .unwrap_or(Value::Null)
}

/// `{"servers": [...]}` of `GET /servers/detail`, serialized directly.
pub fn servers_detail_body<'a>(
    servers: impl Iterator<Item = &'a Server>,
    st: &'a OpenStackState,
    base: &str,
    embedded_flavor: bool,
) -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct Body<'a> {
        servers: Vec<ServerView<'a>>,
    }
    let body = Body {
        servers: servers
            .map(|s| server_view(s, &st.fips, base, &st.config.project_id, embedded_flavor))
            .collect(),
    };
    serde_json::to_vec(&body).unwrap_or_default()
}
