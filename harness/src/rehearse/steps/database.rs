//! The database steps: psql (at the prompt or `-f`), `pg_dumpall`, the nightly backup, borg,
//! and the runbook's restore.

use std::{path::Path, process::Stdio};

use super::{MAX_FILE, MAX_LINES, Outcome};
use crate::{
    backup,
    postgres::Server,
    psql,
    rehearse::{
        guard,
        transcript::{redact, redact_lines},
        world::{Db, LastRun, OPERATOR_ROLE, World, tool_user},
    },
    timefmt::UnixTime,
};
pub(super) async fn run_psql(
    w: &mut World,
    args: &[&str],
    stdin_file: Option<&Path>,
    out: &mut Outcome,
    shown: &str,
) -> Result<(), String> {
    let workdir = w.workdir.path().to_path_buf();
    let owns = w.owns_server();
    let run = w
        .with_server(async |srv: &Server, db: &str| {
            let user = tool_user();
            let mut cmd = srv.command_as("psql", db, user);
            if user.is_some() {
                cmd.env("HOME", "/tmp");
            }
            if !owns {
                cmd.env("PGUSER", OPERATOR_ROLE);
            }
            cmd.args(["-X", "-v", "VERBOSITY=verbose"]).args(args);
            cmd.current_dir(&workdir);
            match stdin_file {
                Some(f) => match std::fs::File::open(f) {
                    Ok(f) => {
                        cmd.arg("-f").arg("-").stdin(f);
                    }
                    Err(e) => return Err(format!("open the statement file: {e}")),
                },
                None => {
                    cmd.stdin(Stdio::null());
                }
            }
            psql::run(cmd, None)
                .await
                .map_err(|e| redact(&e.to_string()))
        })
        .await??;
    out.observed.push(format!("$ {shown}"));
    let stdout: Vec<&str> = run.stdout.lines().collect();
    out.observed
        .extend(redact_lines(stdout.iter().copied(), MAX_LINES));
    let errs: Vec<String> = run.errors.iter().map(|e| redact(&e.to_string())).collect();
    for e in &errs {
        out.observed.push(e.clone());
    }
    let code = run.exit_code;
    out.observed.push(match code {
        Some(c) => format!("psql exit code {c}, {} error(s)", errs.len()),
        None => "psql killed by a signal".into(),
    });
    w.last = LastRun {
        exit_code: code,
        errors: errs,
        output: run
            .stdout
            .lines()
            .chain(run.stderr.lines())
            .map(redact)
            .collect(),
    };
    Ok(())
}

pub(super) async fn sql(
    w: &mut World,
    q: &str,
    on_error_stop: bool,
    out: &mut Outcome,
) -> Result<(), String> {
    guard::check(q).map_err(|r| format!("refused: {r}"))?;
    let n = w.produced.len();
    let path = w.workdir.path().join(format!(".stdin-{n}.sql"));
    std::fs::write(&path, q).map_err(|e| format!("write the statement: {e}"))?;
    let mut args = Vec::new();
    if on_error_stop {
        args.extend(["-v", "ON_ERROR_STOP=1"]);
    }
    let shown = format!(
        "sudo -u postgres psql{} <<< {}",
        if on_error_stop {
            " -v ON_ERROR_STOP=1"
        } else {
            ""
        },
        one_line(q)
    );
    let r = run_psql(w, &args, Some(&path), out, &shown).await;
    let _ = std::fs::remove_file(&path);
    r
}

pub(super) fn one_line(q: &str) -> String {
    let s = q.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.len() > 160 {
        let mut cut = 160;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("'{}…'", &s[..cut])
    } else {
        format!("'{s}'")
    }
}

/// The file a step names: one the harness wrote, or the scenario's own (copied in, checked).
pub(super) fn resolve(w: &mut World, file: &str) -> Result<std::path::PathBuf, String> {
    let dest = w.workdir.path().join(file);
    if w.produced.contains(file) {
        return Ok(dest);
    }
    // Next to the scenario, or one level up (a suite's shared `patches/`).
    let near = w.scenario_dir.join(file);
    let src = match w.scenario_dir.parent() {
        Some(up) if !near.exists() && up.join(file).exists() => up.join(file),
        _ => near,
    };
    // A symbolic link could point anywhere on the host (read as root): refused, and the file
    // must stay inside the scenario's directory or its parent.
    let meta = std::fs::symlink_metadata(&src).map_err(|e| {
        format!(
            "`{file}`: {e} (looked next to the scenario and among the files earlier steps wrote)"
        )
    })?;
    let root = w.scenario_dir.parent().unwrap_or(&w.scenario_dir);
    let inside = std::fs::canonicalize(&src)
        .ok()
        .zip(std::fs::canonicalize(root).ok())
        .is_some_and(|(f, r)| f.starts_with(r));
    if meta.file_type().is_symlink() || !meta.is_file() || !inside {
        return Err(format!(
            "`{file}` is not a regular file inside the scenario's directory (symbolic links are refused)"
        ));
    }
    if meta.len() > MAX_FILE {
        return Err(format!(
            "`{file}` is {} bytes: at most {MAX_FILE}",
            meta.len()
        ));
    }
    let text = std::fs::read_to_string(&src).map_err(|e| format!("`{file}`: {e}"))?;
    guard::check(&text).map_err(|r| format!("refused `{file}`: {r}"))?;
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    std::fs::write(&dest, text).map_err(|e| e.to_string())?;
    Ok(dest)
}

pub(super) async fn psql_file(
    w: &mut World,
    file: &str,
    on_error_stop: bool,
    single_transaction: bool,
    out: &mut Outcome,
) -> Result<(), String> {
    let path = resolve(w, file)?;
    let mut args: Vec<&str> = Vec::new();
    if on_error_stop {
        args.extend(["-v", "ON_ERROR_STOP=1"]);
    }
    if single_transaction {
        args.push("--single-transaction");
    }
    let p = path.to_string_lossy().into_owned();
    args.extend(["-f", &p]);
    let shown = format!("sudo -u postgres psql {}", args.join(" "));
    run_psql(w, &args, None, out, &redact(&shown)).await
}

/// Results of the scenario's `equals_backup` queries now (what a backup taken now holds).
pub(super) async fn snapshot(
    w: &World,
) -> Result<std::collections::BTreeMap<String, String>, String> {
    let mut m = std::collections::BTreeMap::new();
    for q in &w.backup_queries {
        let v = crate::rehearse::expect::query(w, q).await?;
        m.insert(q.clone(), v);
    }
    Ok(m)
}

pub(super) async fn pg_dumpall(
    w: &mut World,
    schema_only: bool,
    to: &str,
    out: &mut Outcome,
) -> Result<(), String> {
    let path = w.workdir.path().join(to);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    w.with_server(async |srv: &Server, _db: &str| backup::dumpall(srv, schema_only, &path).await)
        .await?
        .map_err(|e| redact(&e.to_string()))?;
    let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
    let (copies, rows) = dump_stats(&text);
    out.observed.push(format!(
        "$ sudo -u postgres pg_dumpall{} > {to}",
        if schema_only { " -s" } else { "" }
    ));
    out.observed.push(format!(
        "{} lines; {copies} table(s) with data, {rows} row(s){}",
        text.lines().count(),
        if schema_only {
            " (schema only: no row of any table)"
        } else {
            ""
        }
    ));
    w.produced.insert(to.to_owned());
    let key = format!("dump {to}");
    let snap = if schema_only {
        Default::default()
    } else {
        snapshot(w).await?
    };
    w.backup_at.insert(key.clone(), w.now);
    w.backups.insert(key.clone(), snap);
    w.files.insert(to.to_owned(), key);
    Ok(())
}

pub(super) fn dump_stats(text: &str) -> (usize, usize) {
    let (mut copies, mut rows, mut in_copy) = (0, 0, false);
    for l in text.lines() {
        if in_copy {
            if l == "\\." {
                in_copy = false;
            } else {
                rows += 1;
            }
        } else if l.starts_with("COPY ") && l.ends_with("FROM stdin;") {
            in_copy = true;
            copies += 1;
        }
    }
    (copies, rows)
}

pub(super) async fn take_backup(w: &mut World, out: &mut Outcome) -> Result<(), String> {
    if !w.borg_ready {
        if !w.borg_made {
            w.borg.init().await.map_err(|e| redact(&e.to_string()))?;
        }
        w.borg_ready = true;
    }
    let at = UnixTime(w.instant().0.div_euclid(1000));
    let borg = w.borg.clone();
    let name = w
        .with_server(async |srv: &Server, _db: &str| borg.backup_dumpall(srv, Some(at)).await)
        .await?
        .map_err(|e| redact(&e.to_string()))?;
    out.observed.push(format!(
        "$ pg_dumpall | borg create --stdin-name database-all.sql /backup/tf-tutu::{name} -   (the 04:00 job)"
    ));
    let snap = snapshot(w).await?;
    w.backup_at.insert(name.clone(), w.now);
    w.backups.insert(name.clone(), snap);
    w.last_backup = Some(name);
    Ok(())
}

pub(super) async fn borg_extract(
    w: &mut World,
    archive: &str,
    to: &str,
    out: &mut Outcome,
) -> Result<(), String> {
    if !w.borg_ready {
        return Err("no backup repository yet (no `backup` step ran)".into());
    }
    let list = w.borg.list().await.map_err(|e| redact(&e.to_string()))?;
    let name = if archive == "latest" {
        list.last()
            .map(|a| a.name.clone())
            .ok_or("the repository holds no archive")?
    } else {
        list.iter()
            .find(|a| a.name == archive)
            .map(|a| a.name.clone())
            .ok_or_else(|| {
                let names: Vec<&str> = list.iter().map(|a| a.name.as_str()).collect();
                format!("no archive `{archive}` (archives: {})", names.join(", "))
            })?
    };
    let path = w.workdir.path().join(to);
    w.borg
        .extract(&name, &path)
        .await
        .map_err(|e| redact(&e.to_string()))?;
    let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
    let (copies, rows) = dump_stats(&text);
    out.observed.push(format!(
        "$ borg extract --stdout /backup/tf-tutu::{name} database-all.sql > {to}"
    ));
    out.observed.push(format!(
        "{} lines; {copies} table(s) with data, {rows} row(s)",
        text.lines().count()
    ));
    w.produced.insert(to.to_owned());
    w.files.insert(to.to_owned(), name);
    Ok(())
}

pub(super) async fn restore(
    w: &mut World,
    file: &str,
    drop_schema: bool,
    killed_at: Option<&str>,
    out: &mut Outcome,
) -> Result<(), String> {
    if !w.owns_server() {
        return Err("a restore is server-wide: it runs only in a rehearsal's own cluster".into());
    }
    let path = resolve(w, file)?;
    if drop_schema {
        out.observed
            .push("sudo -u postgres psql: DROP SCHEMA cosims CASCADE;".into());
        let tmp = w.workdir.path().join(".drop.sql");
        std::fs::write(&tmp, "DROP SCHEMA cosims CASCADE;\n").map_err(|e| e.to_string())?;
        let mut sub = Outcome::default();
        run_psql(w, &[], Some(&tmp), &mut sub, "psql").await?;
        out.observed.extend(sub.observed.into_iter().skip(1));
    } else {
        out.observed.push("(no DROP SCHEMA first)".into());
    }
    let load = match killed_at {
        None => path.clone(),
        Some(text) => {
            let src = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
            let line = src
                .lines()
                .position(|l| l.contains(text))
                .ok_or_else(|| format!("`{text}` is not in `{file}`"))?;
            let prefix: String = src.lines().take(line).map(|l| format!("{l}\n")).collect();
            let p = w.workdir.path().join(".restore-prefix.sql");
            std::fs::write(&p, prefix).map_err(|e| e.to_string())?;
            out.observed.push(format!(
                "PostgreSQL will be killed when psql reaches line {} (`{}`)",
                line + 1,
                redact(text)
            ));
            p
        }
    };
    let l = load.to_string_lossy().into_owned();
    let mut sub = Outcome::default();
    run_psql(w, &["-q", "-f", &l], None, &mut sub, "psql").await?;
    out.observed
        .push(format!("$ sudo -u postgres psql -f {file}"));
    out.observed.extend(sub.observed.into_iter().skip(1));
    let (harmless, real): (Vec<&String>, Vec<&String>) =
        w.last.errors.iter().partition(|e| {
            e.contains("42710") && e.contains("role ") && e.ends_with("already exists")
        });
    out.observed.push(format!(
        "{} harmless error(s) (roles that already exist), {} other(s)",
        harmless.len(),
        real.len()
    ));
    if real
        .iter()
        .any(|e| e.contains("42P06") && e.contains("\"cosims\""))
    {
        out.observed.push(
            "the schema `cosims` still existed: the dump's objects and rows were not loaded, yet psql exited 0"
                .into(),
        );
    }
    if killed_at.is_some() {
        if let Db::Own(t) = &w.db {
            let t = t.lock().await;
            if let Some(pid) = t
                .server
                .as_ref()
                .and_then(Server::cluster)
                .and_then(|c| c.pid())
            {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        wait_down(w).await;
        let now = w.now;
        w.course.act(now, hrsi_sim::Action::DatabaseUnavailable);
        out.observed.push(
            "PostgreSQL killed (SIGKILL) mid-restore: the simulated services' calls fail until it is restarted"
                .into(),
        );
    } else {
        w.autoanalyze().await;
    }
    w.restored_from = w.files.get(file).cloned();
    Ok(())
}

pub(super) async fn wait_down(w: &World) {
    for _ in 0..200 {
        if !w.database_running().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
