//! Physical lines kept byte for byte: each line's text without its terminator, and the terminator
//! itself. This is what makes every file type of the crate lossless. Lines are split on `\n` only,
//! as PostgreSQL does (a `\r` before it is part of the terminator; any other `\r` is text, which both
//! of PostgreSQL's tokenizers treat as blank).

use std::path::Path;

use crate::error::{Error, Location};
use crate::source::{self, MAX_FILE_BYTES, Source};

/// How a physical line ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    Lf,
    CrLf,
    /// The last line of a file without a final newline.
    None,
}

impl Ending {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Lf => "\n",
            Self::CrLf => "\r\n",
            Self::None => "",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    pub(crate) text: String,
    pub(crate) ending: Ending,
}

impl Line {
    pub(crate) fn new(text: impl Into<String>, ending: Ending) -> Self {
        Self { text: text.into(), ending }
    }
}

/// Splits text into physical lines. An empty text has no lines; a final `\n` does not start one.
pub(crate) fn split(text: &str) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        match rest.find('\n') {
            Some(i) => {
                let (body, ending) = match rest[..i].strip_suffix('\r') {
                    Some(body) => (body, Ending::CrLf),
                    None => (&rest[..i], Ending::Lf),
                };
                lines.push(Line::new(body, ending));
                rest = &rest[i + 1..];
            }
            None => {
                lines.push(Line::new(rest, Ending::None));
                rest = "";
            }
        }
    }
    lines
}

pub(crate) fn join(lines: &[Line]) -> String {
    let mut out = String::with_capacity(lines.iter().map(|l| l.text.len() + 2).sum());
    for line in lines {
        out.push_str(&line.text);
        out.push_str(line.ending.as_str());
    }
    out
}

/// The terminator new lines should get: the one the file already uses most, `\n` by default.
pub(crate) fn dominant_ending(lines: &[Line]) -> Ending {
    let crlf = lines.iter().filter(|l| l.ending == Ending::CrLf).count();
    let lf = lines.iter().filter(|l| l.ending == Ending::Lf).count();
    if crlf > lf { Ending::CrLf } else { Ending::Lf }
}

/// Makes sure a line can be appended: a final line without terminator gets the dominant one.
pub(crate) fn terminate_last(lines: &mut [Line]) {
    let ending = dominant_ending(lines);
    if let Some(last) = lines.last_mut()
        && last.ending == Ending::None
    {
        last.ending = ending;
    }
}

/// The number of lines `split` makes of `text`, if at most `max`; otherwise the 1-based number of
/// the first line over `max`. Nothing is allocated, so a load can refuse a file before parsing it.
pub(crate) fn count_lines(text: &str, max: usize) -> Result<usize, usize> {
    let ends = text.bytes().filter(|&b| b == b'\n').count();
    let count = ends + usize::from(!text.is_empty() && !text.ends_with('\n'));
    if count > max { Err(max + 1) } else { Ok(count) }
}

/// Reads a whole file through `src` as UTF-8, naming the first bad line if it is not.
pub(crate) fn read(path: &Path, src: &dyn Source) -> Result<String, Error> {
    let bytes = src.read(path).map_err(|e| Error::io(path, &e))?;
    // A `Source` must enforce the limit itself; this keeps one that does not from getting past it.
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(Error::io(path, &source::too_large()));
    }
    String::from_utf8(bytes).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
        Error::NotUtf8 { at: Location::new(path, line) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_and_join_are_inverse() {
        for text in ["", "a", "a\n", "a\r\nb", "\n\n", "a\r\r\n", "\r", "x\ny\r\nz"] {
            assert_eq!(join(&split(text)), text, "{text:?}");
        }
    }

    #[test]
    fn count_lines_agrees_with_split() {
        for text in ["", "a", "a\n", "a\r\nb", "\n\n", "x\ny\r\nz\n"] {
            assert_eq!(count_lines(text, usize::MAX), Ok(split(text).len()), "{text:?}");
        }
        assert_eq!(count_lines("a\nb\nc", 2), Err(3));
        assert_eq!(count_lines("a\nb\n", 2), Ok(2));
    }

    #[test]
    fn final_newline_starts_no_line() {
        assert_eq!(split("a\n").len(), 1);
        assert_eq!(split("a\nb").len(), 2);
        assert_eq!(split("a\r\n")[0], Line::new("a", Ending::CrLf));
    }
}
