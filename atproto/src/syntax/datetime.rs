//! Lexicon `datetime` strings, per <https://atproto.com/specs/lexicon#datetime>.
//!
//! Syntax is the intersection of RFC 3339 and ISO 8601:
//!
//! ```text
//! YYYY-MM-DDTHH:MM:SS[.F+](Z|+HH:MM|-HH:MM)
//! ```
//!
//! exactly four year digits, two for every other field, an uppercase `T` and
//! `Z`, seconds required, a fraction of one or more digits, a timezone
//! required, and `-00:00` (RFC 3339's "unknown offset", not ISO 8601) not
//! allowed. At most 64 characters.
//!
//! A syntactically fine string must also be a real instant: month 1-12, day
//! within the month (leap years counted), hour 0-23, minute and second 0-59
//! (no leap second `:60`, as in the Go and JavaScript reference
//! implementations), offset hours 0-23 and minutes 0-59, and it must not be
//! before `0000-01-01T00:00:00Z` once the offset is applied.
//!
//! Implemented by hand (no chrono): the grammar is fixed-width and the only
//! calendar arithmetic needed is days-from-civil and its inverse.

use std::time::{SystemTime, UNIX_EPOCH};

use super::{SyntaxError, SyntaxKind, err, string_newtype};

/// Maximum length of a datetime string.
pub const MAX_DATETIME_LEN: usize = 64;

/// A valid Lexicon datetime, such as `1985-04-12T23:20:50.123Z`.
///
/// The original text is kept as is. Ordering is that of the string; use
/// [`Datetime::timestamp_micros`] to compare instants across timezones.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Datetime(String);

string_newtype!(Datetime, validate, "a datetime string");

fn e(reason: &'static str) -> SyntaxError {
    err(SyntaxKind::Datetime, reason)
}

/// The fields of a datetime string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Fields {
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
    /// Fraction of a second in microseconds (extra digits truncated).
    micros: i64,
    /// Offset east of UTC, in minutes.
    offset_minutes: i64,
}

/// Parses the fixed-width digits `b[at..at + n]`, or `None`.
#[inline]
fn digits(b: &[u8], at: usize, n: usize) -> Option<i64> {
    let slice = b.get(at..at + n)?;
    let mut v = 0i64;
    for &c in slice {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    Some(v)
}

#[inline]
fn expect(b: &[u8], at: usize, c: u8) -> bool {
    b.get(at) == Some(&c)
}

/// Checks the grammar only (no range checks) and extracts the fields.
fn parse_syntax(s: &str) -> Result<Fields, SyntaxError> {
    let b = s.as_bytes();
    if b.len() > MAX_DATETIME_LEN {
        return Err(e("longer than 64 characters"));
    }
    let bad = || e("not of the form YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)");
    let year = digits(b, 0, 4).ok_or_else(bad)?;
    if !expect(b, 4, b'-') {
        return Err(bad());
    }
    let month = digits(b, 5, 2).ok_or_else(bad)?;
    if !expect(b, 7, b'-') {
        return Err(bad());
    }
    let day = digits(b, 8, 2).ok_or_else(bad)?;
    if !expect(b, 10, b'T') {
        return Err(e("date and time must be separated by an uppercase 'T'"));
    }
    let hour = digits(b, 11, 2).ok_or_else(bad)?;
    if !expect(b, 13, b':') {
        return Err(bad());
    }
    let minute = digits(b, 14, 2).ok_or_else(bad)?;
    if !expect(b, 16, b':') {
        return Err(bad());
    }
    let second = digits(b, 17, 2).ok_or_else(bad)?;

    let mut i = 19;
    let mut micros = 0i64;
    if expect(b, i, b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            if i - start < 6 {
                micros = micros * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        let n = i - start;
        if n == 0 {
            return Err(e("fractional seconds need at least one digit"));
        }
        for _ in n..6 {
            micros *= 10;
        }
    }

    let offset_minutes = match b.get(i) {
        Some(b'Z') => {
            i += 1;
            0
        }
        Some(&sign @ (b'+' | b'-')) => {
            let hh = digits(b, i + 1, 2);
            let mm = digits(b, i + 4, 2);
            let (Some(hh), Some(mm), true) = (hh, mm, expect(b, i + 3, b':')) else {
                return Err(e("timezone offset must be +HH:MM or -HH:MM"));
            };
            i += 6;
            if sign == b'-' && hh == 0 && mm == 0 {
                return Err(e("\"-00:00\" is not allowed; use \"Z\" or \"+00:00\""));
            }
            if hh > 23 || mm > 59 {
                return Err(e("timezone offset out of range"));
            }
            let m = hh * 60 + mm;
            if sign == b'-' { -m } else { m }
        }
        Some(_) => return Err(e("timezone must be 'Z' or an offset like +HH:MM")),
        None => return Err(e("timezone is required")),
    };
    if i != b.len() {
        return Err(e("unexpected characters after the timezone"));
    }
    Ok(Fields {
        year,
        month,
        day,
        hour,
        minute,
        second,
        micros,
        offset_minutes,
    })
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`). Valid for any year, including 0 and negatives.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Seconds from the UNIX epoch back to 0000-01-01T00:00:00Z.
const YEAR_ZERO_SECS: i64 = -62_167_219_200;

/// Full check: grammar, field ranges, and not before year 0 in UTC.
/// Returns seconds since the UNIX epoch (UTC) and the microsecond fraction.
fn parse(s: &str) -> Result<(i64, i64), SyntaxError> {
    let f = parse_syntax(s)?;
    if !(1..=12).contains(&f.month) {
        return Err(e("month out of range"));
    }
    if f.day < 1 || f.day > days_in_month(f.year, f.month) {
        return Err(e("day out of range for the month"));
    }
    if f.hour > 23 {
        return Err(e("hour out of range"));
    }
    if f.minute > 59 {
        return Err(e("minute out of range"));
    }
    if f.second > 59 {
        return Err(e("second out of range"));
    }
    let secs = days_from_civil(f.year, f.month, f.day) * 86_400
        + f.hour * 3_600
        + f.minute * 60
        + f.second
        - f.offset_minutes * 60;
    if secs < YEAR_ZERO_SECS {
        return Err(e("normalizes to a negative year in UTC"));
    }
    Ok((secs, f.micros))
}

/// Checks `s` as a Lexicon datetime (syntax and calendar validity) without
/// allocating.
pub fn validate(s: &str) -> Result<(), SyntaxError> {
    parse(s).map(|_| ())
}

/// Checks only the grammar, not whether the fields form a real instant
/// (so `1985-00-12T23:20:50.123Z` passes here but not in [`validate`]).
pub fn validate_syntax(s: &str) -> Result<(), SyntaxError> {
    parse_syntax(s).map(|_| ())
}

impl Datetime {
    /// The current time in the preferred form, UTC with millisecond
    /// precision: `2024-01-02T03:04:05.678Z`.
    pub fn now() -> Datetime {
        Datetime::from_unix_millis(Datetime::unix_now_millis())
    }

    /// The current Unix time in microseconds (0 if the clock is before 1970).
    pub fn unix_now_micros() -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }

    /// The current Unix time in milliseconds.
    pub fn unix_now_millis() -> i64 {
        Datetime::unix_now_micros() / 1000
    }

    /// The current Unix time in seconds, as JWT `iat` and `exp` count it.
    pub fn unix_now_secs() -> i64 {
        Datetime::unix_now_micros() / 1_000_000
    }

    /// Formats milliseconds since the UNIX epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    /// Values outside years 0000-9999 are clamped to that range.
    pub fn from_unix_millis(millis: i64) -> Datetime {
        const MIN: i64 = YEAR_ZERO_SECS * 1000;
        // 9999-12-31T23:59:59.999Z
        const MAX: i64 = 253_402_300_799_999;
        let millis = millis.clamp(MIN, MAX);
        let secs = millis.div_euclid(1000);
        let ms = millis.rem_euclid(1000);
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (y, mo, d) = civil_from_days(days);
        Datetime(format!(
            "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
            sod / 3600,
            sod / 60 % 60,
            sod % 60
        ))
    }

    /// Microseconds since the UNIX epoch (negative before 1970), with the
    /// timezone applied: use this to sort or compare instants. Digits beyond
    /// microseconds are truncated.
    pub fn timestamp_micros(&self) -> i64 {
        // Validated on construction, so this cannot fail.
        parse(&self.0).map_or(0, |(secs, micros)| secs * 1_000_000 + micros)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for days in (-800_000..800_000).step_by(7) {
            let (y, m, d) = civil_from_days(days);
            assert!((1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m));
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(0, 1, 1) * 86_400, YEAR_ZERO_SECS);
    }

    #[test]
    fn timestamps() {
        let t = |s: &str| s.parse::<Datetime>().unwrap().timestamp_micros();
        assert_eq!(t("1970-01-01T00:00:00Z"), 0);
        assert_eq!(t("1970-01-01T00:00:00.000001Z"), 1);
        assert_eq!(t("1970-01-01T00:00:00.1234567899Z"), 123_456);
        assert_eq!(t("1985-04-12T23:20:50.123Z"), 482_196_050_123_000);
        assert_eq!(
            t("1985-04-12T16:20:50.123-07:00"),
            t("1985-04-12T23:20:50.123Z")
        );
        assert_eq!(
            t("1985-04-13T01:05:50.123+01:45"),
            t("1985-04-12T23:20:50.123Z")
        );
        assert_eq!(t("0000-01-01T00:00:00.000Z"), YEAR_ZERO_SECS * 1_000_000);
        assert!(t("1969-12-31T23:59:59.5Z") < 0);
        assert_eq!(t("1969-12-31T23:59:59.5Z"), -500_000);
    }

    #[test]
    fn calendar() {
        assert!(validate("2024-02-29T00:00:00Z").is_ok());
        assert!(validate("2023-02-29T00:00:00Z").is_err());
        assert!(validate("1900-02-29T00:00:00Z").is_err());
        assert!(validate("2000-02-29T00:00:00Z").is_ok());
        assert!(validate("2024-04-31T00:00:00Z").is_err());
        assert!(validate("2024-04-30T23:59:59.999Z").is_ok());
        assert!(validate("2024-04-30T24:00:00Z").is_err());
        assert!(validate("2016-12-31T23:59:60Z").is_err());
        assert!(validate("2024-01-01T00:00:00+24:00").is_err());
        assert!(validate("2024-01-01T00:00:00+23:60").is_err());
        assert!(validate("0000-01-01T00:59:00+00:59").is_ok());
        assert!(validate("0000-01-01T00:58:00+00:59").is_err());
        assert!(validate("9999-12-31T23:00:00-05:00").is_ok());
        assert!(validate_syntax("1985-00-12T23:20:50.123Z").is_ok());
        assert!(validate("1985-00-12T23:20:50.123Z").is_err());
    }

    #[test]
    fn now_format() {
        let n = Datetime::now();
        let s = n.as_str();
        assert_eq!(s.len(), 24, "{s}");
        assert!(s.ends_with('Z') && s.as_bytes()[19] == b'.');
        assert!(validate(s).is_ok());
        let now_us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_micros() as i64;
        assert!((now_us - n.timestamp_micros()).abs() < 5_000_000);
    }

    #[test]
    fn from_unix_millis() {
        assert_eq!(
            Datetime::from_unix_millis(0).as_str(),
            "1970-01-01T00:00:00.000Z"
        );
        assert_eq!(
            Datetime::from_unix_millis(482_196_050_123).as_str(),
            "1985-04-12T23:20:50.123Z"
        );
        assert_eq!(
            Datetime::from_unix_millis(-1).as_str(),
            "1969-12-31T23:59:59.999Z"
        );
        assert_eq!(
            Datetime::from_unix_millis(i64::MIN).as_str(),
            "0000-01-01T00:00:00.000Z"
        );
        assert_eq!(
            Datetime::from_unix_millis(i64::MAX).as_str(),
            "9999-12-31T23:59:59.999Z"
        );
        for ms in (-62_167_219_200_000i64..253_402_300_799_999).step_by(7_777_777_777) {
            let d = Datetime::from_unix_millis(ms);
            assert_eq!(d.timestamp_micros(), ms * 1000, "{d}");
        }
    }
}
