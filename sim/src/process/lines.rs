//! Reading a node's output line by line with a ceiling on the line length, so a node that
//! writes an endless or huge line cannot grow the bench's memory: past the limit the line
//! is skipped to its end and reported with its size and first bytes.

use std::io::{self, BufRead, BufReader, Read};

/// How many leading bytes of an over-long line are kept for the report.
const PREFIX_BYTES: usize = 200;
/// Chunk size while skipping the rest of an over-long line, or draining.
const SKIP_CHUNK: u64 = 64 * 1024;

/// One line of output.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A whole line without its `\n` (the last line may lack one).
    Complete(Vec<u8>),
    /// A line longer than the limit: its full length in bytes (without `\n`) and its
    /// first bytes.
    TooLong {
        /// Length of the whole line.
        len: u64,
        /// Its first bytes.
        prefix: Vec<u8>,
    },
}

/// A buffered reader handing out lines of at most `max` bytes.
pub struct LineReader<R> {
    inner: BufReader<R>,
    max: usize,
}

impl<R: Read> LineReader<R> {
    /// Reads `inner`, allowing lines of up to `max` bytes.
    pub fn new(inner: R, max: usize) -> LineReader<R> {
        LineReader {
            inner: BufReader::with_capacity(64 * 1024, inner),
            max,
        }
    }

    /// The next line, or `None` at end of input.
    pub fn next_line(&mut self) -> io::Result<Option<Line>> {
        let mut buf = Vec::new();
        let limit = self.max as u64 + 1;
        let n = (&mut self.inner).take(limit).read_until(b'\n', &mut buf)?;
        if n == 0 {
            return Ok(None);
        }
        if buf.last() == Some(&b'\n') {
            buf.pop();
            return Ok(Some(Line::Complete(buf)));
        }
        if buf.len() <= self.max {
            return Ok(Some(Line::Complete(buf))); // the end of input cut the last line
        }
        let mut len = buf.len() as u64;
        buf.truncate(PREFIX_BYTES);
        buf.shrink_to_fit();
        let mut scratch = Vec::with_capacity(SKIP_CHUNK as usize);
        loop {
            scratch.clear();
            let n = (&mut self.inner)
                .take(SKIP_CHUNK)
                .read_until(b'\n', &mut scratch)?;
            if n == 0 {
                break;
            }
            if scratch.last() == Some(&b'\n') {
                len += n as u64 - 1;
                break;
            }
            len += n as u64;
        }
        Ok(Some(Line::TooLong { len, prefix: buf }))
    }

    /// True when more input is already buffered (the next line needs no read).
    pub fn has_buffered(&self) -> bool {
        !self.inner.buffer().is_empty()
    }

    /// Reads and discards everything up to the end of input; returns the bytes skipped.
    pub fn drain(&mut self) -> u64 {
        let mut total = 0;
        loop {
            let n = match self.inner.fill_buf() {
                Ok([]) => return total,
                Ok(b) => b.len(),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return total,
            };
            self.inner.consume(n);
            total += n as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], max: usize) -> Vec<Line> {
        let mut r = LineReader::new(input, max);
        std::iter::from_fn(|| r.next_line().unwrap()).collect()
    }

    #[test]
    fn splits_lines_and_keeps_an_unterminated_last_one() {
        assert_eq!(
            lines(b"ab\n\ncd", 10),
            vec![
                Line::Complete(b"ab".to_vec()),
                Line::Complete(Vec::new()),
                Line::Complete(b"cd".to_vec())
            ]
        );
    }

    #[test]
    fn a_line_at_the_limit_passes_and_one_byte_more_is_too_long() {
        assert_eq!(
            lines(b"12345\n", 5),
            vec![Line::Complete(b"12345".to_vec())]
        );
        assert_eq!(
            lines(b"123456\nok\n", 5),
            vec![
                Line::TooLong {
                    len: 6,
                    prefix: b"123456".to_vec()
                },
                Line::Complete(b"ok".to_vec())
            ]
        );
    }

    #[test]
    fn huge_lines_are_measured_and_cut_to_a_prefix() {
        let mut input = vec![b'x'; 1_000_000];
        input.extend_from_slice(b"\nnext\n");
        let got = lines(&input, 1000);
        assert_eq!(got.len(), 2);
        match &got[0] {
            Line::TooLong { len, prefix } => {
                assert_eq!(*len, 1_000_000);
                assert_eq!(prefix.len(), PREFIX_BYTES);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(got[1], Line::Complete(b"next".to_vec()));
        // An endless line ends with the input.
        let got = lines(&vec![b'y'; 300_000], 1000);
        assert!(matches!(got[..], [Line::TooLong { len: 300_000, .. }]));
    }

    #[test]
    fn drain_consumes_everything() {
        let data = vec![b'z'; 200_000];
        let mut r = LineReader::new(&data[..], 10);
        assert_eq!(r.drain(), 200_000);
        assert_eq!(r.next_line().unwrap(), None);
    }
}
