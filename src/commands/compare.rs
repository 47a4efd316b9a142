//! `sentry-load compare A B …`: runs side by side. Prints the Markdown table and writes
//! `compare.md` and `compare.html` (overlaid charts) into `--out`.

use super::readback::read_report;
use crate::cli::CompareArgs;
use crate::exit::{Exit, OK, OrInternal};
use sentry_load_reports::{compare_html, compare_markdown};

pub fn compare(args: CompareArgs) -> Result<u8, Exit> {
    let runs = args
        .runs
        .iter()
        .map(|p| read_report(p).map(|(r, _)| r))
        .collect::<Result<Vec<_>, _>>()?;
    let md = compare_markdown(&runs);
    std::fs::create_dir_all(&args.out).internal("creating the compare folder")?;
    std::fs::write(args.out.join("compare.md"), &md).internal("writing compare.md")?;
    let html = args.out.join("compare.html");
    std::fs::write(&html, compare_html(&runs)).internal("writing compare.html")?;
    print!("{md}");
    println!("\ncompare  {}", html.display());
    Ok(OK)
}
