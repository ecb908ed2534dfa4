//! `store/scorecard.html`: the `glomers-sim challenges` table, each row linked to the
//! report of its run.

use super::html::{esc, put};
use super::page::head;
use std::path::{Path, PathBuf};

/// One scorecard row, as the terminal table shows it.
#[derive(Debug, Clone)]
pub struct ScoreRow {
    /// The cells: challenge, verdict, msgs/op, latency or availability, target, results.
    pub cells: Vec<String>,
    /// The run folder, relative to the store, when the row ran.
    pub run: Option<String>,
    /// `valid`, `invalid`, `crash` or `unknown`, for colour.
    pub class: &'static str,
}

/// The scorecard page; `headers` name the cells.
pub fn render(title: &str, headers: &[&str], rows: &[ScoreRow], summary: &str) -> String {
    let mut s = head("glomers-sim scorecard");
    put(
        &mut s,
        format_args!(
            "<header><div class=\"wrap\"><p class=\"crumbs\"><a href=\"index.html\">all runs</a></p><h1>Gossip Glomers scorecard</h1><p class=\"plan\">{}</p></div></header><main class=\"wrap\"><table class=\"runs\"><tr>",
            esc(title)
        ),
    );
    for h in headers {
        put(&mut s, format_args!("<th>{}</th>", esc(h)));
    }
    s.push_str("<th>report</th></tr>");
    for r in rows {
        put(&mut s, format_args!("<tr class=\"{}\">", r.class));
        for (i, c) in r.cells.iter().enumerate() {
            let num = match i {
                1 => " class=\"verdict\"",
                2 => " class=\"num\"",
                _ => "",
            };
            put(&mut s, format_args!("<td{num}>{}</td>", esc(c)));
        }
        match &r.run {
            Some(run) => put(
                &mut s,
                format_args!("<td><a href=\"{}/report.html\">report</a></td>", esc(run)),
            ),
            None => s.push_str("<td></td>"),
        }
        s.push_str("</tr>");
    }
    put(
        &mut s,
        format_args!("</table><p>{}</p></main></body></html>\n", esc(summary)),
    );
    s
}

/// Writes `<store>/scorecard.html` and refreshes the index (which links to it).
pub fn write(
    store: &Path,
    title: &str,
    headers: &[&str],
    rows: &[ScoreRow],
    summary: &str,
) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(store)?;
    let path = store.join("scorecard.html");
    std::fs::write(&path, render(title, headers, rows, summary))?;
    super::index::write(store)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_link_to_their_reports() {
        let rows = vec![
            ScoreRow {
                cells: vec!["1 Echo".into(), "valid".into(), "0.00".into()],
                run: Some("echo/20260101T000000.000Z".into()),
                class: "valid",
            },
            ScoreRow {
                cells: vec!["5a Kafka".into(), "error".into(), "-".into()],
                run: None,
                class: "invalid",
            },
        ];
        let page = render(
            "for glomers-host",
            &["challenge", "verdict", "msgs/op"],
            &rows,
            "1 of 2",
        );
        assert!(page.contains("<a href=\"echo/20260101T000000.000Z/report.html\">report</a>"));
        assert!(page
            .contains("<tr class=\"invalid\"><td>5a Kafka</td><td class=\"verdict\">error</td>"));
        assert_eq!(page.matches("report.html").count(), 1);
    }
}
