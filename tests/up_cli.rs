//! `hrsi up` as its user runs it: the exports on stdout, then the real tools against them
//! (curl as the operator scripts, psql, python-nomad, openstacksdk); a signal stops and
//! removes everything; a killed `hrsi up` leaves nothing running.

mod common;

use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use common::{repo, text};

/// The variables the issue lists, in order.
const VARS: [&str; 16] = [
    "DATABASE_URL",
    "PGHOST",
    "PGPORT",
    "PGUSER",
    "PGDATABASE",
    "COSIMS_DB_HTTP_API_BASE_URL",
    "NOMAD_ADDR",
    "OS_AUTH_URL",
    "OS_USERNAME",
    "OS_PASSWORD",
    "OS_PROJECT_NAME",
    "OS_PROJECT_ID",
    "OS_USER_DOMAIN_NAME",
    "OS_PROJECT_DOMAIN_ID",
    "OS_REGION_NAME",
    "OS_IDENTITY_API_VERSION",
];

struct Up {
    child: Child,
    env: BTreeMap<String, String>,
    env_file: PathBuf,
    _dir: tempfile::TempDir,
}

/// Starts `hrsi up` and waits for its exports (every line of stdout must be one).
fn start(extra: &[&str]) -> Up {
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join("hrsi.env");
    let mut child = Command::new(env!("CARGO_BIN_EXE_hrsi"))
        .arg("up")
        .arg("--env-file")
        .arg(&env_file)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let mut names = Vec::new();
    let mut env = BTreeMap::new();
    while names.len() < VARS.len() {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no exports from hrsi up: {:?}", child.try_wait()));
        let rest = line
            .strip_prefix("export ")
            .unwrap_or_else(|| panic!("not an export: {line}"));
        let (k, v) = rest.split_once('=').unwrap();
        names.push(k.to_owned());
        env.insert(k.to_owned(), v.trim_matches('\'').to_owned());
    }
    assert_eq!(names, VARS, "exactly the listed variables, in order");
    Up {
        child,
        env,
        env_file,
        _dir: dir,
    }
}

fn run_with(up: &Up, program: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(program)
        .args(args)
        .envs(&up.env)
        .env_remove("PGPASSWORD")
        .env_remove("OS_CLOUD")
        .output()
        .unwrap();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

/// The pinned real clients `.ci/python-clients` installs; missing, the test fails saying so.
fn python() -> PathBuf {
    let root = std::env::var_os("HRSI_PYTHON_CLIENTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/hrsi-clients"));
    let py = root.join("main/bin/python");
    let want = std::fs::read(repo().join(".ci/python-clients-main.txt")).unwrap();
    let have = std::fs::read(root.join("main/.hrsi-lock")).unwrap_or_default();
    assert!(
        py.exists() && have == want,
        "the real Python clients are missing or out of date in {}: run `bash .ci/python-clients`",
        root.display()
    );
    py
}

fn postmaster_pid(up: &Up) -> i32 {
    let (ok, dir, err) = run_with(up, "psql", &["-XAtc", "show data_directory"]);
    assert!(ok, "{err}");
    std::fs::read_to_string(PathBuf::from(dir.trim()).join("postmaster.pid"))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// Running: the process exists and is not a zombie.
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(false)
}

fn port_open(url: &str) -> bool {
    let hostport = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    std::net::TcpStream::connect_timeout(&hostport.parse().unwrap(), Duration::from_millis(500))
        .is_ok()
}

fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < limit, "{what} after {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_real_tools_work_against_the_exports_and_sigterm_removes_everything() {
    let py = python();
    let mut up = start(&["--speed", "60"]);
    let api = up.env["COSIMS_DB_HTTP_API_BASE_URL"].clone();
    assert!(api.starts_with("http://127.0.0.1:"));
    assert!(
        std::fs::read_to_string(&up.env_file)
            .unwrap()
            .contains("export OS_IDENTITY_API_VERSION=3")
    );

    // curl, as common/set_system_param.sh and get_system_params.sh do.
    let (ok, code, err) = run_with(
        &up,
        "curl",
        &[
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "PATCH",
            &format!("{api}/system_parameters"),
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"max_number_of_worker_instances": "7"}"#,
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(code, "204");
    let (ok, body, err) = run_with(
        &up,
        "curl",
        &[
            "-sS",
            "-H",
            "Accept: application/vnd.pgrst.object+json",
            &format!("{api}/system_parameters?id=eq.1"),
        ],
    );
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["max_number_of_worker_instances"], 7);

    // psql on DATABASE_URL (and on the PG* variables).
    let url = up.env["DATABASE_URL"].clone();
    let (ok, out, err) = run_with(
        &up,
        "psql",
        &[
            &url,
            "-XAtc",
            "select max_number_of_worker_instances, (select count(*) > 100000 from cosims.job_status_changes), (select count(*) > 10000 from cosims.parent_jobs) from cosims.system_parameters",
        ],
    );
    assert!(ok, "{err}");
    // The simulator's production-shaped history (warm start + 10 days), not 1000 jobs.
    assert_eq!(out.trim(), "7|t|t");
    let (ok, out, _) = run_with(
        &up,
        "psql",
        &[
            "-XAtc",
            "select count(*) from cosims.system_parameters_history",
        ],
    );
    assert!(ok && out.trim().parse::<i64>().unwrap() >= 2);

    // python-nomad against NOMAD_ADDR: the job files and the orchestrator node.
    let py = py.to_str().unwrap();
    let (ok, out, err) = run_with(
        &up,
        py,
        &[
            "-c",
            "import nomad, os, json\nn = nomad.Nomad(address=os.environ['NOMAD_ADDR'], timeout=10)\nprint(json.dumps({'jobs': sorted(j['ID'] for j in n.jobs.get_jobs()), 'nodes': [x['Name'] for x in n.nodes.get_nodes()]}))",
        ],
    );
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert!(
        v["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "tf-tata"),
        "{v}"
    );
    assert!(v["jobs"].as_array().unwrap().len() >= 5, "{v}");

    // openstacksdk against OS_AUTH_URL, configured by the OS_* variables alone.
    let (ok, out, err) = run_with(
        &up,
        py,
        &[
            "-c",
            "import openstack\nc = openstack.connect()\nprint(sorted(s.name for s in c.compute.servers()))",
        ],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("'tf-tata'") && out.contains("'tf-tutu'"),
        "{out}"
    );

    // SIGTERM: everything stops, the files go.
    let pid = postmaster_pid(&up);
    let nomad = up.env["NOMAD_ADDR"].clone();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(up.child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = up.child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(up.child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(status.success(), "{err}");
    assert!(err.contains("nothing left behind"), "{err}");
    assert!(
        !err.contains("placeholder-os-password"),
        "a secret in the summary: {err}"
    );
    assert!(!alive(pid), "the postmaster survived");
    assert!(!up.env_file.exists());
    assert!(!port_open(&api) && !port_open(&nomad));
}

#[test]
fn a_killed_hrsi_up_leaves_nothing_running() {
    // The small generated data set is still there on request.
    let mut up = start(&["--jobs", "50"]);
    let (ok, out, err) = run_with(
        &up,
        "psql",
        &["-XAtc", "select count(*) from cosims.parent_jobs"],
    );
    assert!(ok, "{err}");
    assert!(out.trim().parse::<i64>().unwrap() < 100, "{out}");
    let pid = postmaster_pid(&up);
    let api = up.env["COSIMS_DB_HTTP_API_BASE_URL"].clone();
    assert!(alive(pid) && port_open(&api));
    up.child.kill().unwrap();
    up.child.wait().unwrap();
    wait_until("the postmaster still runs", Duration::from_secs(15), || {
        !alive(pid)
    });
    assert!(!port_open(&api));
    let pg = format!("127.0.0.1:{}", up.env["PGPORT"]);
    wait_until("PostgreSQL still listens", Duration::from_secs(5), || {
        std::net::TcpStream::connect_timeout(&pg.parse().unwrap(), Duration::from_millis(200))
            .is_err()
    });
}

#[test]
fn bad_input_fails_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.sql");
    std::fs::write(&bad, "create table cosims.x (id int;\n").unwrap();
    for (args, needle) in [
        (
            vec!["--schema".to_owned(), "/nonexistent/schema.sql".to_owned()],
            "schema.sql",
        ),
        (
            vec![
                "--backup".to_owned(),
                "/nonexistent/database-all.sql".to_owned(),
            ],
            "database-all.sql",
        ),
        (vec!["--speed".to_owned(), "0".to_owned()], "speed"),
        (vec!["--port-base".to_owned(), "80".to_owned()], "port-base"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_hrsi"))
            .arg("up")
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            out.stdout.is_empty(),
            "exports printed for bad input {args:?}"
        );
        assert!(
            text(&out.stderr).contains(needle),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    let out = Command::new(env!("CARGO_BIN_EXE_hrsi"))
        .args(["up", "--schema"])
        .arg(&bad)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("bad.sql"),
        "{}",
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty());
}
