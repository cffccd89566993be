//! `--report DIR`: one self-contained HTML page (no script, no external file: styles, font and
//! plots inline) with the question, the answer, the plots, the calibration and assumptions, and
//! the command that reproduces it.

use super::analyze::Analysis;
use super::plots::{self, Chart};
use super::stats::{Mean, pct};

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn m(x: &Option<Mean>) -> String {
    match x {
        Some(m) if m.n > 1 => format!("{} <small>[{}–{}]</small>", m.mean, m.lo, m.hi),
        Some(m) => m.mean.to_string(),
        None => "–".into(),
    }
}

const CSS: &str = "body{font-family:\"DejaVu Sans Embedded\",\"DejaVu Sans\",sans-serif;\
margin:2em auto;max-width:1100px;color:#222;line-height:1.4;padding:0 1em}\
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}\
.answer{background:#eef6ee;border-left:4px solid #2c8c2c;padding:.6em 1em;margin:.5em 0}\
table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ccc;padding:.2em .5em;\
text-align:right}th{background:#f3f3f3}td.k,th.k{text-align:left}\
pre{background:#f6f6f6;padding:.6em;white-space:pre-wrap;word-break:break-all}\
figure{margin:1em 0}figcaption{font-size:.85em;color:#555}svg{max-width:100%;height:auto}";

/// The page. `charts` are rendered here (SVG inline, the font once for the page).
pub fn html(a: &Analysis, charts: &[Chart]) -> Result<String, String> {
    let mut h = String::new();
    h += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
    h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
    h += "<title>hrsi plan — ";
    h += &esc(&a.question);
    h += "</title>\n<style>";
    h += &plots::font_face_css();
    h += CSS;
    h += "</style>\n</head>\n<body>\n";
    h += &format!("<h1>{}</h1>\n", esc(&a.question));
    h += "<h2>Answer</h2>\n";
    match &a.goal {
        Some(g) => {
            for ans in &g.answers {
                let group = if ans.group.is_empty() {
                    String::new()
                } else {
                    let kv: Vec<String> =
                        ans.group.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    format!("<b>{}</b>: ", esc(&kv.join(", ")))
                };
                h += &format!("<p class=\"answer\">{group}{}</p>\n", esc(&ans.text));
            }
        }
        None => {
            h += "<p class=\"answer\">No goal was asked: the table below has every point.</p>\n"
        }
    }
    h += &format!(
        "<p>A claim \"with {conf} confidence\" is made only when the one-sided Clopper-Pearson \
         lower bound of q, the probability that one run meets the goal, is at least {p} \
         (design/simulation.md, \"Confidence\"): {fewest} runs without a failure are the fewest \
         that can show it. Otherwise the answer says what the runs support and how many more \
         would settle it. Recovery is the time from the system restart until every job type is \
         back to its nominal overdue level (waves included); a run that never recovers is \
         \"never\" (+infinity in medians and quantiles) and does not meet a deadline. The \
         nominal level comes from the baseline with the same parameters, so a cap too small to \
         keep up even without an outage can show a short recovery: the worker-cap answer \
         therefore requires every larger swept cap to meet the deadline too. Every point runs \
         the same seeds (common random numbers): {spent}.</p>\n",
        conf = pct(a.level.confidence),
        p = pct(a.level.probability),
        fewest = a.runs.fixed_per_point,
        spent = esc(&super::output::runs_spent(a)),
    );
    h += "<h2>Plots</h2>\n";
    if charts.is_empty() {
        h += "<p>No plot applies to this sweep.</p>\n";
    }
    for c in charts {
        h += &format!(
            "<figure id=\"{}\">\n{}\n<figcaption>{}{}</figcaption>\n</figure>\n",
            esc(&c.stem),
            plots::svg(c)?,
            esc(&c.title),
            c.note
                .as_ref()
                .map(|n| format!(" — {}", esc(n)))
                .unwrap_or_default()
        );
    }
    h += "<h2>Every point</h2>\n<table>\n<tr>";
    for x in &a.axes {
        h += &format!("<th class=\"k\">{}</th>", esc(&x.key));
    }
    h += "<th>runs</th><th>recovery h median [p10–p90]</th><th>never recovered</th>";
    if let Some(w) = a.within_hours {
        h += &format!("<th>≤ {w} h (q ≥, {} conf.)</th>", pct(a.level.confidence));
    }
    h += "<th>lost to the outage per type (beyond the baseline)</th><th>peak workers</th><th>worker-hours</th><th>redispatches</th></tr>\n";
    for p in &a.points {
        h += "<tr>";
        for x in &a.axes {
            h += &format!(
                "<td class=\"k\">{}</td>",
                esc(p.values.get(&x.key).map_or("", String::as_str))
            );
        }
        h += &format!(
            "<td>{}</td><td>{}</td><td>{}</td>",
            p.runs,
            p.recovery.as_ref().map_or("–".to_owned(), |r| format!(
                "{} [{}–{}]",
                r.median, r.p10, r.p90
            )),
            p.never_recovered
        );
        if a.within_hours.is_some() {
            h += &match &p.within {
                Some(w) => format!(
                    "<td>{}/{} ({}){}</td>",
                    w.k,
                    w.n,
                    pct(w.lower),
                    if w.confident { " ✓" } else { "" }
                ),
                None => "<td>–</td>".into(),
            };
        }
        h += &format!(
            "<td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            esc(&super::output::outage_lost(p)).replace('\n', "<br>"),
            m(&p.peak_workers),
            m(&p.worker_hours),
            m(&p.redispatches)
        );
    }
    h += "</table>\n";
    h += "<h2>World, calibration and assumptions</h2>\n";
    h += &format!(
        "<p>Base: {} — {} days from {}; outage: {}.</p>\n",
        esc(&a.base.scenario),
        a.base.days,
        esc(&a.base.start),
        esc(&a.base.outage)
    );
    if !a.base.system_parameters.is_empty() {
        h += "<p>System parameters changed at the start: ";
        let kv: Vec<String> = a
            .base
            .system_parameters
            .iter()
            .map(|(k, v)| format!("<code>{}={}</code>", esc(k), esc(v)))
            .collect();
        h += &kv.join(", ");
        h += "</p>\n";
    }
    h += "<table>\n<tr><th class=\"k\">calibration</th><th>value</th></tr>\n";
    let cal = serde_json::to_value(&a.calibration).map_err(|e| e.to_string())?;
    if let Some(obj) = cal.as_object() {
        for (k, v) in obj {
            h += &format!("<tr><td class=\"k\">{}</td><td>{}</td></tr>\n", esc(k), v);
        }
    }
    h += "</table>\n";
    h += &format!("<p>{}</p>\n", esc(a.assumptions));
    h += "<h2>Reproduce</h2>\n";
    h += &format!("<pre>{}</pre>\n", esc(&a.command));
    h += "</body>\n</html>\n";
    Ok(h)
}
