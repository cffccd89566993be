"""python-nomad against the Nomad stand-in: every call the system, an operator or the CLI makes,
their error paths, and the answer shapes (fixtures/nomad). Run by harness/tests/mocks_real_nomad.rs
with both python-nomad versions; prints one line per checked step and `OK <n>` at the end."""

import base64
import json
import os
import time
import urllib.parse

import nomad
import requests
from nomad.api import exceptions as nx

import shapes
from shapes import shape

shapes.FIXTURES = os.path.join(shapes.FIXTURES, "nomad")

addr = urllib.parse.urlparse(os.environ["NOMAD_ADDR"])
n = nomad.Nomad(host=addr.hostname, port=addr.port, timeout=5)
base = os.environ["NOMAD_ADDR"]
steps = 0
T0 = time.time()


def step(msg):
    global steps
    steps += 1
    print("ok", msg, flush=True)


def raises(exc, fn, *args, **kw):
    try:
        fn(*args, **kw)
    except exc as e:
        return e
    raise AssertionError(f"{fn.__name__}{args} did not raise {exc.__name__}")


def wait_for(pred, what, timeout=20.0):
    """Long-polls /v1/allocations (a blocking query) until pred() holds."""
    deadline = time.time() + timeout
    index = int(requests.get(f"{base}/v1/allocations").headers["X-Nomad-Index"])
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        r = requests.get(f"{base}/v1/allocations", params={"index": index, "wait": "2s"}, timeout=5)
        index = int(r.headers["X-Nomad-Index"])
    raise AssertionError(f"timed out waiting for {what}")


# ---- agent, status, regions, metrics --------------------------------------------------------
assert n.status.leader.get_leader() == "127.0.0.1:4647"
assert n.status.peers.get_peers() == ["127.0.0.1:4647"]
assert n.regions.get_regions() == ["global"]
shape(n.agent.get_agent(), "agent_self.json")
shape(n.agent.get_members(), "agent_members.json")
shape(n.metrics.get_metrics(), "metrics.json")
step("agent, status, regions, metrics")

# ---- jobs and nodes as the worker pool reads them -------------------------------------------
jobs = n.jobs.get_jobs()
ids = sorted(j["ID"] for j in jobs)
assert "si-processing" in ids and "job-creation" in ids and len(ids) == 12, ids
for j in jobs:
    shape(j, "job_stub.json", f"job stub {j['ID']}")
shape(n.job.get_job("si-processing"), "job.json")
nodes = n.nodes.get_nodes()
names = sorted(x["Name"] for x in nodes)
assert "tf-tata" in names, names
for x in nodes:
    shape(x, "node_stub.json")
workers = [x for x in nodes if x["Name"].startswith("os-worker")]
assert len(workers) >= 3, names
for w in workers:
    node = shape(n.node.get_node(w["ID"]), "node.json")
    assert node["DrainStrategy"] is None and node["HostVolumes"] == {}
step("jobs and nodes")

# ---- dispatch, evaluation, allocations ------------------------------------------------------
meta = {"job_id": "1", "job_unique_id": "u-1"}
# RLIE-S1 runs 10 virtual hours in this world: it is still running while it is looked at.
d = shape(n.job.dispatch_job("rlies1-processing", meta=meta), "dispatch_response.json")
child = d["DispatchedJobID"]
assert child.startswith("rlies1-processing/dispatch-"), child
ev = shape(n.evaluation.get_evaluation(d["EvalID"]), "evaluation.json")
assert ev["JobID"] == child and ev["Status"] == "complete", ev
evs = n.evaluations.get_evaluations()
assert d["EvalID"] in [e["ID"] for e in evs]
assert [e["ID"] for e in n.job.get_evaluations(child)][0] == d["EvalID"]
ea = n.evaluation.get_allocations(d["EvalID"])
assert len(ea) == 1, ea
shape(ea[0], "allocation_stub.json")
alloc_id = ea[0]["ID"]
assert alloc_id in [a["ID"] for a in n.allocations.get_allocations()]
full = shape(n.allocation.get_allocation(alloc_id), "allocation.json")
assert full["ClientStatus"] == "running" and full["JobID"] == child
events = full["TaskStates"]["run-worker"]["Events"]
assert [e["Type"] for e in events][:3] == ["Received", "Task Setup", "Started"], events
# What the worker pool compares with its clock: ModifyTime is now (the served clock started at
# the wall clock's now and runs at SPEED), in ns since the epoch, not months away.
age = time.time() - full["ModifyTime"] / 1e9
ahead = (time.time() - T0 + 5) * int(os.environ["HRSI_SPEED"]) + 60
assert -ahead < age < 30, f"ModifyTime is {age:.0f} s old"
shape(n.job.get_summary(child), "job_summary.json")
step("dispatch, evaluation, allocations")

# ---- allocations end by themselves: complete, failed (rescheduled), lost --------------------
children = [
    n.job.dispatch_job("gfsc-processing", meta={"job_id": str(i), "job_unique_id": f"u-{i}"})["DispatchedJobID"]
    for i in range(2, 14)
]


def ended():
    out = {}
    for c in children:
        allocs = n.job.get_allocations(c)
        if not allocs or any(a["ClientStatus"] in ("pending", "running") for a in allocs):
            return None
        s = n.job.get_summary(c)["Summary"]["run-and-log"]
        if s["Queued"] or s["Starting"] or s["Running"]:
            return None
        out[c] = allocs
    return out


def all_done():
    # A failed allocation is rescheduled 5 virtual seconds after it ends (and a lost one
    # replaced): between its end and its replacement every allocation looks terminal. Done is
    # the same ended state seen twice, further apart than the reschedule delay (0.5 s wall =
    # 300 virtual s at 600x).
    first = ended()
    if not first:
        return None
    time.sleep(0.5)
    second = ended()
    ids = lambda d: {c: sorted((a["ID"], a["ClientStatus"]) for a in al) for c, al in d.items()}
    return second if second and ids(first) == ids(second) else None


done = wait_for(all_done, "every dispatched allocation to end")
seen = set()
for c, allocs in done.items():
    for a in allocs:
        seen.add(a["ClientStatus"])
        last = a["TaskStates"]["run-worker"]["Events"][-1]
        want = {"complete": ("Terminated", 0), "failed": ("Terminated", 1), "lost": ("Started", 0)}[a["ClientStatus"]]
        assert (last["Type"], last["ExitCode"]) == want, (a["ClientStatus"], last)
    s = n.job.get_summary(c)["Summary"]["run-and-log"]
    assert s["Running"] == 0 and s["Complete"] + s["Failed"] + s["Lost"] >= 1, s
    if len(allocs) > 1:
        first, second = sorted(allocs, key=lambda a: a["CreateIndex"])[:2]
        assert first["NextAllocation"] == second["ID"], (first, second)
        if first["ClientStatus"] == "failed":
            second = n.allocation.get_allocation(second["ID"])
            assert second["RescheduleTracker"]["Events"][0]["PrevAllocID"] == first["ID"]
assert {"complete", "failed", "lost"} <= seen, seen
step(f"allocations ended {sorted(seen)}")

# ---- blocking queries -------------------------------------------------------------------------
r = requests.get(f"{base}/v1/jobs")
idx = int(r.headers["X-Nomad-Index"])
t0 = time.time()
r = requests.get(f"{base}/v1/jobs", params={"index": idx, "wait": "300ms"})
assert r.status_code == 200 and time.time() - t0 >= 0.25, "a blocking query waits"
assert int(r.headers["X-Nomad-Index"]) == idx
extra = n.job.dispatch_job("gfsc-processing", meta=meta)
r = requests.get(f"{base}/v1/jobs", params={"index": idx, "wait": "5s"})
assert int(r.headers["X-Nomad-Index"]) > idx, "X-Nomad-Index moves on a change"
assert requests.get(f"{base}/v1/jobs", params={"index": "x"}).status_code == 400
assert requests.get(f"{base}/v1/jobs", params={"index": idx, "wait": "forever"}).status_code == 400
step("blocking queries")

# ---- register keeps every field; plan diff; versions, revert, stable, evaluate, scale ---------
job = n.job.get_job("job-creation")
job["Update"] = {"Stagger": 30000000000, "MaxParallel": 1, "HealthCheck": "checks", "MinHealthyTime": 10000000000}
g = job["TaskGroups"][0]
g["RestartPolicy"] = {"Attempts": 3, "Interval": 86400000000000, "Delay": 15000000000, "Mode": "fail"}
g["ReschedulePolicy"] = {"Attempts": 1, "Interval": 86400000000000, "Delay": 5000000000, "DelayFunction": "constant", "MaxDelay": 0, "Unlimited": False}
g["Networks"] = [{"Mode": "host", "MBits": 10, "DynamicPorts": [{"Label": "http", "Value": 0, "To": 0}]}]
g["Services"] = [{"Name": "job-creation", "PortLabel": "http", "Tags": ["hrsi"], "Checks": []}]
t = g["Tasks"][0]
t["LogConfig"] = {"MaxFiles": 10, "MaxFileSizeMB": 10}
t["Artifacts"] = []
plan = shape(n.job.plan_job("job-creation", {"Job": job}, diff=True), "plan_response.json")
assert plan["Diff"]["Type"] == "Edited", plan["Diff"]
added = [o["Name"] for o in plan["Diff"]["TaskGroups"][0]["Objects"] if o["Type"] == "Added"]
assert "RestartPolicy" in added and "ReschedulePolicy" in added, plan["Diff"]["TaskGroups"][0]
reg = shape(n.job.register_job("job-creation", {"Job": job}), "register_response.json")
assert n.evaluation.get_evaluation(reg["EvalID"])["TriggeredBy"] == "job-register"
back = n.job.get_job("job-creation")
for k in ("Update",):
    assert back[k] == job[k], (k, back[k])
for k in ("RestartPolicy", "ReschedulePolicy", "Networks", "Services"):
    assert back["TaskGroups"][0][k] == g[k], (k, back["TaskGroups"][0][k])
assert back["TaskGroups"][0]["Tasks"][0]["LogConfig"] == t["LogConfig"]
assert back["Version"] == 1, back["Version"]
vers = shape(n.job.get_versions("job-creation"), "versions_response.json")
assert [v["Version"] for v in vers["Versions"]] == [1, 0]
n.job.stable_job("job-creation", 1, True)
assert n.job.get_job("job-creation")["Stable"] is True
rv = n.job.revert_job("job-creation", 0)
assert n.job.get_job("job-creation")["Version"] == 2 and "Update" not in n.job.get_job("job-creation")
e = raises(nx.BadRequestNomadException, n.job.revert_job, "job-creation", 2)
ev = n.job.evaluate_job("job-creation")
assert n.evaluation.get_evaluation(ev["EvalID"])["JobID"] == "job-creation"
assert n.job.get_deployments("job-creation") == []
assert n.job.get_deployment("job-creation") is None
sc = shape(requests.get(f"{base}/v1/job/job-creation/scale").json(), "scale_status.json")
assert sc["TaskGroups"]["job-creation"]["Desired"] == 1
r = requests.post(f"{base}/v1/job/job-creation/scale", json={"Count": 0, "Target": {"Group": "job-creation"}})
assert r.status_code == 200 and "EvalID" in r.json()
assert requests.get(f"{base}/v1/job/job-creation/scale").json()["TaskGroups"]["job-creation"]["Placed"] == 0
step("register, plan diff, versions, revert, stable, evaluate, scale")

# ---- nodes: eligibility, drain, evaluate; allocation stop; gc ----------------------------------
w = workers[0]["ID"]
n.node.eligible_node(w, ineligible=True)
assert n.node.get_node(w)["SchedulingEligibility"] == "ineligible"
n.node.eligible_node(w, eligible=True)
# A drain lets a running batch allocation finish until the deadline: the strategy shows meanwhile.
large = [x["ID"] for x in nodes if x["Name"] == "os-worker-large"][0]
rl = child
assert n.job.get_allocations(rl)[0]["NodeID"] == large
dr = n.node.drain_node_with_spec(large, {"Deadline": 3600 * 10**9, "IgnoreSystemJobs": False})
assert "EvalIDs" in dr
node = n.node.get_node(large)
assert node["SchedulingEligibility"] == "ineligible" and node["Drain"] is True
shape(node["DrainStrategy"], "drain_strategy.json")
assert n.job.get_allocations(rl)[0]["ClientStatus"] == "running"
n.node.drain_node_with_spec(large, None, mark_eligible=True)
node = n.node.get_node(large)
assert node["DrainStrategy"] is None and node["SchedulingEligibility"] == "eligible"
assert "EvalIDs" in n.node.evaluate_node(w)
svc = [a for a in n.job.get_allocations("monitor") if a["ClientStatus"] == "running"][0]
if hasattr(nomad.api.allocation.Allocation, "stop_allocation"):
    st = n.allocation.stop_allocation(svc["ID"])
else:  # python-nomad 1.2.1 has no stop call: what `nomad alloc stop` sends.
    st = requests.post(f"{base}/v1/allocation/{svc['ID']}/stop").json()
assert n.evaluation.get_evaluation(st["EvalID"])["TriggeredBy"] == "alloc-stop"
old = n.allocation.get_allocation(svc["ID"])
assert old["DesiredTransition"]["Migrate"] is True and old["NextAllocation"], old["DesiredTransition"]
assert [e["Type"] for e in old["TaskStates"]["monitor"]["Events"]][-2:] == ["Killing", "Killed"]
assert n.allocation.get_allocation(old["NextAllocation"])["ClientStatus"] == "running"
assert n.system.initiate_garbage_collection()
step("eligibility, drain, node evaluate, alloc stop, gc")

# ---- errors as Nomad answers them ------------------------------------------------------------
raises(nx.URLNotFoundNomadException, n.job.get_job, "no-such-job")
raises(nx.URLNotFoundNomadException, n.allocation.get_allocation, "no-such-alloc")
raises(nx.URLNotFoundNomadException, n.evaluation.get_evaluation, "no-such-eval")
raises(nx.URLNotFoundNomadException, n.node.get_node, "no-such-node")
raises(nx.URLNotFoundNomadException, n.job.dispatch_job, "no-such-job", meta=meta)
assert n.job.get_allocations("no-such-job") == []
assert n.job.get_evaluations("no-such-job") == []
e = raises(nx.BadRequestNomadException, n.job.dispatch_job, "gfsc-processing", payload="not base64!", meta=meta)
assert "illegal base64 data at input byte" in e.nomad_resp.text, e.nomad_resp.text
big = base64.b64encode(b"x" * (16 * 1024 + 1)).decode()
e = raises(nx.BadRequestNomadException, n.job.dispatch_job, "gfsc-processing", payload=big, meta=meta)
assert "Payload exceeds maximum size" in e.nomad_resp.text, e.nomad_resp.text
raises(nx.BadRequestNomadException, n.job.dispatch_job, "gfsc-processing", meta={"nope": "1"})
raises(nx.BadRequestNomadException, n.job.register_job, "bad", {"Job": {"ID": "bad"}})
r = requests.delete(f"{base}/v1/job/monitor", params={"purge": "yes"})
assert r.status_code == 400 and "ParseBool" in r.text, r.text
step("error paths")

# ---- deregister: python-nomad sends purge=True (Python's bool), which must purge --------------
n.job.deregister_job("monitor", purge=True)
raises(nx.URLNotFoundNomadException, n.job.get_job, "monitor")
dereg = n.job.deregister_job("job-configuration")
assert n.job.get_job("job-configuration")["Stop"] is True
assert n.evaluation.get_evaluation(dereg["EvalID"])["TriggeredBy"] == "job-deregister"
step("deregister, with and without purge")

print("OK", steps)
