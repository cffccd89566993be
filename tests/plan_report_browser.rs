//! The `--report` page in a real headless browser (Debian's Chromium): it loads, shows every
//! plot at a readable size with the embedded font, and logs no console error. `.ci/run`
//! installs chromium; without it this test fails (a skipped check would pass silently).

use std::path::{Path, PathBuf};
use std::process::Command;

/// A page that loads the report in a frame and writes what it sees into `#result` (read back
/// with `--dump-dom`). It logs nothing itself, so any console line comes from the report.
const CHECK: &str = r#"<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>
<pre id="result">pending</pre>
<iframe id="f" src="index.html" style="width:1200px;height:900px"></iframe>
<script>
document.getElementById('f').addEventListener('load', async () => {
  const d = document.getElementById('f').contentDocument;
  await d.fonts.ready;
  const svgs = [...d.querySelectorAll('figure svg')];
  const shown = svgs.filter(s => { const r = s.getBoundingClientRect(); return r.width > 300 && r.height > 150; });
  const texts = d.querySelectorAll('figure svg text').length;
  const font = d.fonts.check('14px "DejaVu Sans Embedded"');
  const ids = [...d.querySelectorAll('figure')].map(f => f.id).join(',');
  const backlog = [...d.querySelectorAll('#backlog svg text')].map(t => t.textContent);
  const marks = ['outage', 'restart', 'wave 2'].filter(m => backlog.some(t => t.trim().startsWith(m))).length;
  const dots = d.querySelectorAll('#recovery_vs_value svg circle').length;
  document.getElementById('result').textContent =
    `figures=${svgs.length} shown=${shown.length} texts=${texts} font=${font} answers=${d.querySelectorAll('.answer').length} ids=${ids} marks=${marks} dots=${dots}`;
});
</script></body></html>
"#;

fn chromium() -> PathBuf {
    let name = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let found = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(&name))
            .find(|c| c.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "`{name}` is not installed: this test needs a real browser \
             (apt-get install -y chromium; .ci/run does it)"
        )
    })
}

#[test]
fn report_loads_in_chromium_with_its_plots_and_no_console_error() {
    let browser = chromium();
    let dir = tempfile::tempdir().expect("tempdir");
    let report = dir.path().join("report");
    let out = Command::new(env!("CARGO_BIN_EXE_hrsi"))
        .args([
            "plan",
            "--days",
            "6",
            "--outage-start-day",
            "2",
            "--replications",
            "2",
            "--restart",
            "waves",
            "--sweep",
            "param.max_number_of_worker_instances=60,210",
            "--sweep",
            "scenario.outage_days=1,2",
            "--goal",
            "worker-cap",
            "--within",
            "72",
            "--report",
        ])
        .arg(&report)
        .output()
        .expect("hrsi runs");
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(report.join("check.html"), CHECK).expect("write check page");
    let profile = dir.path().join("profile");
    let run = Command::new("timeout")
        .arg("120")
        .arg(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--allow-file-access-from-files",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=10000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url(&report.join("check.html")))
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&run.stdout);
    let log = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "chromium failed: {log}");
    let result = dom
        .split("<pre id=\"result\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap_or("no result");
    let field = |k: &str| {
        result
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("no {k} in {result:?}"))
            .to_owned()
    };
    // Backlog, recovery against the cap, lost against the outage length (one per type that
    // lost anything, each in its unit): every one drawn at a readable size.
    let ids = field("ids");
    let ids: Vec<&str> = ids.split(',').collect();
    assert_eq!(ids[..2], ["backlog", "recovery_vs_value"], "{result}");
    assert!(
        ids[2..].iter().all(|i| i.starts_with("lost_vs_outage_")) && ids.len() > 2,
        "{result}"
    );
    assert!(ids.contains(&"lost_vs_outage_gfsc_job"), "{result}");
    assert_eq!(field("figures"), ids.len().to_string(), "{result}");
    assert_eq!(field("shown"), ids.len().to_string(), "{result}");
    // The backlog marks the outage, the restart and the second wave; recovery shows every run
    // (2 seeds × 4 points at least, as dots or never-crosses, plus the median markers).
    assert_eq!(field("marks"), "3", "{result}");
    assert!(
        field("dots").parse::<u32>().is_ok_and(|n| n >= 4),
        "{result}"
    );
    assert!(
        field("texts").parse::<u32>().is_ok_and(|n| n > 20),
        "{result}"
    );
    assert_eq!(field("font"), "true", "embedded font not usable: {result}");
    assert!(
        field("answers").parse::<u32>().is_ok_and(|n| n >= 1),
        "{result}"
    );
    let console: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Failed to load resource"))
        .collect();
    assert!(console.is_empty(), "console messages: {console:#?}");
}

fn url(p: &Path) -> String {
    format!("file://{}", p.display())
}
