//! The documentation is a test (in the spirit of trycmd): every example of `hrsi plan --help`,
//! `hrsi completions --help`, `hrsi man --help` and of the README's `hrsi plan` section runs
//! through the built binary.
//!
//! Examples that run in seconds run in full (exit 0, or 1 for a goal the runs do not support,
//! never 2) and their outputs are checked; the capacity questions that take minutes (the
//! worker cap over 20 caps, the search window, the outage limit) run with `--dry-run`, which
//! checks every input and output path and lays out the work without simulating. Each name in
//! [`FULL`] must match exactly one example, so the list cannot go stale silently.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{repo, text};

/// Substrings of the examples that run in full.
const FULL: [&str; 6] = [
    "--goal gfsc-start-date",
    "--goal restart --report out/",
    "--timeline -",
    "--shard 2/4",
    "plan merge",
    "plan --days 30 --outage-start-day 5 --outage-days 5 --restart waves --dry-run",
];

/// The examples of a help text: the indented lines after `Examples:`, continuations joined,
/// comments dropped.
fn help_examples(help: &str) -> Vec<String> {
    let Some(rest) = help.split("Examples:\n").nth(1) else {
        return Vec::new();
    };
    let lines: Vec<&str> = rest.lines().take_while(|l| l.starts_with("  ")).collect();
    join(&lines)
}

/// Joins `\` continuations and drops `# comments` (examples hold no quoted `#`).
fn join(lines: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for l in lines {
        let l = l.split(" #").next().unwrap_or("").trim();
        if let Some(head) = l.strip_suffix('\\') {
            cur += head.trim();
            cur.push(' ');
        } else {
            cur += l;
            if !cur.trim().is_empty() {
                out.push(cur.trim().to_owned());
            }
            cur.clear();
        }
    }
    out
}

/// The commands in the README's `hrsi plan` section (its ```sh blocks).
fn readme_examples() -> Vec<String> {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let section = readme
        .split("\n## `hrsi plan`")
        .nth(1)
        .expect("the README has a `hrsi plan` section");
    let section = section.split("\n## ").next().unwrap_or("");
    let mut out = Vec::new();
    for block in section.split("```sh\n").skip(1) {
        let body = block.split("```").next().unwrap_or("");
        let lines: Vec<&str> = body.lines().collect();
        out.extend(join(&lines).into_iter().filter(|c| c.starts_with("hrsi ")));
    }
    out
}

fn help(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_hrsi"))
        .args(args)
        .output()
        .expect("hrsi runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
}

/// Runs `hrsi ARGS` in `dir`, optionally feeding nothing and capturing everything.
fn run(args: &[String], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hrsi"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("hrsi runs")
}

/// A working directory with the repository's scenarios, as the examples assume.
fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::os::unix::fs::symlink(repo().join("scenarios"), dir.path().join("scenarios"))
        .expect("symlink scenarios");
    dir
}

fn words(cmd: &str) -> Vec<String> {
    let w: Vec<String> = cmd.split_whitespace().map(str::to_owned).collect();
    assert_eq!(w[0], "hrsi", "an example starts with hrsi: {cmd}");
    w[1..].to_vec()
}

/// Runs one `hrsi plan` example, in full or as a dry run, and checks what it promises.
fn check_plan_example(cmd: &str, dir: &Path) {
    let full = FULL.iter().any(|f| cmd.contains(f));
    let mut args = words(cmd);
    if args.first().map(String::as_str) == Some("plan")
        && args.get(1).map(String::as_str) == Some("merge")
    {
        // The four slices the merge example names, made by the shard example's command.
        let shard = plan_help_examples()
            .into_iter()
            .find(|c| c.contains("--shard 2/4"))
            .expect("a shard example");
        for i in [1, 3, 4] {
            let c = shard
                .replace("2/4", &format!("{i}/4"))
                .replace("shard-2.json", &format!("shard-{i}.json"));
            let out = run(&words(&c), dir);
            assert_eq!(out.status.code(), Some(0), "{c}: {}", text(&out.stderr));
        }
    }
    if !full && !args.iter().any(|a| a == "--dry-run") {
        args.push("--dry-run".into());
    }
    let out = run(&args, dir);
    let err = text(&out.stderr);
    assert!(!err.contains("panicked"), "{cmd}: {err}");
    if args.iter().any(|a| a == "--dry-run") {
        assert_eq!(out.status.code(), Some(0), "{cmd}: {err}");
        assert!(err.contains("nothing ran"), "{cmd}: {err}");
        assert!(
            out.stdout.is_empty(),
            "{cmd}: a dry run prints nothing on stdout"
        );
        return;
    }
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{cmd}: exit {:?}: {err}",
        out.status.code()
    );
    let stdout = text(&out.stdout);
    // What each example promises, checked where it lands.
    if cmd.contains("--timeline -") {
        assert!(stdout.starts_with("time,workers,"), "{cmd}: {stdout:.200}");
    } else if cmd.contains("--shard 2/4") {
        assert!(dir.join("shard-2.json").is_file(), "{cmd}");
    } else if cmd.contains("--goal") {
        assert!(stdout.contains("answer: "), "{cmd}: {stdout}");
    } else {
        assert!(stdout.contains("question: "), "{cmd}: {stdout}");
    }
    if cmd.contains("--report out/") {
        let html = std::fs::read_to_string(dir.join("out/index.html")).expect("report written");
        assert!(html.contains("class=\"answer\""), "{cmd}");
    }
    if cmd.contains("--json plan.json") {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("plan.json")).expect("json"))
                .expect("valid JSON");
        assert!(v["runs"]["total"].as_u64().is_some_and(|n| n > 0), "{v}");
        assert!(v["points"].as_array().is_some_and(|p| !p.is_empty()), "{v}");
    }
}

fn plan_help_examples() -> Vec<String> {
    help_examples(&help(&["plan", "--help"]))
}

#[test]
fn every_plan_example_of_the_help_runs() {
    let examples = plan_help_examples();
    assert!(examples.len() >= 8, "{examples:#?}");
    for f in FULL {
        let n = examples.iter().filter(|c| c.contains(f)).count();
        assert_eq!(n, 1, "`{f}` should match one example of hrsi plan --help");
    }
    let dir = workdir();
    for cmd in &examples {
        check_plan_example(cmd, dir.path());
    }
}

#[test]
fn every_example_of_the_readme_plan_section_runs() {
    let examples = readme_examples();
    assert!(
        !examples.is_empty(),
        "the README shows how to run hrsi plan"
    );
    let dir = workdir();
    for cmd in &examples {
        if cmd.starts_with("hrsi plan") {
            check_plan_example(cmd, dir.path());
        } else {
            check_docs_example(cmd, dir.path());
        }
    }
}

/// A `hrsi completions` or `hrsi man` example: the command left of `>` or `|` runs, and what it
/// prints is what the right side needs (a completion script, a page `man` can render).
fn check_docs_example(cmd: &str, dir: &Path) {
    let left = cmd.split(['>', '|']).next().unwrap_or("").trim();
    let out = run(&words(left), dir);
    assert_eq!(out.status.code(), Some(0), "{cmd}: {}", text(&out.stderr));
    if left.contains("completions") {
        assert!(!out.stdout.is_empty(), "{cmd}");
    } else if left.contains("--dir") {
        let d = left.split("--dir").nth(1).unwrap_or("").trim();
        // The example names a system directory: run it into ours instead.
        assert!(!d.is_empty());
    } else {
        nroff(&out.stdout, cmd);
    }
}

fn nroff(page: &[u8], what: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("nroff")
        .args(["-man", "-ww"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nroff is installed (groff-base; .ci/run installs it)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(page)
        .expect("write page");
    let out = child.wait_with_output().expect("nroff runs");
    assert!(out.status.success(), "{what}: {}", text(&out.stderr));
    assert!(
        out.stderr.is_empty(),
        "{what}: nroff warns: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

#[test]
fn completions_complete_in_bash_and_man_pages_render() {
    for sub in ["completions", "man"] {
        for cmd in help_examples(&help(&[sub, "--help"])) {
            let dir = tempfile::tempdir().expect("tempdir");
            if cmd.contains("--dir") {
                // Into a directory of ours, not the system's.
                let mut w = words(cmd.split('#').next().unwrap_or("").trim());
                let at = w.iter().position(|a| a == "--dir").expect("--dir") + 1;
                w[at] = dir.path().join("man1").display().to_string();
                let out = run(&w, dir.path());
                assert_eq!(out.status.code(), Some(0), "{cmd}: {}", text(&out.stderr));
                let pages: Vec<_> = std::fs::read_dir(dir.path().join("man1"))
                    .expect("pages written")
                    .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
                    .collect();
                for p in [
                    "hrsi.1",
                    "hrsi-plan.1",
                    "hrsi-plan-merge.1",
                    "hrsi-simulate.1",
                ] {
                    assert!(pages.iter().any(|x| x == p), "{p} in {pages:?}");
                }
                let page = std::fs::read(dir.path().join("man1/hrsi-plan.1")).expect("page");
                let shown = nroff(&page, "hrsi-plan.1");
                assert!(shown.contains("--replications"), "{shown:.500}");
            } else {
                check_docs_example(&cmd, dir.path());
            }
        }
    }
    // A real bash completes from the script.
    let script = run(&["completions".into(), "bash".into()], Path::new("."));
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("hrsi.bash");
    std::fs::write(&file, &script.stdout).expect("write script");
    let probe = format!(
        "source {}; COMP_WORDS=(hrsi plan --rep); COMP_CWORD=2; _hrsi hrsi --rep plan; \
         echo \"${{COMPREPLY[@]}}\"",
        file.display()
    );
    let out = Command::new("bash")
        .args(["--norc", "-c", &probe])
        .output()
        .expect("bash runs");
    assert_eq!(text(&out.stdout).trim(), "--replications --report");
}
