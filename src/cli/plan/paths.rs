//! Output paths of `hrsi plan`, checked before the sweep runs: a bad path found after an hour
//! of simulations would lose them. A file must be creatable (its directory exists, it is not a
//! directory, we may write there); a directory is created and probed; `-` is standard output,
//! which only one output may take.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

/// Where an output goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sink {
    /// Standard output (`-`).
    Stdout,
    /// A file.
    File(PathBuf),
}

impl Sink {
    /// `-` is standard output, anything else a file path.
    pub fn parse(s: &str) -> Sink {
        if s == "-" {
            Sink::Stdout
        } else {
            Sink::File(PathBuf::from(s))
        }
    }
}

/// The outputs one command writes, each with its flag for messages.
#[derive(Default)]
pub struct Outputs {
    files: Vec<(&'static str, PathBuf)>,
    dirs: Vec<(&'static str, PathBuf)>,
    stdout: Vec<&'static str>,
}

impl Outputs {
    /// A file output, or standard output with `-` (when `sink` allows it).
    pub fn sink(&mut self, flag: &'static str, sink: &Option<Sink>) {
        match sink {
            Some(Sink::Stdout) => self.stdout.push(flag),
            Some(Sink::File(p)) => self.files.push((flag, p.clone())),
            None => {}
        }
    }

    /// A file output.
    pub fn file(&mut self, flag: &'static str, path: &Option<PathBuf>) {
        if let Some(p) = path {
            self.files.push((flag, p.clone()));
        }
    }

    /// A directory output.
    pub fn dir(&mut self, flag: &'static str, path: &Option<PathBuf>) {
        if let Some(p) = path {
            self.dirs.push((flag, p.clone()));
        }
    }

    /// Checks every output: nothing has run yet, so nothing is lost by refusing.
    pub fn check(&self) -> Result<(), String> {
        if self.stdout.len() > 1 {
            return Err(format!(
                "{} all write to standard output (`-`) (hint: give one of them a file)",
                self.stdout.join(" and ")
            ));
        }
        let mut seen: Vec<(&str, PathBuf)> = Vec::new();
        for (flag, p) in &self.files {
            let key = normal(p);
            if let Some((other, _)) = seen.iter().find(|(_, k)| *k == key) {
                return Err(format!(
                    "{other} and {flag} both write `{}` (hint: give each its own file)",
                    p.display()
                ));
            }
            seen.push((flag, key));
            check_file(flag, p)?;
        }
        for (flag, p) in &self.dirs {
            check_dir(flag, p)?;
        }
        Ok(())
    }
}

/// The path made absolute lexically (for "the same file twice"; symlinks are not resolved).
fn normal(p: &Path) -> PathBuf {
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(p)
    };
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

/// A file we will write: not a directory, in an existing directory, writable.
pub fn check_file(flag: &str, p: &Path) -> Result<(), String> {
    if p.as_os_str().is_empty() {
        return Err(format!("{flag} is empty (hint: name a file, or `-`)"));
    }
    if p.is_dir() {
        return Err(format!(
            "{flag} `{}` is a directory (hint: name a file in it)",
            p.display()
        ));
    }
    let parent = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        return Err(format!(
            "{flag} `{}`: the directory `{}` does not exist (hint: mkdir -p {})",
            p.display(),
            parent.display(),
            parent.display()
        ));
    }
    let denied = |e: std::io::Error| format!("{flag} `{}` cannot be written: {e}", p.display());
    if p.exists() {
        // Opened for writing without truncating: the old content stays until the plan is done.
        OpenOptions::new().write(true).open(p).map_err(denied)?;
    } else {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(p)
            .map_err(denied)?;
        // Created only to prove it can be; the real content comes at the end.
        std::fs::remove_file(p).map_err(denied)?;
    }
    Ok(())
}

/// A directory we will write into: created if missing, then probed with a file.
pub fn check_dir(flag: &str, d: &Path) -> Result<(), String> {
    if d.exists() && !d.is_dir() {
        return Err(format!(
            "{flag} `{}` is a file, not a directory (hint: name a directory; it is created if \
             missing)",
            d.display()
        ));
    }
    std::fs::create_dir_all(d)
        .map_err(|e| format!("{flag} `{}`: cannot create the directory: {e}", d.display()))?;
    let probe = d.join(format!(".hrsi-write-check-{}", std::process::id()));
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&probe)
        .map_err(|e| format!("{flag} `{}` cannot be written: {e}", d.display()))?;
    std::fs::remove_file(&probe)
        .map_err(|e| format!("{flag} `{}` cannot be written: {e}", d.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_outputs_are_found_before_anything_runs() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let mut o = Outputs::default();
        o.file("--csv", &Some(d.join("missing/runs.csv")));
        assert!(o.check().unwrap_err().contains("does not exist"));
        let mut o = Outputs::default();
        o.file("--csv", &Some(d.to_path_buf()));
        assert!(o.check().unwrap_err().contains("is a directory"));
        let mut o = Outputs::default();
        std::fs::write(d.join("f"), "x").unwrap();
        o.dir("--plots", &Some(d.join("f")));
        assert!(o.check().unwrap_err().contains("is a file"));
        let mut o = Outputs::default();
        o.sink("--json", &Some(Sink::Stdout));
        o.sink("--timeline", &Some(Sink::Stdout));
        assert!(o.check().unwrap_err().contains("standard output"));
        let mut o = Outputs::default();
        o.sink("--json", &Some(Sink::File(d.join("a.json"))));
        o.file("--csv", &Some(d.join("./a.json")));
        assert!(o.check().unwrap_err().contains("both write"));
        // Good outputs pass and leave no file behind; an existing file keeps its content.
        let mut o = Outputs::default();
        o.file("--csv", &Some(d.join("new.csv")));
        o.file("--json", &Some(d.join("f")));
        o.dir("--report", &Some(d.join("r/s")));
        o.check().unwrap();
        assert!(!d.join("new.csv").exists());
        assert_eq!(std::fs::read_to_string(d.join("f")).unwrap(), "x");
        assert!(d.join("r/s").is_dir());
        assert_eq!(std::fs::read_dir(d.join("r/s")).unwrap().count(), 0);
    }
}
