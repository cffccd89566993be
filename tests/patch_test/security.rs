//! Issue 9 §1: the patch must not reach anything but a throwaway database.

use std::{path::Path, process::Command};

use super::{all_text, hrsi, run, run_patch, unique_path, write};

#[test]
fn psql_meta_commands_that_reach_the_host_are_refused_and_run_nothing() {
    for (i, template) in [
        "select 1;\n\\! id > {F}\n",
        "select 1 \\g |touch {F}\n",
        "\\copy (select 1) to program 'touch {F}'\n",
        "\\o {F}\nselect 1;\n",
        "\\copy (select 1) to '{F}'\n",
        "select 1;\n\\set x `touch {F}`\n",
        "\\w {F}\nselect 1;\n",
    ]
    .iter()
    .enumerate()
    {
        let f = unique_path(&format!("meta{i}"));
        let text = template.replace("{F}", f.to_str().unwrap());
        let (code, out) = run_patch(&text, &[]);
        assert_eq!(code, Some(2), "{text}: {out}");
        assert!(out.contains("p.sql:"), "the line is named: {out}");
        assert!(!f.exists(), "{text} created {}", f.display());
    }
}

#[test]
fn an_include_outside_the_patch_directory_is_refused_without_showing_the_file() {
    let (code, out) = run_patch("\\i /etc/passwd\nselect 1;\n", &[]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("p.sql:1") && out.contains("outside"), "{out}");
    assert!(!out.contains("root:"), "{out}");
}

#[test]
fn a_connect_hidden_mid_line_behind_a_quote_or_in_an_include_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "inc.sql", "select 2;\n\\c victim\n");
    for (text, needle) in [
        (
            "select 1 \\c victim\ndrop schema cosims cascade;\n",
            "p.sql:1",
        ),
        ("select 'unterminated;\n\\c victim\n", "p.sql:1"),
        ("select $x$ never closed;\n\\c victim\n", "p.sql:1"),
        ("\\ir inc.sql\n", "inc.sql:2"),
    ] {
        let patch = write(dir.path(), "p.sql", text);
        let out = run(&["--patch", patch.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{text}: {}", all_text(&out));
        assert!(
            all_text(&out).contains(needle),
            "{text}: {}",
            all_text(&out)
        );
    }
}

#[test]
fn server_programs_and_files_stop_the_test_and_the_role_stops_hidden_ones() {
    // Found in the text: not run at all.
    let f = unique_path("copyprog");
    let (code, out) = run_patch(
        &format!("copy (select 1) to program 'touch {}';\n", f.display()),
        &[],
    );
    assert_eq!(code, Some(4), "{out}");
    assert!(
        out.contains("server-programs") && out.contains("NOT RUN"),
        "{out}"
    );
    assert!(!f.exists());
    // Hidden behind dynamic SQL: it runs, as a role that may not do it.
    let f = unique_path("dynamic");
    let (code, out) = run_patch(
        &format!(
            "do $$ begin execute 'co' || 'py (select 1) to pro' || 'gram ''touch {}'''; end $$;\n",
            f.display()
        ),
        &[],
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("42501"), "permission denied: {out}");
    assert!(!f.exists(), "COPY PROGRAM ran");
    let (code, out) = run_patch(
        "do $$ declare t text; begin execute 'select pg_read' || '_file(''/etc/passwd'')' into t; raise notice '%', t; end $$;\n",
        &[],
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(!out.contains("root:"), "{out}");
}

/// A second throwaway cluster standing for the user's server: `cosims` with data, the
/// production roles, and a `victim` database.
fn external_source() -> hrsi_harness::postgres::Server {
    use hrsi_harness::{dataset::DatasetSpec, postgres::production_cluster, schema::Schema};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let spec = DatasetSpec {
            jobs: 100,
            ..DatasetSpec::default()
        };
        let server = production_cluster(&Schema::builtin(), Some(&spec))
            .await
            .unwrap();
        let c = server.connect("postgres").await.unwrap();
        for sql in [
            "create database victim",
            "alter role postgres password 'S3cretPW'",
            "create role reader login password 'S3cretPW'",
        ] {
            c.batch_execute(sql).await.unwrap();
        }
        server
    })
}

fn psql(port: u16, db: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([
            "-X",
            "-At",
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "postgres",
            "-d",
            db,
            "-c",
            sql,
        ])
        .env("PGPASSWORD", "S3cretPW")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Roles (with their password hashes), databases and settings of a server.
fn server_state(port: u16, data_dir: &Path) -> String {
    let mut s = psql(
        port,
        "postgres",
        "select rolname, rolsuper, rolcreaterole, rolcanlogin, coalesce(rolpassword, '') from pg_authid order by 1",
    );
    s += &psql(
        port,
        "postgres",
        "select datname, datallowconn, coalesce(shobj_description(oid, 'pg_database'), '') from pg_database order by 1",
    );
    s += &psql(
        port,
        "postgres",
        "select name, setting, source from pg_settings order by 1",
    );
    s += &psql(
        port,
        "postgres",
        "select count(*), sum(n_tup_ins + n_tup_upd + n_tup_del) from pg_stat_all_tables",
    );
    s += &std::fs::read_to_string(data_dir.join("postgresql.auto.conf")).unwrap_or_default();
    s
}

#[test]
fn the_postgres_url_is_a_read_only_source_left_byte_for_byte_unchanged() {
    let source = external_source();
    let cluster = source.cluster().unwrap();
    let port = cluster.port();
    let before = server_state(port, &cluster.data_dir());
    let cap = "select max_number_of_worker_instances from cosims.system_parameters";
    let cap_before = psql(port, "postgres", cap);
    let url = format!("postgres://postgres:S3cretPW@127.0.0.1:{port}/postgres");
    let dir = tempfile::tempdir().unwrap();
    let patch = write(
        dir.path(),
        "p.sql",
        "create role evil superuser login;\nalter role postgres password 'hacked';\ndrop database victim;\n\
         drop database victim with (force);\ndrop schema cosims cascade;\n",
    );
    let out = hrsi()
        .args(["patch-test", "--patch", patch.to_str().unwrap()])
        .env("HRSI_POSTGRES_URL", &url)
        .output()
        .unwrap();
    let t = all_text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("read only") && t.contains("postgres://postgres:***@"),
        "{t}"
    );
    assert!(!t.contains("S3cretPW"), "{t}");
    // The copy held the source's data: the patch failed on the copy's roles, not for lack of data.
    assert!(t.contains("42501"), "{t}");
    let after = server_state(port, &cluster.data_dir());
    assert_eq!(before, after, "the source server changed");

    // A patch that applies on the copy changes the source no more.
    let good = write(
        dir.path(),
        "good.sql",
        "update cosims.system_parameters set max_number_of_worker_instances = 3;\n",
    );
    let out = hrsi()
        .args([
            "patch-test",
            "--patch",
            good.to_str().unwrap(),
            "--json",
            "-",
        ])
        .env("HRSI_POSTGRES_URL", &url)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all_text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["statements"][0]["rows"], 1);
    assert_eq!(server_state(port, &cluster.data_dir()), before);
    assert_eq!(psql(port, "postgres", cap), cap_before);
}

#[test]
fn secrets_never_reach_the_patch_nor_any_message() {
    let source = external_source();
    let port = source.cluster().unwrap().port();
    let url = format!("postgres://postgres:S3cretPW@127.0.0.1:{port}/postgres");
    // The reproducer: read the password from the environment, make the server print it.
    let dir = tempfile::tempdir().unwrap();
    let patch = write(
        dir.path(),
        "p.sql",
        "\\getenv pw PGPASSWORD\nselect :'pw'::int;\n",
    );
    for via_env in [true, false] {
        let mut cmd = hrsi();
        cmd.args(["patch-test", "--patch", patch.to_str().unwrap()])
            .env("PGPASSWORD", "S3cretPW");
        if via_env {
            cmd.env("HRSI_POSTGRES_URL", &url);
        } else {
            cmd.args(["--postgres-url", &url]);
        }
        let out = cmd.output().unwrap();
        let t = all_text(&out);
        assert_eq!(out.status.code(), Some(2), "{t}");
        assert!(t.contains("`\\getenv`") && !t.contains("S3cretPW"), "{t}");
    }
    // Even a patch that runs sees no secret: the server's environment is clean.
    let good = write(
        dir.path(),
        "env.sql",
        "select current_setting('data_directory');\n",
    );
    let out = hrsi()
        .args(["patch-test", "--patch", good.to_str().unwrap()])
        .env("HRSI_POSTGRES_URL", &url)
        .env("PGPASSWORD", "S3cretPW")
        .output()
        .unwrap();
    assert!(!all_text(&out).contains("S3cretPW"), "{}", all_text(&out));
    // Malformed connection strings never echo the password.
    for bad in [
        "host=127.0.0.1 passwd=S3cretPW",
        "host=127.0.0.1 password='S3cretPW with spaces",
        "host=127.0.0.1 port=1 password = S3cretPW",
        "postgres://u:S3cretPW@127.0.0.1:notaport/db",
        "mysql://u:S3cretPW@h/db",
    ] {
        let out = hrsi()
            .args([
                "patch-test",
                "--patch",
                good.to_str().unwrap(),
                "--postgres-url",
                bad,
            ])
            .output()
            .unwrap();
        let t = all_text(&out);
        assert!(matches!(out.status.code(), Some(2 | 3)), "{bad}: {t}");
        assert!(!t.contains("S3cretPW"), "{bad}: {t}");
    }
}

fn ours(base: &Path, prefix: &str) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(base)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(prefix))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !cond() {
        assert!(std::time::Instant::now() < deadline, "{what}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn a_signal_stops_the_cluster_removes_every_file_and_exits_128_plus_n() {
    use std::os::unix::fs::MetadataExt;
    for (signal, code) in [("TERM", 143), ("INT", 130), ("HUP", 129)] {
        let dir = tempfile::tempdir().unwrap();
        let patch = write(dir.path(), "slow.sql", "select pg_sleep(60);\n");
        let mut child = hrsi()
            .args([
                "patch-test",
                "--jobs",
                "50",
                "--patch",
                patch.to_str().unwrap(),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        let shm = Path::new("/dev/shm");
        let tmp = std::env::temp_dir();
        let scratch_prefix = format!("hrsi-{pid}-");
        let cluster_prefix = format!("pgh-{pid}-");
        // The verdict is running once the cluster's log shows the statement's session.
        wait_for("the run never reached the patch", || {
            ours(&tmp, &scratch_prefix).len() == 1
                && ours(shm, &cluster_prefix)
                    .iter()
                    .chain(ours(&tmp, &cluster_prefix).iter())
                    .any(|d| d.join("data/postmaster.pid").exists())
                && std::fs::read_dir("/proc").unwrap().flatten().any(|p| {
                    std::fs::read_to_string(p.path().join("cmdline"))
                        .is_ok_and(|c| c.contains("hrsi_patch") && c.contains("SELECT"))
                })
        });
        for d in ours(&tmp, &scratch_prefix) {
            assert_eq!(
                std::fs::metadata(&d).unwrap().mode() & 0o777,
                0o700,
                "{}",
                d.display()
            );
            for f in std::fs::read_dir(&d).unwrap().flatten() {
                let mode = f.metadata().unwrap().mode() & 0o777;
                assert_eq!(mode & 0o077, 0, "{} is {mode:o}", f.path().display());
            }
        }
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &pid.to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(code), "{signal}");
        assert!(ours(shm, &cluster_prefix).is_empty() && ours(&tmp, &cluster_prefix).is_empty());
        assert!(
            ours(&tmp, &scratch_prefix).is_empty(),
            "temporary files left"
        );
    }
}

#[test]
fn a_looping_or_sleeping_patch_times_out_at_its_line() {
    let (code, out) = run_patch(
        "select 1;\ndo $$ begin loop perform 1; end loop; end $$;\n",
        &["--statement-timeout", "1s"],
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("timed out at") && out.contains("p.sql:2 after 1."),
        "{out}"
    );
    assert!(out.contains("--statement-timeout"), "{out}");
    let (code, out) = run_patch("select pg_sleep(600);\n", &["--timeout", "8s"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("timed out at") && out.contains("p.sql:1") && out.contains("--timeout"),
        "{out}"
    );
}

#[test]
fn a_schema_or_a_backup_that_reaches_the_host_is_refused_before_it_loads() {
    let dir = tempfile::tempdir().unwrap();
    let f = unique_path("schema");
    let schema = write(
        dir.path(),
        "init_database.sql",
        &format!(
            "create schema cosims;\ncopy (select 1) to program 'touch {}';\n",
            f.display()
        ),
    );
    let patch = write(dir.path(), "p.sql", "select 1;\n");
    let out = run(&[
        "--patch",
        patch.to_str().unwrap(),
        "--schema",
        schema.to_str().unwrap(),
    ]);
    let t = all_text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("init_database.sql:2") && t.contains("PROGRAM"),
        "{t}"
    );
    let g = unique_path("dump");
    let dump = write(
        dir.path(),
        "database-all.sql",
        &format!(
            "--\n-- PostgreSQL database cluster dump\n--\ncreate schema cosims;\ncopy (select 1) to program 'touch {}';\n",
            g.display()
        ),
    );
    let out = run(&[
        "--patch",
        patch.to_str().unwrap(),
        "--backup",
        dump.to_str().unwrap(),
    ]);
    let t = all_text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("line 5") && t.contains("PROGRAM"), "{t}");
    assert!(!f.exists() && !g.exists());
}
