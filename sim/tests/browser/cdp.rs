//! A small Chrome DevTools Protocol client for tests: starts Debian's headless Chromium
//! with `--remote-debugging-pipe` (commands on its fd 3, replies and events on its fd 4,
//! each message a JSON text ended by a NUL byte), opens pages, evaluates scripts, takes
//! screenshots and keeps every console error and uncaught exception a page reports.

use serde_json::{json, Value};
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// Where Debian puts Chromium.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// How long any one command may take.
const TIMEOUT: Duration = Duration::from_secs(60);

/// The Chromium binary to use (`GLOMERS_CHROMIUM`, else Debian's) if it exists, else
/// the path that was tried.
pub fn chromium() -> Result<PathBuf, PathBuf> {
    let path = std::env::var_os("GLOMERS_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(CHROMIUM));
    if path.is_file() {
        Ok(path)
    } else {
        Err(path)
    }
}

/// A running headless Chromium.
pub struct Browser {
    child: Child,
    to_browser: File,
    from_browser: Receiver<Value>,
    next_id: u64,
    /// Events received while waiting for something else.
    pending: VecDeque<Value>,
    profile: PathBuf,
}

/// Something a page reported that a person would count as an error.
#[derive(Clone)]
pub struct PageError {
    /// `console.error`, `exception` or a log entry's source.
    pub kind: String,
    /// What it said.
    pub text: String,
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind, self.text)
    }
}

/// One open page (a target with a flat session).
pub struct Page {
    session: String,
    /// Console errors, uncaught exceptions and error log entries, in order.
    pub errors: Vec<PageError>,
}

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

impl Browser {
    /// Starts Chromium headless with a fresh profile under `scratch`.
    pub fn start(chromium: &Path, scratch: &Path) -> std::io::Result<Browser> {
        use std::os::fd::AsRawFd;
        let profile = scratch.join(format!("chromium-profile-{}", std::process::id()));
        std::fs::create_dir_all(&profile)?;
        let (cmd_read, cmd_write) = pipe()?;
        let (out_read, out_write) = pipe()?;
        let (cr, ow) = (cmd_read.as_raw_fd(), out_write.as_raw_fd());
        let mut command = Command::new(chromium);
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "--remote-debugging-pipe",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: between fork and exec the closure only calls fcntl, dup2 and close,
        // which are async-signal-safe, on descriptors open in the parent. The pipe ends are
        // first copied above 10, so neither can be overwritten by the other's dup2 (they
        // may already be 3 or 4), then placed at 3 and 4 without close-on-exec.
        unsafe {
            command.pre_exec(move || {
                let a = libc::fcntl(cr, libc::F_DUPFD_CLOEXEC, 10);
                let b = libc::fcntl(ow, libc::F_DUPFD_CLOEXEC, 10);
                if a < 0 || b < 0 || libc::dup2(a, 3) < 0 || libc::dup2(b, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(a);
                libc::close(b);
                Ok(())
            });
        }
        let child = command.spawn()?;
        drop(cmd_read);
        drop(out_write);
        let (tx, rx) = channel();
        let reader = File::from(out_read);
        std::thread::spawn(move || {
            let mut r = BufReader::new(reader);
            let mut buf = Vec::new();
            while let Ok(n) = r.read_until(0, &mut buf) {
                if n == 0 {
                    break;
                }
                if buf.last() == Some(&0) {
                    buf.pop();
                }
                if let Ok(v) = serde_json::from_slice::<Value>(&buf) {
                    if tx.send(v).is_err() {
                        break;
                    }
                }
                buf.clear();
            }
        });
        Ok(Browser {
            child,
            to_browser: File::from(cmd_write),
            from_browser: rx,
            next_id: 1,
            pending: VecDeque::new(),
            profile,
        })
    }

    /// Sends a command (to the browser, or to a page's session) and waits for its result.
    pub fn call(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, String> {
        let id = self.next_id;
        self.next_id += 1;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&msg).map_err(|e| e.to_string())?;
        bytes.push(0);
        self.to_browser
            .write_all(&bytes)
            .map_err(|e| format!("{method}: cannot write to chromium: {e}"))?;
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let v = self.next_message(deadline, method)?;
            if v["id"] == json!(id) {
                if let Some(e) = v.get("error") {
                    return Err(format!("{method}: {e}"));
                }
                return Ok(v["result"].clone());
            }
            self.pending.push_back(v);
        }
    }

    fn next_message(&mut self, deadline: Instant, what: &str) -> Result<Value, String> {
        match self
            .from_browser
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            Ok(v) => Ok(v),
            Err(RecvTimeoutError::Timeout) => {
                Err(format!("{what}: no answer from chromium in {TIMEOUT:?}"))
            }
            Err(RecvTimeoutError::Disconnected) => Err(format!("{what}: chromium went away")),
        }
    }

    /// Opens a new page of `width` × `height` CSS pixels, with console and log capture on.
    pub fn new_page(&mut self, width: u32, height: u32) -> Result<Page, String> {
        let target = self.call(None, "Target.createTarget", json!({"url": "about:blank"}))?;
        let target_id = target["targetId"].clone();
        let attached = self.call(
            None,
            "Target.attachToTarget",
            json!({"targetId": target_id, "flatten": true}),
        )?;
        let session = attached["sessionId"]
            .as_str()
            .ok_or("attachToTarget gave no session")?
            .to_string();
        for m in ["Page.enable", "Runtime.enable", "Log.enable"] {
            self.call(Some(&session), m, json!({}))?;
        }
        self.call(
            Some(&session),
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}),
        )?;
        Ok(Page {
            session,
            errors: Vec::new(),
        })
    }

    /// Loads `url` in `page` and waits for its load event.
    pub fn load(&mut self, page: &mut Page, url: &str) -> Result<(), String> {
        self.call(Some(&page.session), "Page.navigate", json!({"url": url}))?;
        let deadline = Instant::now() + TIMEOUT;
        let mut seen = std::mem::take(&mut self.pending);
        loop {
            let v = match seen.pop_front() {
                Some(v) => v,
                None => self.next_message(deadline, "waiting for the load event")?,
            };
            if v["sessionId"].as_str() != Some(page.session.as_str()) {
                continue;
            }
            record_error(page, &v);
            if v["method"] == "Page.loadEventFired" {
                return Ok(());
            }
        }
    }

    /// Evaluates `expression` (awaiting a promise) in the page and returns its value.
    pub fn eval(&mut self, page: &mut Page, expression: &str) -> Result<Value, String> {
        let r = self.call(
            Some(&page.session),
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        )?;
        self.drain(page);
        if let Some(e) = r.get("exceptionDetails") {
            return Err(format!("script failed: {e}"));
        }
        Ok(r["result"]["value"].clone())
    }

    /// Takes a PNG screenshot of the whole page (not only the viewport).
    pub fn screenshot(&mut self, page: &mut Page) -> Result<Vec<u8>, String> {
        let r = self.call(
            Some(&page.session),
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": false}),
        )?;
        self.drain(page);
        let data = r["data"].as_str().ok_or("no screenshot data")?;
        base64_decode(data).ok_or_else(|| "screenshot is not base64".to_string())
    }

    /// Moves events that arrived meanwhile into the page's error list.
    fn drain(&mut self, page: &mut Page) {
        while let Ok(v) = self.from_browser.try_recv() {
            self.pending.push_back(v);
        }
        for v in std::mem::take(&mut self.pending) {
            if v["sessionId"].as_str() == Some(page.session.as_str()) {
                record_error(page, &v);
            } else {
                self.pending.push_back(v);
            }
        }
    }
}

fn record_error(page: &mut Page, v: &Value) {
    let p = &v["params"];
    match v["method"].as_str() {
        Some("Runtime.consoleAPICalled")
            if matches!(p["type"].as_str(), Some("error" | "assert")) =>
        {
            page.errors.push(PageError {
                kind: format!("console.{}", p["type"].as_str().unwrap_or("?")),
                text: p["args"].to_string(),
            })
        }
        Some("Runtime.exceptionThrown") => page.errors.push(PageError {
            kind: "exception".into(),
            text: p["exceptionDetails"].to_string(),
        }),
        Some("Log.entryAdded") if p["entry"]["level"] == "error" => page.errors.push(PageError {
            kind: format!("log ({})", p["entry"]["source"].as_str().unwrap_or("?")),
            text: p["entry"]["text"].as_str().unwrap_or("").to_string(),
        }),
        _ => {}
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.call(None, "Browser.close", json!({}));
        let end = Instant::now() + Duration::from_secs(5);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Standard base64 (with padding), as DevTools sends binary data.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let bytes: Vec<u8> = text.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for chunk in bytes.chunks(4) {
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        let mut n = 0u32;
        for &c in &chunk[..4 - pad] {
            n = (n << 6) | value(c)?;
        }
        n <<= 6 * pad as u32;
        let three = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&three[..3 - pad]);
    }
    Some(out)
}

/// How much of a PNG is not its most common colour, and how many colours it has.
pub struct Ink {
    /// Fraction of pixels that differ from the most common colour.
    pub ink: f64,
    /// Distinct colours (RGB), counted up to 10 000.
    pub colours: usize,
    /// Width and height.
    pub size: (u32, u32),
}

/// Decodes a PNG and measures how much is drawn on it.
pub fn ink(png_bytes: &[u8]) -> Result<Ink, String> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(|e| e.to_string())?;
    let mut buf = vec![0; reader.output_buffer_size().ok_or("image too large")?];
    let info = reader.next_frame(&mut buf).map_err(|e| e.to_string())?;
    let channels = info.color_type.samples();
    let pixels = &buf[..info.buffer_size()];
    let mut counts: std::collections::HashMap<[u8; 3], usize> = std::collections::HashMap::new();
    let mut total = 0usize;
    for px in pixels.chunks(channels) {
        let rgb = match channels {
            1 | 2 => [px[0], px[0], px[0]],
            _ => [px[0], px[1], px[2]],
        };
        if counts.len() < 10_000 || counts.contains_key(&rgb) {
            *counts.entry(rgb).or_default() += 1;
        }
        total += 1;
    }
    let most = counts.values().copied().max().unwrap_or(0);
    Ok(Ink {
        ink: if total == 0 {
            0.0
        } else {
            1.0 - most as f64 / total as f64
        },
        colours: counts.len(),
        size: (info.width, info.height),
    })
}

#[test]
fn base64_decodes_with_and_without_padding() {
    assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
    assert_eq!(base64_decode("aGk=").unwrap(), b"hi");
    assert_eq!(base64_decode("aGV5").unwrap(), b"hey");
    assert!(base64_decode("a*==").is_none());
}
