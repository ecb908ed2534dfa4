//! The HTML pages in a real browser: runs a few short tests (a valid broadcast with
//! partitions, a broadcast node that never resends what partitions drop, the echo
//! challenge's scorecard) into one store,
//! then loads every `report.html`, the store's `index.html` and `scorecard.html` in
//! Debian's headless Chromium. Each page must render without console errors or
//! exceptions, every chart must have drawn data, the message diagram must have arrows (and
//! show a message's body when one is clicked), and a screenshot must not be blank.
//!
//! Skipped, saying so, when Chromium is missing (`apt-get install chromium`), except in CI
//! (`CI` set), where a missing browser fails the test. Render times are printed, never
//! asserted; `measure_report_pages` (ignored) prints them for any pages you name.

#[path = "browser/cdp.rs"]
mod cdp;
mod common;

use cdp::{chromium, ink, Browser, Page};
use common::{node, run_sim};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// What the page script reports about itself (see `PROBE`).
const PROBE: &str = r#"(async () => {
  const frame = () => new Promise(r => requestAnimationFrame(() => r()));
  const settled = Promise.race([frame().then(frame), new Promise(r => setTimeout(r, 3000))]);
  await settled;
  const rendered = performance.now();
  const nav = performance.getEntriesByType("navigation")[0];
  const visible = e => e.getClientRects().length > 0;
  const plots = [...document.querySelectorAll("figure.plot")].map(f => {
    const svg = f.querySelector(":scope > svg");
    const r = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
    const marks = svg ? svg.querySelectorAll("circle, polyline, path, rect, line").length : 0;
    return {title: f.querySelector("figcaption")?.firstChild?.textContent || "", declared: Number(f.dataset.marks || 0),
            marks, width: r.width, height: r.height};
  });
  const windows = [...document.querySelectorAll("div.window")];
  const open = windows.filter(w => !w.hidden);
  const arrows = open.reduce((n, w) => n + w.querySelectorAll("line.m").length, 0);
  const allArrows = document.querySelectorAll("svg.diagram line.m").length;
  const rows = document.querySelectorAll("table.runs tr").length;
  const links = [...document.querySelectorAll("table.runs a")].map(a => a.getAttribute("href"));
  return {rendered, load: nav ? nav.loadEventEnd : null, title: document.title,
          bytes: document.documentElement.outerHTML.length, plots, windows: windows.length,
          open: open.length, arrows, allArrows, rows, links,
          timeline: document.querySelectorAll("svg.timeline rect.op").length};
})()"#;

/// Clicks the first arrow of the first open window, then opens a closed window with its
/// chip; reports what the page showed.
const CLICK: &str = r#"(() => {
  const w = [...document.querySelectorAll("div.window")].find(w => !w.hidden);
  const line = w && w.querySelector("line.m");
  if (!line) { return {clicked: false}; }
  const svg = line.ownerSVGElement;
  const m = svg.getScreenCTM();
  const x = (line.x1.baseVal.value + line.x2.baseVal.value) / 2, y = (line.y1.baseVal.value + line.y2.baseVal.value) / 2;
  const p = new DOMPoint(x, y).matrixTransform(m);
  svg.dispatchEvent(new MouseEvent("click", {clientX: p.x, clientY: p.y, bubbles: true}));
  const panel = document.getElementById("panel");
  const chip = [...document.querySelectorAll("button.chip")].find(c => !c.classList.contains("on"));
  let opened = null;
  if (chip) { chip.click(); opened = !document.getElementById(chip.dataset.w).hidden; }
  return {clicked: true, panelShown: !panel.hidden, panelText: panel.textContent, opened,
          selected: document.querySelectorAll("line.m.sel").length};
})()"#;

/// A fresh scratch folder.
fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "glomers-browser-{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Chromium, or `None` after saying loudly why the test is skipped (a failure in CI).
fn browser_or_skip(test: &str) -> Option<PathBuf> {
    match chromium() {
        Ok(c) => Some(c),
        Err(tried) if std::env::var_os("CI").is_some() => {
            panic!(
                "{test}: chromium is required in CI ({} not found)",
                tried.display()
            )
        }
        Err(tried) => {
            eprintln!(
                "\n*** SKIPPED {test}: no Chromium at {} (install it with `apt-get install \
                 chromium`, or point GLOMERS_CHROMIUM at one) ***\n",
                tried.display()
            );
            None
        }
    }
}

/// The errors a page reported, one per line.
fn errors(page: &Page) -> String {
    page.errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Loads one page and checks what every page must satisfy; returns the probe.
fn check_page(browser: &mut Browser, path: &Path) -> (Page, Value) {
    let mut page = browser.new_page(1400, 1000).unwrap();
    let url = format!("file://{}", path.display());
    browser.load(&mut page, &url).unwrap();
    let probe = browser.eval(&mut page, PROBE).unwrap();
    let shot = browser.screenshot(&mut page).unwrap();
    let ink = ink(&shot).unwrap();
    eprintln!(
        "{}: {} bytes, load event {:.0} ms, rendered {:.0} ms after navigation start; {} plots, \
         {} diagram windows ({} open, {} arrows shown, {} in all), {} timeline bars; screenshot \
         {}x{}, {:.1} % ink, {} colours",
        path.display(),
        std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
        probe["load"].as_f64().unwrap_or(f64::NAN),
        probe["rendered"].as_f64().unwrap_or(f64::NAN),
        probe["plots"].as_array().map(Vec::len).unwrap_or(0),
        probe["windows"],
        probe["open"],
        probe["arrows"],
        probe["allArrows"],
        probe["timeline"],
        ink.size.0,
        ink.size.1,
        ink.ink * 100.0,
        ink.colours
    );
    assert!(
        page.errors.is_empty(),
        "{}: the page reported errors:\n{}",
        path.display(),
        errors(&page)
    );
    assert!(
        ink.ink > 0.02 && ink.colours > 8,
        "{}: the screenshot looks blank ({:.2} % ink, {} colours)",
        path.display(),
        ink.ink * 100.0,
        ink.colours
    );
    for plot in probe["plots"].as_array().unwrap() {
        let title = plot["title"].as_str().unwrap_or("?");
        assert!(
            plot["declared"].as_u64().unwrap_or(0) > 0,
            "{title}: no data: {plot}"
        );
        assert!(
            plot["marks"].as_u64().unwrap_or(0) >= plot["declared"].as_u64().unwrap_or(0).min(1),
            "{title}: nothing drawn: {plot}"
        );
        assert!(
            plot["width"].as_f64().unwrap_or(0.0) > 300.0
                && plot["height"].as_f64().unwrap_or(0.0) > 100.0,
            "{title}: the chart has no room on the page: {plot}"
        );
    }
    (page, probe)
}

/// Every `report.html` under the store.
fn reports(store: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for w in std::fs::read_dir(store).unwrap().filter_map(Result::ok) {
        if w.file_type().map(|t| t.is_symlink()).unwrap_or(true) || !w.path().is_dir() {
            continue;
        }
        for r in std::fs::read_dir(w.path()).unwrap().filter_map(Result::ok) {
            let p = r.path().join("report.html");
            if p.is_file() {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn reports_index_and_scorecard_render_in_chromium() {
    let Some(chromium) = browser_or_skip("reports_index_and_scorecard_render_in_chromium") else {
        return;
    };
    let work = scratch("store");
    let store = work.join("store");
    let store_arg = store.display().to_string();
    let short = ["--time-limit", "3", "--recovery-time", "1", "--seed", "11"];
    let good = node("broadcast.py");
    let once = node("broadcast_once.py");
    let configs = work.join("configs");
    std::fs::create_dir_all(&configs).unwrap();
    let echo = node("echo.py");
    let runs: Vec<(Vec<&str>, i32)> = vec![
        (
            [
                &["test", "-w", "broadcast", "--bin", &good][..],
                &short,
                &[
                    "--node-count",
                    "3",
                    "--rate",
                    "30",
                    "--latency",
                    "20",
                    "--nemesis",
                    "partition",
                    "--nemesis-interval",
                    "1",
                ],
            ]
            .concat(),
            0,
        ),
        (
            [
                &["test", "-w", "broadcast", "--bin", &once][..],
                &short,
                &[
                    "--node-count",
                    "5",
                    "--rate",
                    "20",
                    "--latency",
                    "20",
                    "--nemesis",
                    "partition",
                    "--nemesis-interval",
                    "1",
                ],
            ]
            .concat(),
            1,
        ),
        (
            vec![
                "challenges",
                "--bin",
                &echo,
                "--only",
                "1",
                "--seed",
                "3",
                "--config-dir",
                configs.to_str().unwrap(),
            ],
            0,
        ),
    ];
    for (args, code) in &runs {
        let (cmd, rest) = args.split_at(1);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_glomers-sim"))
            .args(cmd)
            .args(["--store", &store_arg])
            .args(rest)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(*code),
            "{args:?}\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            common::tail(&String::from_utf8_lossy(&out.stderr), 20)
        );
    }
    let _ = run_sim; // the shared harness is used by the other test files

    let pages = reports(&store);
    assert_eq!(pages.len(), 3, "one report per run: {pages:?}");
    let mut browser = Browser::start(&chromium, &work).unwrap();
    let mut saw_drop = 0;
    let mut saw_story = false;
    for path in &pages {
        let (mut page, probe) = check_page(&mut browser, path);
        assert!(
            !probe["plots"].as_array().unwrap().is_empty(),
            "{}: no charts",
            path.display()
        );
        assert!(
            probe["arrows"].as_u64().unwrap_or(0) > 0,
            "{}: the diagram has no arrows",
            path.display()
        );
        assert!(
            probe["timeline"].as_u64().unwrap_or(0) > 0,
            "{}: empty timeline",
            path.display()
        );
        let html = std::fs::read_to_string(path).unwrap();
        saw_drop += usize::from(html.contains("<line class=\"m s d"));
        if html.contains("<span class=\"rule\">workload: lost</span>") {
            saw_story = true;
            // The story links its messages to the diagram window that draws them.
            assert!(html.contains("class=\"msglink\""), "{}", path.display());
        }
        let click = browser.eval(&mut page, CLICK).unwrap();
        assert_eq!(click["clicked"], true, "{click}");
        assert_eq!(
            click["panelShown"], true,
            "clicking an arrow shows its message: {click}"
        );
        assert!(
            click["panelText"].as_str().unwrap_or("").contains("net #"),
            "{click}"
        );
        assert!(click["selected"].as_u64().unwrap_or(0) > 0, "{click}");
        if !click["opened"].is_null() {
            assert_eq!(click["opened"], true, "a chip opens its window: {click}");
        }
        assert!(
            page.errors.is_empty(),
            "{}:\n{}",
            path.display(),
            errors(&page)
        );
    }
    assert_eq!(
        saw_drop, 2,
        "both partitioned runs' diagrams show dropped messages"
    );
    assert!(
        saw_story,
        "the broken node's report tells the lost elements"
    );

    let (_, index) = check_page(&mut browser, &store.join("index.html"));
    assert_eq!(
        index["rows"].as_u64(),
        Some(4),
        "a header and three runs: {index}"
    );
    for link in index["links"].as_array().unwrap() {
        let href = link.as_str().unwrap();
        assert!(store.join(href).exists(), "index link {href} leads nowhere");
    }
    let (_, card) = check_page(&mut browser, &store.join("scorecard.html"));
    assert_eq!(
        card["rows"].as_u64(),
        Some(2),
        "a header and the echo row: {card}"
    );
    let link = card["links"][0].as_str().unwrap();
    assert!(
        link.ends_with("/report.html") && store.join(link).is_file(),
        "{card}"
    );
    drop(browser);
    let _ = std::fs::remove_dir_all(&work);
}

/// Prints size and render times of the pages named in `GLOMERS_REPORT_PAGES` (paths,
/// separated by commas), after the same checks as above. For measuring big runs:
/// `GLOMERS_REPORT_PAGES=store/broadcast/…/report.html cargo test -p glomers-sim --test
/// report_browser -- --ignored --nocapture`.
#[test]
#[ignore]
fn measure_report_pages() {
    let Some(chromium) = browser_or_skip("measure_report_pages") else {
        return;
    };
    let pages = std::env::var("GLOMERS_REPORT_PAGES").unwrap_or_default();
    let work = scratch("measure");
    let mut browser = Browser::start(&chromium, &work).unwrap();
    for p in pages.split(',').filter(|p| !p.is_empty()) {
        let path = std::fs::canonicalize(p).unwrap();
        // Three loads: the first warms the browser's caches.
        for _ in 0..3 {
            check_page(&mut browser, &path);
        }
    }
    drop(browser);
    let _ = std::fs::remove_dir_all(&work);
}
