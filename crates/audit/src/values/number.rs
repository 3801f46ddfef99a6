//! Integer settings, with or without time units, as guc.c's `parse_int` reads them.
//!
//! Owns: the number grammar of the GUC machinery — C `strtol` with base 0 (so `0600` is octal and
//! `0x180` hexadecimal), falling back to `strtod` when the integer stops at `.`, `e` or overflows
//! (so `1.5s` and `1e3` work), an optional unit after optional whitespace, fractions rounded as the
//! server rounds them (`rint`, ties to even), and the C `int` range.
//! Must not: know which setting is which beyond the unit it is given, or judge the value.

use super::{Problem, ValueError};

/// The unit a time setting is stored in, which a bare number is taken to be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DurationUnit {
    /// `GUC_UNIT_MS`: `statement_timeout`, `log_min_duration_statement`, ...
    Milliseconds,
    /// `GUC_UNIT_S`: `tcp_keepalives_idle`, `authentication_timeout`, ...
    Seconds,
    /// `GUC_UNIT_MIN`: `log_rotation_age`, ...
    Minutes,
}

impl DurationUnit {
    fn milliseconds(self) -> i64 {
        match self {
            Self::Milliseconds => 1,
            Self::Seconds => 1000,
            Self::Minutes => 60_000,
        }
    }
}

/// A time setting's value in milliseconds, as the server stores it.
///
/// `default_unit` is the setting's own unit, which a bare number is in and to which the server
/// rounds: `'1.5s'` is 1500 ms for `statement_timeout` (milliseconds) but 2 s for
/// `tcp_keepalives_idle` (seconds). Units are case-sensitive (`us ms s min h d`). Negative values
/// are returned as they are (`log_min_duration_statement = -1` means "off"); whether a setting
/// allows them is its own range, not checked here.
pub fn duration_ms(value: &str, default_unit: DurationUnit) -> Result<i64, ValueError> {
    parse_int(value, Some(default_unit))
        .map(|v| v * default_unit.milliseconds())
        .map_err(|problem| ValueError::new(value, problem))
}

/// A file-mode setting (`log_file_mode`, `unix_socket_permissions`): an integer in the C sense,
/// so `0600`, `384` and `0x180` are the same mode and `600` is decimal (and too large); `0o600` is
/// refused, as by the server. The server shows it as four octal digits (`0600`).
pub fn file_mode(value: &str) -> Result<u32, ValueError> {
    let mode = parse_int(value, None).map_err(|problem| ValueError::new(value, problem))?;
    u32::try_from(mode)
        .ok()
        .filter(|m| *m <= 0o777)
        .ok_or_else(|| ValueError::new(value, Problem::ModeOutOfRange))
}

/// guc.c's `parse_int`: the value in the setting's base unit, or without a unit when `unit` is
/// `None` (then any text after the number is refused).
fn parse_int(value: &str, unit: Option<DurationUnit>) -> Result<i64, Problem> {
    let s = value.as_bytes();
    let int = strtol(s);
    let (mut val, mut end) = (int.value as f64, int.end);
    if int.overflow || matches!(s.get(int.end), Some(b'.' | b'e' | b'E')) {
        let float = strtod(s);
        if float.range_error {
            return Err(Problem::NotANumber);
        }
        (val, end) = (float.value, float.end);
    }
    if end == 0 {
        return Err(Problem::NotANumber);
    }
    end = skip_c_space(s, end);
    if end < s.len() {
        let rest = &value[end..];
        let Some(unit) = unit else { return Err(Problem::TrailingText(rest.to_owned())) };
        val = convert_to_base_unit(val, rest, unit).ok_or_else(|| Problem::InvalidUnit(rest.to_owned()))?;
    }
    let rounded = val.round_ties_even();
    if rounded > f64::from(i32::MAX) || rounded < f64::from(i32::MIN) {
        return Err(Problem::OutOfIntRange);
    }
    // In the i32 range, checked above: the conversion is exact.
    Ok(rounded as i64)
}

/// C `isspace` in the C locale, which guc.c uses around numbers and units.
fn c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn skip_c_space(s: &[u8], mut i: usize) -> usize {
    while s.get(i).copied().is_some_and(c_space) {
        i += 1;
    }
    i
}

/// What `strtol(s, &end, 0)` gives: `end` is 0 when nothing was converted (C's `end == s`).
struct Strtol {
    value: i64,
    end: usize,
    overflow: bool,
}

fn strtol(s: &[u8]) -> Strtol {
    let (negative, i) = sign(s, skip_c_space(s, 0));
    let hex = s.get(i) == Some(&b'0')
        && matches!(s.get(i + 1), Some(b'x' | b'X'))
        && s.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
    // A leading 0 is itself an octal digit, so "0" and "08" (which stops at the 8) convert.
    let (radix, start) = if hex {
        (16, i + 2)
    } else if s.get(i) == Some(&b'0') {
        (8, i)
    } else {
        (10, i)
    };
    let mut magnitude: u128 = 0;
    let mut end = start;
    while let Some(digit) = s.get(end).and_then(|&b| char::from(b).to_digit(radix)) {
        magnitude = magnitude.saturating_mul(u128::from(radix)).saturating_add(u128::from(digit));
        end += 1;
    }
    if end == start {
        return Strtol { value: 0, end: 0, overflow: false };
    }
    let limit =
        if negative { u128::from(i64::MAX.unsigned_abs()) + 1 } else { u128::from(i64::MAX.unsigned_abs()) };
    if magnitude > limit {
        let value = if negative { i64::MIN } else { i64::MAX };
        return Strtol { value, end, overflow: true };
    }
    // At most i64::MAX + 1, checked above: it fits an i128, and the result an i64.
    let signed = if negative { -(magnitude as i128) } else { magnitude as i128 };
    Strtol { value: i64::try_from(signed).unwrap_or(i64::MIN), end, overflow: false }
}

/// An optional sign at `i`: (negative, index after it).
fn sign(s: &[u8], i: usize) -> (bool, usize) {
    match s.get(i) {
        Some(b'-') => (true, i + 1),
        Some(b'+') => (false, i + 1),
        _ => (false, i),
    }
}

/// What `strtod(s, &end)` gives; `range_error` is `errno == ERANGE`.
struct Strtod {
    value: f64,
    end: usize,
    range_error: bool,
}

/// glibc's `strtod`, for the inputs `parse_int` hands it: they start like a number (the integer
/// parse stopped at `.`, `e` or `E`, or overflowed), so `inf` and `nan` cannot reach it.
fn strtod(s: &[u8]) -> Strtod {
    let first = skip_c_space(s, 0);
    let (negative, i) = sign(s, first);
    let hex = s.get(i) == Some(&b'0')
        && matches!(s.get(i + 1), Some(b'x' | b'X'))
        && (s.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
            || (s.get(i + 2) == Some(&b'.') && s.get(i + 3).is_some_and(u8::is_ascii_hexdigit)));
    let parsed = if hex { hex_float(s, i + 2) } else { decimal_float(s, i) };
    let Some((magnitude, end, nonzero_digits)) = parsed else {
        return Strtod { value: 0.0, end: 0, range_error: false };
    };
    let value = if negative { -magnitude } else { magnitude };
    // glibc reports ERANGE on overflow, and on underflow to zero or to a subnormal.
    let range_error = value.is_infinite() || (nonzero_digits && value.abs() < f64::MIN_POSITIVE);
    Strtod { value, end, range_error }
}

/// A decimal floating-point number whose digits start at `digits` (after the sign): (absolute
/// value, end, whether any mantissa digit is non-zero).
fn decimal_float(s: &[u8], digits: usize) -> Option<(f64, usize, bool)> {
    let mut end = digits;
    let mut count = 0;
    let mut nonzero = false;
    let mut take_digits = |end: &mut usize| {
        while let Some(&b) = s.get(*end).filter(|b| b.is_ascii_digit()) {
            count += 1;
            nonzero |= b != b'0';
            *end += 1;
        }
    };
    take_digits(&mut end);
    if s.get(end) == Some(&b'.') {
        end += 1;
        take_digits(&mut end);
    }
    if count == 0 {
        return None;
    }
    end = exponent(s, end, false);
    // ASCII only, and the grammar Rust's parser accepts: digits, one dot, an exponent.
    let text = std::str::from_utf8(&s[digits..end]).ok()?;
    let magnitude: f64 = text.parse().ok()?;
    Some((magnitude, end, nonzero))
}

/// A hexadecimal floating-point number whose hex digits start at `start` (after `0x`), with an
/// optional binary exponent `p[+-]digits`.
fn hex_float(s: &[u8], start: usize) -> Option<(f64, usize, bool)> {
    let mut mantissa = 0.0f64;
    let mut scale: i64 = 0;
    let mut end = start;
    let mut seen_dot = false;
    let mut nonzero = false;
    loop {
        match s.get(end) {
            Some(b'.') if !seen_dot => seen_dot = true,
            Some(&b) if b.is_ascii_hexdigit() => {
                let digit = char::from(b).to_digit(16)?;
                nonzero |= digit != 0;
                mantissa = mantissa * 16.0 + f64::from(digit);
                if seen_dot {
                    scale -= 4;
                }
            }
            _ => break,
        }
        end += 1;
    }
    let exp_end = exponent(s, end, true);
    let exp: i64 = if exp_end > end {
        std::str::from_utf8(&s[end + 1..exp_end]).ok()?.parse().unwrap_or(i64::MAX)
    } else {
        0
    };
    let power = i32::try_from(exp.saturating_add(scale)).unwrap_or(if exp > 0 { i32::MAX } else { i32::MIN });
    Some((mantissa * 2f64.powi(power), exp_end, nonzero))
}

/// The end of an exponent at `at` (`e`/`E`, or `p`/`P` for hex), or `at` itself when there is no
/// complete one: C consumes the letter only when digits follow it.
fn exponent(s: &[u8], at: usize, hex: bool) -> usize {
    let letter =
        if hex { matches!(s.get(at), Some(b'p' | b'P')) } else { matches!(s.get(at), Some(b'e' | b'E')) };
    if !letter {
        return at;
    }
    let (_, digits) = sign(s, at + 1);
    let mut end = digits;
    while s.get(end).is_some_and(u8::is_ascii_digit) {
        end += 1;
    }
    if end == digits { at } else { end }
}

/// One row of guc.c's `time_unit_conversion_table`: unit, base unit, multiplier.
type Conversion = (&'static str, DurationUnit, f64);

/// guc.c's table, in its order: for each base unit, largest unit first. The order matters: a
/// fraction is rounded to a multiple of the next row's unit when it has the same base.
const TIME_UNITS: [Conversion; 18] = {
    use DurationUnit::*;
    [
        ("d", Milliseconds, (1000 * 60 * 60 * 24) as f64),
        ("h", Milliseconds, (1000 * 60 * 60) as f64),
        ("min", Milliseconds, (1000 * 60) as f64),
        ("s", Milliseconds, 1000.0),
        ("ms", Milliseconds, 1.0),
        ("us", Milliseconds, 1.0 / 1000.0),
        ("d", Seconds, (60 * 60 * 24) as f64),
        ("h", Seconds, (60 * 60) as f64),
        ("min", Seconds, 60.0),
        ("s", Seconds, 1.0),
        ("ms", Seconds, 1.0 / 1000.0),
        ("us", Seconds, 1.0 / (1000 * 1000) as f64),
        ("d", Minutes, (60 * 24) as f64),
        ("h", Minutes, 60.0),
        ("min", Minutes, 1.0),
        ("s", Minutes, 1.0 / 60.0),
        ("ms", Minutes, 1.0 / (1000 * 60) as f64),
        ("us", Minutes, 1.0 / (1000 * 1000 * 60) as f64),
    ]
};

/// The longest unit name guc.c reads (`MAX_UNIT_LEN`).
const MAX_UNIT_LEN: usize = 3;

/// guc.c's `convert_to_base_unit`: `rest` is the unit and optional trailing whitespace.
fn convert_to_base_unit(value: f64, rest: &str, base: DurationUnit) -> Option<f64> {
    let b = rest.as_bytes();
    let mut unit_len = 0;
    while unit_len < b.len() && !c_space(b[unit_len]) && unit_len < MAX_UNIT_LEN {
        unit_len += 1;
    }
    if skip_c_space(b, unit_len) != b.len() {
        return None;
    }
    let unit = rest.get(..unit_len)?;
    let i = TIME_UNITS.iter().position(|(name, row_base, _)| *row_base == base && *name == unit)?;
    let multiplier = TIME_UNITS[i].2;
    let mut converted = value * multiplier;
    if let Some((_, next_base, next)) = TIME_UNITS.get(i + 1)
        && *next_base == base
    {
        converted = (converted / next).round_ties_even() * next;
    }
    Some(converted)
}
