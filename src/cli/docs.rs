//! `hrsi completions <shell>` and `hrsi man`: shell completions and manual pages generated from
//! the same clap definitions as the commands, so they cannot drift from `--help`.
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::CommandFactory;

use super::{Cli, exit};

/// Arguments of `hrsi completions`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  hrsi completions bash > /etc/bash_completion.d/hrsi
  hrsi completions zsh > \"${fpath[1]}/_hrsi\"
  hrsi completions fish > ~/.config/fish/completions/hrsi.fish")]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

/// Arguments of `hrsi man`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  hrsi man | man -l -
  hrsi man --dir /usr/local/share/man/man1     # hrsi.1, hrsi-plan.1, hrsi-plan-merge.1, ...")]
pub struct ManArgs {
    /// Write one page per command (hrsi.1, hrsi-plan.1, ...) into DIR instead of printing
    /// the page of `hrsi` to standard output.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// Prints the completion script.
pub fn completions(a: CompletionsArgs) -> anyhow::Result<ExitCode> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "hrsi", &mut out);
    emit(&out)?;
    Ok(ExitCode::from(exit::OK))
}

/// Every page: `hrsi` and each subcommand, recursively, named as man expects (`hrsi-plan-merge`).
fn pages() -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    fn walk(
        cmd: &clap::Command,
        name: String,
        out: &mut Vec<(String, Vec<u8>)>,
    ) -> anyhow::Result<()> {
        let cmd = cmd
            .clone()
            .name(name.clone())
            .bin_name(name.replace('-', " "));
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd.clone()).render(&mut page)?;
        out.push((name.clone(), page));
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            walk(sub, format!("{name}-{}", sub.get_name()), out)?;
        }
        Ok(())
    }
    let mut cmd = Cli::command();
    cmd.build();
    let mut out = Vec::new();
    walk(&cmd, "hrsi".to_owned(), &mut out)?;
    Ok(out)
}

/// Prints the manual page, or writes every page into a directory.
pub fn man(a: ManArgs) -> anyhow::Result<ExitCode> {
    let pages = pages()?;
    match a.dir {
        None => emit(&pages[0].1)?,
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .map_err(|e| anyhow::anyhow!("cannot create `{}`: {e}", dir.display()))?;
            for (name, page) in &pages {
                let path: PathBuf = Path::new(&dir).join(format!("{name}.1"));
                std::fs::write(&path, page)
                    .map_err(|e| anyhow::anyhow!("failed to write `{}`: {e}", path.display()))?;
            }
            eprintln!(
                "man: {} page(s) written to `{}`",
                pages.len(),
                dir.display()
            );
        }
    }
    Ok(ExitCode::from(exit::OK))
}

/// Writes to standard output; a closed pipe (`| head`) is not an error.
fn emit(bytes: &[u8]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}
