//! `compare A B …`: runs side by side — the Markdown table on the terminal, `compare.md` and
//! `compare.html` (overlaid charts) into a folder.

use crate::error::{Failure, OrInternal};
use crate::folder;
use crate::output;
use sentry_load_reports::{compare_html, compare_markdown};
use std::path::{Path, PathBuf};

/// Writes the comparison of `runs` (the first is the reference) into `out`, prints the table,
/// and returns the HTML page's path.
pub fn compare(runs: &[PathBuf], out: &Path) -> Result<PathBuf, Failure> {
    let reports = runs
        .iter()
        .map(|p| folder::read_report(p).map(|(r, _)| r))
        .collect::<Result<Vec<_>, _>>()?;
    let md = compare_markdown(&reports);
    std::fs::create_dir_all(out).internal("creating the compare folder")?;
    std::fs::write(out.join("compare.md"), &md).internal("writing compare.md")?;
    let html = out.join("compare.html");
    std::fs::write(&html, compare_html(&reports)).internal("writing compare.html")?;
    output::text(&md);
    Ok(html)
}
