"""openstacksdk 4.22 and the `openstack` CLI (python-openstackclient 10.5, run in this process
through its own entry point, one invocation per command) against the OpenStack stand-in: the
calls the system and an operator make, their error paths, and answer shapes (fixtures/openstack).
Run by harness/tests/mocks_real_openstack.rs; prints `OK <n>` at the end."""

import contextlib
import io
import json
import os
import sys
import time

import openstack
import requests
from openstack import exceptions as ox

import shapes
from shapes import shape

shapes.FIXTURES = os.path.join(shapes.FIXTURES, "openstack")
SPEED = int(os.environ["HRSI_SPEED"])
T0 = time.time()
steps = 0
cli_runs = 0


def step(msg):
    global steps
    steps += 1
    print("ok", msg, flush=True)


def raises(exc, fn, *a, **kw):
    try:
        fn(*a, **kw)
    except exc as e:
        return e
    raise AssertionError(f"{fn.__name__} did not raise {exc.__name__}")


def cli(*argv, ok=True):
    """One `openstack ...` command, in-process; returns (exit code, stdout, stderr)."""
    global cli_runs
    cli_runs += 1
    from openstackclient import shell
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = shell.main(list(argv))
        except SystemExit as e:
            code = e.code
    if ok:
        assert code == 0, f"openstack {' '.join(argv)} -> {code}\n{out.getvalue()}\n{err.getvalue()}"
    return code, out.getvalue(), err.getvalue()


def cli_json(*argv):
    return json.loads(cli(*argv, "-f", "json")[1])


conn = openstack.connect()
project = os.environ["OS_PROJECT_ID"]

# ---- keystone ---------------------------------------------------------------------------------
projects = list(conn.identity.projects())
assert [p.id for p in projects] == [project], projects
shape(conn.identity.get(f"/projects/{project}").json()["project"], "project.json")
assert [p["ID"] for p in cli_json("project", "list")] == [project]
raw = requests.get(os.environ["OS_AUTH_URL"] + "/auth/projects", headers={"X-Auth-Token": conn.session.get_token()}).json()
assert raw["projects"][0]["id"] == project
step("keystone projects")

# ---- nova: servers as the worker pool reads them -------------------------------------------------
servers = conn.list_servers()
names = sorted(s.name for s in servers)
assert {"tf-tata", "tf-tete", "tf-titi", "tf-toto", "tf-tutu"} <= set(names), names
tata = conn.get_server("tf-tata")
assert tata.status == "ACTIVE" and tata.flavor["original_name"] == "eo1.large", tata.flavor
# updated is now (the served clock started at the wall clock), not months away.
upd = time.mktime(time.strptime(tata.updated_at, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
ahead = (time.time() - T0 + 5) * SPEED + 60
assert -ahead < time.time() - upd < 60, tata.updated_at
shape(conn.compute.get(f"/servers/{tata.id}", microversion="2.79").json()["server"], "server.json")
assert [g["name"] for g in conn.compute.fetch_server_security_groups(tata).security_groups] == ["default", "allow_ping_ssh_rdp"]
step("servers")

# ---- nova: flavors with extra specs, keypairs, limits, availability zones ------------------------
fl = conn.compute.find_flavor("hm.medium")
assert conn.compute.get_flavor(fl.id).vcpus == 2
conn.compute.create_flavor_extra_specs(fl, {"hw:cpu_policy": "shared"})
assert conn.compute.fetch_flavor_extra_specs(fl).extra_specs == {"hw:cpu_policy": "shared"}
shape(conn.compute.get(f"/flavors/{fl.id}", microversion="2.79").json()["flavor"], "flavor.json")
show = cli_json("flavor", "show", "hm.medium")
assert show["vcpus"] == 2 and "hw:cpu_policy" in json.dumps(show["properties"]), show
longlist = cli_json("flavor", "list", "--long")
assert {f["Name"] for f in longlist} >= {"hm.medium", "eo2.medium"}
kps = sorted(k.name for k in conn.compute.keypairs())
assert kps == ["tf-toto-external-key", "tf-toto-local-keypair", "tf-tutu-local-keypair"], kps
kp = conn.compute.create_keypair(name="operator-key", public_key="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG0 op@host")
shape(conn.compute.get("/os-keypairs/operator-key").json()["keypair"], "keypair.json")
raises(ox.ConflictException, conn.compute.create_keypair, name="operator-key", public_key="ssh-ed25519 AAAA x")
assert "operator-key" in [k["Name"] for k in cli_json("keypair", "list")]
conn.compute.delete_keypair(kp)
lim = conn.compute.get_limits()
assert lim.absolute.instances >= 5 and lim.absolute.instances_used >= 5, lim.absolute
assert [z.name for z in conn.compute.availability_zones()] == ["nova"]
assert cli("limits", "show", "--absolute")[0] == 0
assert "nova" in cli("availability", "zone", "list", "--compute")[1]
step("flavors, keypairs, limits, availability zones")

# ---- neutron: networks, subnets, routers, security groups ----------------------------------------
private = conn.network.find_network("private_magellium")
assert conn.network.get_network(private.id).name == "private_magellium"
ext = conn.network.find_network("external_magellium")
assert ext.is_router_external is True
shape(conn.network.get(f"/networks/{ext.id}").json()["network"], "network.json")
assert [n["Name"] for n in cli_json("network", "list", "--external")] == ["external_magellium"]
sub = [s for s in conn.network.subnets(network_id=private.id)]
assert len(sub) == 1, sub
shape(conn.network.get(f"/subnets/{sub[0].id}").json()["subnet"], "subnet.json")
router = conn.network.create_router(name="r1", external_gateway_info={"network_id": ext.id})
conn.network.add_interface_to_router(router, subnet_id=sub[0].id)
shape(conn.network.get(f"/routers/{router.id}").json()["router"], "router.json")
assert "r1" in [r["Name"] for r in cli_json("router", "list")]
sg = conn.network.create_security_group(name="web", description="http")
rule = conn.network.create_security_group_rule(security_group_id=sg.id, direction="ingress", protocol="tcp", port_range_min=80, port_range_max=80, remote_ip_prefix="0.0.0.0/0", ethertype="IPv4")
shape(conn.network.get(f"/security-groups/{sg.id}").json()["security_group"], "security_group.json")
raises(ox.ConflictException, conn.network.create_security_group_rule, security_group_id=sg.id, direction="ingress", protocol="tcp", port_range_min=80, port_range_max=80, remote_ip_prefix="0.0.0.0/0", ethertype="IPv4")
raises(ox.BadRequestException, conn.network.create_security_group_rule, security_group_id=sg.id, direction="sideways", ethertype="IPv4")
rules = cli_json("security", "group", "rule", "list", "web")
assert any(r["Port Range"] == "80:80" for r in rules), rules
step("networks, subnets, routers, security groups")

# ---- nova: create a server, metadata, interfaces, volume attachments -----------------------------
image = conn.compute.find_image("image_name")
small = conn.compute.find_flavor("eo1.xsmall")
e = raises(ox.BadRequestException, conn.compute.create_server, name="bad", image_id=image.id, flavor_id=small.id, networks=[{"uuid": private.id}], key_name="no-such-key")
assert "key_name" in str(e), e
vm = conn.compute.create_server(name="sdk-vm", image_id=image.id, flavor_id=small.id, networks=[{"uuid": private.id}], security_groups=[{"name": "web"}], key_name="tf-toto-local-keypair")
vm = conn.compute.wait_for_server(vm, interval=0.2, wait=60)
assert vm.status == "ACTIVE" and vm.key_name == "tf-toto-local-keypair"
conn.compute.set_server_metadata(vm, role="worker", batch="7")
assert conn.compute.get_server_metadata(vm).metadata == {"role": "worker", "batch": "7"}
conn.compute.delete_server_metadata(vm, ["batch"])
assert conn.compute.get_server_metadata(vm).metadata == {"role": "worker"}
e = raises(ox.ForbiddenException, conn.compute.set_server_metadata, vm, **{f"k{i}": "v" for i in range(129)})
assert "metadata_items" in str(e), e
ifaces = list(conn.compute.server_interfaces(vm))
assert len(ifaces) == 1 and ifaces[0].net_id == private.id, ifaces
port = list(conn.network.ports(device_id=vm.id))[0]
shape(conn.network.get(f"/ports/{port.id}").json()["port"], "port.json")
vol = conn.block_storage.create_volume(size=1, name="data")
shape(conn.block_storage.get(f"/volumes/{vol.id}").json()["volume"], "volume.json")
att = conn.compute.create_volume_attachment(vm, volume_id=vol.id)
assert att.device.startswith("/dev/vd"), att
assert [a.volume_id for a in conn.compute.volume_attachments(vm)] == [vol.id]
assert conn.block_storage.get_volume(vol.id).status == "in-use"
assert [v["id"] for v in conn.compute.get(f"/servers/{vm.id}").json()["server"]["os-extended-volumes:volumes_attached"]] == [vol.id]
conn.compute.delete_volume_attachment(vm, vol.id)
assert conn.block_storage.get_volume(vol.id).status == "available"
step("server create, metadata, interfaces, volume attachments")

# ---- floating IPs: create, associate with a port, the old SDKs' .json paths ----------------------
fip = conn.network.create_ip(floating_network_id=ext.id)
conn.network.update_ip(fip, port_id=port.id)
got = conn.network.get_ip(fip.id)
assert got.port_id == port.id and got.fixed_ip_address == port.fixed_ips[0]["ip_address"], got
shape(conn.network.get(f"/floatingips/{fip.id}").json()["floatingip"], "floatingip.json")
assert [f.id for f in conn.list_floating_ips()] == [fip.id]
old = conn.network.get("/floatingips.json").json()["floatingips"]
assert [f["id"] for f in old] == [fip.id], "openstacksdk 0.46 lists /floatingips.json"
assert conn.network.get("/networks.json").json()["networks"]
conn.network.update_ip(fip, port_id=None)
assert conn.network.get_ip(fip.id).port_id is None
step("floating IPs")

# ---- the CLI: server create with --security-group and --nic, a floating IP on it -----------------
made = cli_json("server", "create", "--image", "image_name", "--flavor", "eo1.xsmall", "--security-group", "web",
                "--nic", f"net-id={private.id}", "--key-name", "tf-toto-local-keypair", "--wait", "cli-vm")
assert made["name"] == "cli-vm" and made["status"] == "ACTIVE", made
ip = cli_json("floating", "ip", "create", "external_magellium")["floating_ip_address"]
cli("server", "add", "floating", "ip", "cli-vm", ip)
fshow = cli_json("floating", "ip", "show", ip)
cli_port = list(conn.network.ports(device_id=made["id"]))[0]
assert fshow["port_id"] == cli_port.id, fshow
addrs = cli_json("server", "show", "cli-vm")["addresses"]
assert ip in json.dumps(addrs), addrs
assert conn.get_server("cli-vm").addresses["private_magellium"][1]["OS-EXT-IPS:type"] == "floating"
assert "cli-vm" in [s["Name"] for s in cli_json("server", "list")]
assert len(cli_json("port", "list", "--server", "cli-vm")) == 1
quota = cli_json("quota", "show")
assert quota, quota
assert any(i["Name"] == "image_name" and i.get("Size") for i in cli_json("image", "list", "--long"))
assert "data" in [v["Name"] for v in cli_json("volume", "list")]
code, out, err = cli("server", "show", "no-such-server", ok=False)
assert code == 1 and "No Server found for no-such-server" in err, (code, err)
cli("server", "delete", "--wait", "cli-vm")
raises(ox.NotFoundException, conn.compute.get_server, made["id"])
step("openstack CLI")

# ---- glance, cinder -----------------------------------------------------------------------------
img = [i for i in conn.image.images() if i.name == "image_name"][0]
assert img.size > 0 and len(img.checksum) == 32, (img.size, img.checksum)
shape(conn.image.get(f"/images/{img.id}").json(), "image.json")
r = conn.block_storage.post("/volumes", json={"volume": {"size": 1, "display_name": "legacy"}})
assert r.status_code == 202 and r.json()["volume"]["name"] == "legacy", r.text
qs = conn.block_storage.get_quota_set(project)
assert qs.volumes == 20, qs
assert conn.compute.get_quota_set(project).cores == 1000
assert conn.network.get_quota(project).floating_ips == 10
step("glance, cinder, quotas")

# ---- error paths: 404, 400, quota 403/413/409, expired token -------------------------------------
raises(ox.NotFoundException, conn.compute.get_server, "no-such-server")
raises(ox.NotFoundException, conn.network.get_network, "no-such-network")
raises(ox.NotFoundException, conn.block_storage.get_volume, "no-such-volume")
r = conn.compute.post("/servers", data="{not json", headers={"Content-Type": "application/json"}, raise_exc=False)
assert r.status_code == 400 and "badRequest" in r.json(), r.text
e = raises(ox.HttpException, conn.block_storage.create_volume, size=5000, name="huge")
assert e.status_code == 413, e
for _ in range(20):
    try:
        conn.network.create_ip(floating_network_id=ext.id)
    except ox.ConflictException as e:
        assert "Quota exceeded" in str(e), e
        break
else:
    raise AssertionError("no 409 past the floating IP quota")
# A revoked (expired) token gets Keystone's 401; keystoneauth then authenticates again by itself.
token = conn.session.get_token()
assert requests.delete(os.environ["OS_AUTH_URL"] + "/auth/tokens", headers={"X-Auth-Token": token, "X-Subject-Token": token}).status_code == 204
r = requests.get(conn.compute.get_endpoint() + "/servers", headers={"X-Auth-Token": token})
assert r.status_code == 401 and r.json()["error"]["code"] == 401
conn.session.invalidate()
assert conn.list_servers()
step("error paths")

print("CLI", cli_runs)
print("OK", steps)
