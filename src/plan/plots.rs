//! The plots of a plan, as SVG and PNG with an embedded font: backlog per job type over time
//! for the chosen plan; catch-up time against the worker cap with 95 % bands; products lost
//! against the outage length per value of the other axes (the search window, typically).
//!
//! Text is laid out with DejaVu Sans compiled into the binary (plotters cannot measure text
//! without a registered font, and system fonts would make the output machine-dependent); the
//! SVG files carry the same font as a data URI so they look the same everywhere.

use std::sync::Once;

use hrsi_sim::config::Config;
use hrsi_sim::engine::Outcome;
use hrsi_sim::job_type::ALL_TYPES;
use hrsi_sim::time::DAY;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::analyze::Analysis;
use super::sweep::Plan;

/// DejaVu Sans 2.37 (Bitstream Vera derivative, free licence that allows embedding and
/// redistribution: see `assets/DejaVuSans-LICENSE.txt`).
pub const FONT: &[u8] = include_bytes!("assets/DejaVuSans.ttf");
/// The family name the plots' text uses.
pub const FONT_FAMILY: &str = "DejaVu Sans Embedded";
const SIZE: (u32, u32) = (900, 520);
const COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];
/// Most series in one plot (more would be unreadable; the rest are named in the caption).
pub const MAX_SERIES: usize = 8;

/// One line, with an optional band (x, low, high).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend.
    pub name: String,
    /// (x, y), x ascending.
    pub points: Vec<(f64, f64)>,
    /// (x, low, high) of the 95 % interval.
    pub band: Vec<(f64, f64, f64)>,
}

/// A line chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// File name without extension.
    pub stem: String,
    /// Caption.
    pub title: String,
    /// X axis label.
    pub x_label: String,
    /// Y axis label.
    pub y_label: String,
    /// Lines.
    pub series: Vec<Series>,
    /// What the reader should know (series left out, runs that never caught up).
    pub note: Option<String>,
}

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, FONT)
            .unwrap_or_else(|_| panic!("the embedded DejaVu Sans is a valid TTF"));
    });
}

fn bounds(c: &Chart) -> ((f64, f64), (f64, f64)) {
    let xs = c.series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let (mut x0, mut x1) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    });
    if !x0.is_finite() {
        (x0, x1) = (0.0, 1.0);
    }
    if x1 <= x0 {
        (x0, x1) = (x0 - 1.0, x1 + 1.0);
    }
    let ys = c.series.iter().flat_map(|s| {
        s.points
            .iter()
            .map(|p| p.1)
            .chain(s.band.iter().map(|b| b.2))
    });
    let y1 = ys.fold(0.0f64, f64::max);
    ((x0, x1), (0.0, if y1 > 0.0 { y1 * 1.08 } else { 1.0 }))
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, c: &Chart) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(e)?;
    let ((x0, x1), (y0, y1)) = bounds(c);
    let mut chart = ChartBuilder::on(root)
        .caption(&c.title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(42)
        .y_label_area_size(64)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc(c.x_label.as_str())
        .y_desc(c.y_label.as_str())
        .label_style(("sans-serif", 13))
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .axis_desc_style(("sans-serif", 14))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(e)?;
    for (i, s) in c.series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        if s.band.len() > 1 {
            let mut poly: Vec<(f64, f64)> = s.band.iter().map(|b| (b.0, b.2)).collect();
            poly.extend(s.band.iter().rev().map(|b| (b.0, b.1)));
            chart
                .draw_series(std::iter::once(Polygon::new(
                    poly,
                    color.mix(0.18).filled(),
                )))
                .map_err(e)?;
        }
        // Thin lines for dense series: plotters' bitmap rasteriser draws thick near-vertical
        // segments past their ends (spikes below the axis on a backlog that drops at once).
        let width = if s.points.len() > 200 { 1 } else { 2 };
        let line = chart
            .draw_series(LineSeries::new(
                s.points.iter().copied(),
                color.stroke_width(width),
            ))
            .map_err(e)?;
        line.label(s.name.as_str()).legend(move |(x, y)| {
            PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
        });
        if s.points.len() < 60 {
            chart
                .draw_series(s.points.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .map_err(e)?;
        }
    }
    if !c.series.is_empty() {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font(("sans-serif", 13))
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(e)?;
    }
    root.present().map_err(e)
}

/// An axis tick: whole numbers without decimals, others with as few as they need.
fn tick(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// The chart as SVG text using [`FONT_FAMILY`] (the font itself not included: see
/// [`embed_font`]).
pub fn svg(c: &Chart) -> Result<String, String> {
    register_font();
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, SIZE).into_drawing_area();
        draw(&root, c)?;
    }
    Ok(s.replace(
        "font-family=\"sans-serif\"",
        &format!("font-family=\"{FONT_FAMILY}, DejaVu Sans, sans-serif\""),
    ))
}

/// The `@font-face` rule that makes [`FONT_FAMILY`] the embedded font (CSS).
pub fn font_face_css() -> String {
    format!(
        "@font-face{{font-family:\"{FONT_FAMILY}\";src:url(data:font/ttf;base64,{})}}",
        base64(FONT)
    )
}

/// A standalone SVG: the font goes inside, so it renders the same without DejaVu installed.
pub fn embed_font(svg: &str) -> String {
    let style = format!("<defs><style>{}</style></defs>", font_face_css());
    match svg
        .find("<svg")
        .and_then(|i| svg[i..].find('>').map(|j| i + j + 1))
    {
        Some(at) => format!("{}{style}{}", &svg[..at], &svg[at..]),
        None => svg.to_owned(),
    }
}

/// Writes the chart as a PNG file (text rasterised from the embedded font).
pub fn png_file(c: &Chart, path: &std::path::Path) -> Result<(), String> {
    register_font();
    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    draw(&root, c).map_err(|e| format!("failed to write `{}`: {e}", path.display()))
}

/// Standard base64 (the report inlines fonts and images; no crate needed for 20 lines).
pub fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for ch in data.chunks(3) {
        let b = [ch[0], *ch.get(1).unwrap_or(&0), *ch.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= ch.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Backlog per job type over time for one run (the chosen plan, first seed).
pub fn backlog_chart(cfg: &Config, out: &Outcome, label: &str) -> Chart {
    let series = ALL_TYPES
        .iter()
        .map(|t| Series {
            name: t.name().to_owned(),
            points: out
                .timeline
                .iter()
                .map(|s| (s.at as f64 / DAY as f64, s.backlog[t.idx()] as f64))
                .collect(),
            band: Vec::new(),
        })
        .collect();
    Chart {
        stem: "backlog".into(),
        title: format!("Backlog per job type — {label}, seed {}", cfg.seed),
        x_label: "days since start".into(),
        y_label: "jobs not yet published".into(),
        series,
        note: None,
    }
}

/// (mean, low, high) of a point's quantity.
type Band = (f64, f64, f64);

/// Series of one y quantity against a numeric axis, one per combination of the other axes.
fn against(
    plan: &Plan,
    a: &Analysis,
    axis: usize,
    y: &dyn Fn(&super::analyze::PointSummary) -> Option<Band>,
) -> (Vec<Series>, usize) {
    let mut series: Vec<Series> = Vec::new();
    for p in &plan.points {
        let Some(x) = plan.axes[axis].number(p.values[axis]) else {
            continue;
        };
        let name: Vec<String> = plan
            .labels(p)
            .into_iter()
            .enumerate()
            .filter(|(i, _)| *i != axis)
            .map(|(_, (k, v))| format!("{}={v}", k.rsplit('.').next().unwrap_or(&k)))
            .collect();
        let name = if name.is_empty() {
            "mean".to_owned()
        } else {
            name.join(", ")
        };
        let idx = match series.iter().position(|s| s.name == name) {
            Some(i) => i,
            None => {
                series.push(Series {
                    name,
                    points: Vec::new(),
                    band: Vec::new(),
                });
                series.len() - 1
            }
        };
        if let Some((m, lo, hi)) = y(&a.points[p.index]) {
            series[idx].points.push((x, m));
            series[idx].band.push((x, lo, hi));
        }
    }
    for s in &mut series {
        let mut pts: Vec<((f64, f64), Band)> = s
            .points
            .iter()
            .copied()
            .zip(s.band.iter().copied())
            .collect();
        pts.sort_by(|a, b| a.0.0.total_cmp(&b.0.0));
        (s.points, s.band) = pts.into_iter().unzip();
    }
    let total = series.len();
    series.retain(|s| !s.points.is_empty());
    series.truncate(MAX_SERIES);
    (series, total)
}

fn left_out(shown: usize, total: usize) -> Option<String> {
    (total > shown).then(|| format!("{} of {total} series shown", shown))
}

/// Catch-up time against the worker cap, with 95 % bands (when the cap is swept).
pub fn catch_up_chart(plan: &Plan, a: &Analysis) -> Option<Chart> {
    let cap = plan.axis("param.max_number_of_worker_instances")?;
    let (series, total) = against(plan, a, cap, &|p| {
        p.recovery_hours.as_ref().map(|m| (m.mean, m.lo, m.hi))
    });
    let mut series = series;
    if let Some(w) = a.within_hours {
        let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
        let (x0, x1) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        });
        if x0.is_finite() && series.len() < MAX_SERIES {
            series.push(Series {
                name: format!("deadline {w} h"),
                points: vec![(x0, w), (x1, w)],
                band: Vec::new(),
            });
        }
    }
    let never: usize = a.points.iter().map(|p| p.never_recovered).sum();
    let mut note = left_out(series.len(), total);
    if never > 0 {
        let n = format!("{never} run(s) never caught up: not in the means");
        note = Some(note.map_or(n.clone(), |x| format!("{x}; {n}")));
    }
    Some(Chart {
        stem: "catch_up_vs_workers".into(),
        title: "Catch-up time against the worker cap (mean, 95 % CI)".into(),
        x_label: "max_number_of_worker_instances".into(),
        y_label: "hours from restart to caught up".into(),
        series,
        note,
    })
}

/// Products lost against the outage length, one line per value of the other axes.
pub fn lost_chart(plan: &Plan, a: &Analysis) -> Option<Chart> {
    let o = plan.axis("scenario.outage_days")?;
    let (series, total) = against(plan, a, o, &|p| {
        p.lost.as_ref().map(|m| (m.mean, m.lo, m.hi))
    });
    let note = left_out(series.len(), total);
    Some(Chart {
        stem: "lost_vs_outage".into(),
        title: "Products lost against the outage length (mean, 95 % CI)".into(),
        x_label: "outage length, days".into(),
        y_label: "units lost (all types)".into(),
        series,
        note,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn a_chart_renders_to_svg_with_text_and_to_a_png() {
        let c = Chart {
            stem: "t".into(),
            title: "Test chart".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            series: vec![Series {
                name: "line".into(),
                points: vec![(1.0, 2.0), (2.0, 3.0)],
                band: vec![(1.0, 1.5, 2.5), (2.0, 2.5, 3.5)],
            }],
            note: None,
        };
        let s = svg(&c).unwrap();
        assert!(
            s.contains("Test chart") && s.contains(FONT_FAMILY),
            "{}",
            &s[..300.min(s.len())]
        );
        let e = embed_font(&s);
        assert!(e.contains("@font-face") && e.len() > FONT.len());
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.png"), dir.path().join("b.png"));
        png_file(&c, &a).unwrap();
        png_file(&c, &b).unwrap();
        let p = std::fs::read(&a).unwrap();
        assert_eq!(&p[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(p, std::fs::read(&b).unwrap(), "PNG bytes are deterministic");
    }
}
