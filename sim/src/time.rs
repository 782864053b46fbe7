//! Virtual time: instants, spans, clock times of day, and the scenario's start.
//!
//! All time in the model is integer milliseconds since the scenario start. Nothing here reads a
//! clock; `jiff` is used only to parse the scenario's civil start time.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// Milliseconds in one second.
pub const SECOND: u64 = 1_000;
/// Milliseconds in one minute.
pub const MINUTE: u64 = 60 * SECOND;
/// Milliseconds in one hour.
pub const HOUR: u64 = 60 * MINUTE;
/// Milliseconds in one day.
pub const DAY: u64 = 24 * HOUR;

/// An instant of virtual time: milliseconds since the scenario start.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct SimTime(pub u64);

impl SimTime {
    /// The scenario start.
    pub const ZERO: SimTime = SimTime(0);

    /// Milliseconds since the start.
    pub fn ms(self) -> u64 {
        self.0
    }

    /// Seconds since the start, for reports.
    pub fn secs_f64(self) -> f64 {
        self.0 as f64 / SECOND as f64
    }

    /// This instant plus a span (saturating: time never wraps).
    pub fn after(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }

    /// The span from `earlier` to `self`, zero if `earlier` is later.
    pub fn since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
}

/// A length of virtual time in milliseconds. In files it is written like `30s`, `5m`, `1h30m`,
/// `250ms` or `2d`; a bare number is refused so that a unit is never guessed.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(pub u64);

impl SimDuration {
    /// No time at all.
    pub const ZERO: SimDuration = SimDuration(0);

    /// A span of whole seconds.
    pub const fn secs(s: u64) -> SimDuration {
        SimDuration(s * SECOND)
    }

    /// A span of whole minutes.
    pub const fn mins(m: u64) -> SimDuration {
        SimDuration(m * MINUTE)
    }

    /// A span of whole hours.
    pub const fn hours(h: u64) -> SimDuration {
        SimDuration(h * HOUR)
    }

    /// Milliseconds.
    pub fn ms(self) -> u64 {
        self.0
    }

    /// Seconds, for reports.
    pub fn secs_f64(self) -> f64 {
        self.0 as f64 / SECOND as f64
    }

    /// Parses `1h30m`, `45s`, `250ms`, `2d`, `1.5h`. Units: ms, s, m, h, d.
    pub fn parse(text: &str) -> Result<SimDuration, String> {
        let t = text.trim();
        if t.is_empty() {
            return Err("expected a duration like 30s, 5m or 1h30m, found an empty string".into());
        }
        if t.starts_with('-') {
            return Err(format!("a duration cannot be negative: `{t}`"));
        }
        let bytes = t.as_bytes();
        let mut i = 0;
        let mut total: f64 = 0.0;
        while i < bytes.len() {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
                i += 1;
            }
            if start == i {
                return Err(format!(
                    "expected a duration like 30s, 5m or 1h30m, found `{t}` (a number must come before each unit)"
                ));
            }
            let number: f64 =
                t[start..i].parse().map_err(|_| format!("`{}` in `{t}` is not a number", &t[start..i]))?;
            let ustart = i;
            while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                i += 1;
            }
            let unit = match &t[ustart..i] {
                "ms" => 1.0,
                "s" => SECOND as f64,
                "m" => MINUTE as f64,
                "h" => HOUR as f64,
                "d" => DAY as f64,
                "" => {
                    return Err(format!(
                        "`{t}` has no unit: write it as 30s, 5m, 1h or 250ms (a bare number is ambiguous)"
                    ));
                }
                other => {
                    return Err(format!("unknown unit `{other}` in `{t}`: expected one of ms, s, m, h, d"));
                }
            };
            total += number * unit;
        }
        if !total.is_finite() || total > (u64::MAX / 2) as f64 {
            return Err(format!("duration `{t}` is too large"));
        }
        Ok(SimDuration(total.round() as u64))
    }
}

impl fmt::Display for SimDuration {
    /// Writes the shortest exact form, such as `1h30m`, `45s` or `250ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ms = self.0;
        if ms == 0 {
            return f.write_str("0s");
        }
        for (unit, name) in [(DAY, "d"), (HOUR, "h"), (MINUTE, "m"), (SECOND, "s"), (1, "ms")] {
            if ms >= unit {
                write!(f, "{}{}", ms / unit, name)?;
                ms %= unit;
            }
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for SimDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = SimDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration like 30s, 5m or 1h30m")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SimDuration, E> {
                SimDuration::parse(v).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<SimDuration, E> {
                Err(E::custom(format!("`{v}` has no unit: write a duration like {v}s or {v}m")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<SimDuration, E> {
                self.visit_i64(v as i64)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<SimDuration, E> {
                Err(E::custom(format!("`{v}` has no unit: write a duration like {v}s or {v}m")))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for SimDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A wall-clock time of day, `HH:MM` or `HH:MM:SS`, as milliseconds since midnight.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClockTime(pub u64);

impl ClockTime {
    /// Parses `07:50` or `07:50:30`.
    pub fn parse(text: &str) -> Result<ClockTime, String> {
        let parts: Vec<&str> = text.split(':').collect();
        let bad = || format!("expected a clock time like 07:50 or 07:50:30, found `{text}`");
        if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.len() != 2) {
            return Err(bad());
        }
        let num = |p: &str| p.parse::<u64>().map_err(|_| bad());
        let h = num(parts[0])?;
        let m = num(parts[1])?;
        let s = if parts.len() == 3 { num(parts[2])? } else { 0 };
        if h > 23 || m > 59 || s > 59 {
            return Err(format!("`{text}` is not a time of day (hours 00-23, minutes and seconds 00-59)"));
        }
        Ok(ClockTime(h * HOUR + m * MINUTE + s * SECOND))
    }
}

impl fmt::Display for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0 / SECOND;
        write!(f, "{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
    }
}

/// When something happens, as written in a file: a clock time `"07:50"` (the first such time at
/// or after the scenario start) or an offset from the start `"+1h49m"`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum At {
    /// A local time of day.
    Clock(ClockTime),
    /// A span after the scenario start.
    Offset(SimDuration),
}

impl At {
    /// Parses `07:50`, `07:50:30` or `+1h49m`.
    pub fn parse(text: &str) -> Result<At, String> {
        let t = text.trim();
        if let Some(rest) = t.strip_prefix('+') {
            return SimDuration::parse(rest).map(At::Offset);
        }
        ClockTime::parse(t)
            .map(At::Clock)
            .map_err(|_| format!("expected a clock time like 07:50 or an offset like +1h49m, found `{t}`"))
    }

    /// The instant this names in a run that starts at `start`.
    pub fn resolve(self, start: &StartTime) -> SimTime {
        match self {
            At::Offset(d) => SimTime(d.0),
            At::Clock(c) => {
                let origin = start.time_of_day().0;
                SimTime((c.0 + DAY - origin) % DAY)
            }
        }
    }
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            At::Clock(c) => {
                let s = c.0 / SECOND;
                if s.is_multiple_of(60) { write!(f, "{:02}:{:02}", s / 3600, (s / 60) % 60) } else { write!(f, "{c}") }
            }
            At::Offset(d) => write!(f, "+{d}"),
        }
    }
}

impl<'de> Deserialize<'de> for At {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = At;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a clock time like \"07:50\" or an offset like \"+1h49m\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<At, E> {
                At::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<At, E> {
                // YAML 1.1 reads an unquoted 07:50 as a base-60 number; say how to write it.
                Err(E::custom(format!("`{v}` is a number; write times as quoted strings like \"07:50\" or \"+1h\"")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<At, E> {
                self.visit_u64(v.unsigned_abs())
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for At {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The local civil date and time at which a scenario starts, written RFC 3339 style
/// (`2021-03-20T00:00:00+08:00`). The offset is accepted and kept for display; the model works in
/// the local time the incident documents use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartTime {
    /// The text as written, echoed in reports.
    pub text: String,
    /// The local date and time.
    pub local: jiff::civil::DateTime,
}

impl StartTime {
    /// Parses `2021-03-20T00:00:00+08:00` or `2021-03-20T00:00:00`.
    pub fn parse(text: &str) -> Result<StartTime, String> {
        let local: jiff::civil::DateTime = text
            .trim()
            .parse()
            .map_err(|e| format!("expected a start like 2021-03-20T00:00:00+08:00, found `{text}` ({e})"))?;
        Ok(StartTime { text: text.trim().to_string(), local })
    }

    /// The local time of day of the start.
    pub fn time_of_day(&self) -> ClockTime {
        let t = self.local.time();
        ClockTime(
            t.hour() as u64 * HOUR + t.minute() as u64 * MINUTE + t.second() as u64 * SECOND + t.millisecond() as u64,
        )
    }

    /// The local clock reading at `t`, as `HH:MM:SS` (wrapping at midnight).
    pub fn clock_at(&self, t: SimTime) -> ClockTime {
        ClockTime((self.time_of_day().0 + t.0) % DAY)
    }
}

impl Default for StartTime {
    fn default() -> Self {
        StartTime::parse("2000-01-01T00:00:00").expect("constant start parses")
    }
}

impl<'de> Deserialize<'de> for StartTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        StartTime::parse(&s).map_err(de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for ClockTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ClockTime::parse(&s).map_err(de::Error::custom)
    }
}

impl Serialize for ClockTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let m = self.0 / MINUTE;
        s.collect_str(&format_args!("{:02}:{:02}", m / 60, m % 60))
    }
}

impl Serialize for StartTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print() {
        assert_eq!(SimDuration::parse("1h30m").unwrap(), SimDuration(90 * MINUTE));
        assert_eq!(SimDuration::parse("250ms").unwrap(), SimDuration(250));
        assert_eq!(SimDuration::parse("1.5h").unwrap(), SimDuration(90 * MINUTE));
        assert_eq!(SimDuration::parse("2d").unwrap(), SimDuration(2 * DAY));
        assert_eq!(SimDuration(90 * MINUTE + 250).to_string(), "1h30m250ms");
        assert!(SimDuration::parse("-5m").unwrap_err().contains("negative"));
        assert!(SimDuration::parse("5").unwrap_err().contains("no unit"));
        assert!(SimDuration::parse("5y").unwrap_err().contains("unknown unit"));
        assert!(SimDuration::parse("m").is_err());
    }

    #[test]
    fn clock_and_offsets_resolve_against_the_start() {
        let start = StartTime::parse("2021-03-20T23:00:00+08:00").unwrap();
        assert_eq!(At::parse("01:49").unwrap().resolve(&start), SimTime(2 * HOUR + 49 * MINUTE));
        assert_eq!(At::parse("+10m").unwrap().resolve(&start), SimTime(10 * MINUTE));
        assert_eq!(start.clock_at(SimTime(2 * HOUR)).to_string(), "01:00:00");
        assert!(At::parse("25:00").is_err());
        assert!(ClockTime::parse("7:50").is_err());
    }
}
