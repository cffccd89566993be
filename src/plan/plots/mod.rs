//! The plots of a plan, as SVG and PNG with an embedded font ([`charts`] builds them from the
//! runs): the backlog per job type over time for the chosen plan, with the outage, the restart
//! and each wave marked and the spread over seeds as a band; recovery against the swept value,
//! every run a dot and the runs that never recovered on a "never" row; units lost to the outage
//! against its length, one chart per type in that type's unit.
//!
//! Text is laid out with DejaVu Sans compiled into the binary (plotters cannot measure text
//! without a registered font, and system fonts would make the output machine-dependent); the
//! SVG files carry the same font as a data URI so they look the same everywhere.

pub mod charts;

use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

pub use charts::{backlog_chart, lost_charts, recovery_chart};

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

/// One line (or a cloud of dots), with an optional band (x, low, high).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// Legend.
    pub name: String,
    /// (x, y), x ascending.
    pub points: Vec<(f64, f64)>,
    /// (x, low, high): a 95 % interval, or the spread over seeds.
    pub band: Vec<(f64, f64, f64)>,
    /// Dots (every run) in the series' colour.
    pub scatter: Vec<(f64, f64)>,
    /// Never on the y axis: the x values of runs that never got there, drawn on a "never" row
    /// above the plot's top.
    pub never: Vec<f64>,
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
    /// What the reader should know (series left out, runs that never recovered).
    pub note: Option<String>,
    /// Shaded x ranges with a label (the outage).
    pub spans: Vec<(f64, f64, String)>,
    /// Vertical lines with a label (the restart, each wave).
    pub marks: Vec<(f64, String)>,
}

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, FONT)
            .unwrap_or_else(|_| panic!("the embedded DejaVu Sans is a valid TTF"));
    });
}

fn bounds(c: &Chart) -> ((f64, f64), (f64, f64)) {
    let xs = c.series.iter().flat_map(|s| {
        s.points
            .iter()
            .chain(&s.scatter)
            .map(|p| p.0)
            .chain(s.never.iter().copied())
    });
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
            .chain(&s.scatter)
            .map(|p| p.1)
            .chain(s.band.iter().map(|b| b.2))
    });
    let y1 = ys.fold(0.0f64, f64::max);
    let y1 = if y1 > 0.0 { y1 * 1.08 } else { 1.0 };
    let lows = c.series.iter().flat_map(|s| {
        s.points
            .iter()
            .map(|p| p.1)
            .chain(s.band.iter().map(|b| b.1))
    });
    let y0 = lows.fold(0.0f64, f64::min);
    let y0 = if y0 < 0.0 { y0 * 1.08 } else { 0.0 };
    // Room for the "never" row above the data.
    let never = c.series.iter().any(|s| !s.never.is_empty());
    ((x0, x1), (y0, if never { y1 * 1.12 } else { y1 }))
}

/// The y of the "never" row (just under the top).
fn never_row(y1: f64) -> f64 {
    y1 / 1.12 * 1.06
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
    for (a, b, label) in &c.spans {
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(*a, y0), (*b, y1)],
                RGBColor(120, 120, 120).mix(0.15).filled(),
            )))
            .map_err(e)?;
        chart
            .draw_series(std::iter::once(Text::new(
                label.clone(),
                (*a, y1),
                ("sans-serif", 12).into_font().color(&BLACK.mix(0.7)),
            )))
            .map_err(e)?;
    }
    for (k, (x, label)) in c.marks.iter().enumerate() {
        chart
            .draw_series(DashedLineSeries::new(
                [(*x, y0), (*x, y1)],
                6,
                4,
                BLACK.mix(0.55).stroke_width(1),
            ))
            .map_err(e)?;
        // Labels step down so neighbouring marks stay readable.
        let y = y1 - (y1 - y0) * (0.05 + 0.045 * (k % 4) as f64);
        chart
            .draw_series(std::iter::once(Text::new(
                label.clone(),
                (*x, y),
                ("sans-serif", 12).into_font().color(&BLACK.mix(0.8)),
            )))
            .map_err(e)?;
    }
    if c.series.iter().any(|s| !s.never.is_empty()) {
        let y = never_row(y1);
        chart
            .draw_series(DashedLineSeries::new(
                [(x0, y), (x1, y)],
                3,
                3,
                RGBColor(214, 39, 40).mix(0.4).stroke_width(1),
            ))
            .map_err(e)?;
        chart
            .draw_series(std::iter::once(Text::new(
                "never",
                (x0 + (x1 - x0) * 0.01, y - (y1 - y0) * 0.005),
                ("sans-serif", 12).into_font().color(&RGBColor(214, 39, 40)),
            )))
            .map_err(e)?;
    }
    for (i, s) in c.series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        if !s.never.is_empty() {
            let y = never_row(y1);
            chart
                .draw_series(
                    s.never
                        .iter()
                        .map(|&x| Cross::new((x, y), 5, color.stroke_width(2))),
                )
                .map_err(e)?;
        }
        if !s.scatter.is_empty() {
            let dots = chart
                .draw_series(
                    s.scatter
                        .iter()
                        .map(|&p| Circle::new(p, 2, color.mix(0.55).filled())),
                )
                .map_err(e)?;
            if s.points.is_empty() {
                dots.label(s.name.as_str())
                    .legend(move |(x, y)| Circle::new((x + 9, y), 3, color.filled()));
                continue;
            }
        }
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
                never: vec![1.5],
                ..Series::default()
            }],
            note: None,
            spans: vec![(1.2, 1.4, "outage".into())],
            marks: vec![(1.4, "restart".into())],
        };
        let s = svg(&c).unwrap();
        assert!(
            s.contains("Test chart") && s.contains(FONT_FAMILY),
            "{}",
            &s[..300.min(s.len())]
        );
        let texts: Vec<&str> = s
            .split("</text>")
            .filter_map(|t| t.rsplit('>').next())
            .map(str::trim)
            .collect();
        for label in ["outage", "restart", "never"] {
            assert!(texts.contains(&label), "{label} drawn: {texts:?}");
        }
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
