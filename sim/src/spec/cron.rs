//! Crontab expressions for scheduled automation (`30 7 * * 1-5`).
//!
//! Written here rather than taken from a crate: the maintained cron crates are built on chrono
//! (`cron`, `croner`) or read the 6/7-field Quartz format with seconds and years (`jiff-cron`),
//! while the schedules operators paste are 5-field crontab lines, and the engine needs only "every
//! firing between two civil times", which is a few lines over `jiff`'s calendar.
//!
//! Semantics are vixie cron's: minute (0-59), hour (0-23), day of month (1-31), month (1-12 or
//! `jan`-`dec`), day of week (0-7, 0 and 7 both Sunday, or `sun`-`sat`); each field is `*`, a
//! value, a range `a-b`, a step `*/n` or `a-b/n`, or a comma list of those. When both day of
//! month and day of week are restricted, a day matches if either does.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

use crate::time::{SimTime, StartTime};

/// A parsed 5-field crontab expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cron {
    /// The text as written, for errors and reports.
    pub text: String,
    minutes: u64,
    hours: u32,
    days_of_month: u32,
    months: u16,
    days_of_week: u8,
    dom_restricted: bool,
    dow_restricted: bool,
}

const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// Parses one field into a bit set of the values in `lo..=hi`.
fn field(text: &str, what: &str, lo: u32, hi: u32, names: &[&str], names_from: u32) -> Result<u64, String> {
    let value = |s: &str| -> Result<u32, String> {
        let lower = s.to_ascii_lowercase();
        if let Some(i) = names.iter().position(|n| *n == lower) {
            return Ok(names_from + i as u32);
        }
        let v: u32 = s.parse().map_err(|_| format!("`{s}` is not a number in the {what} field"))?;
        if v < lo || v > hi {
            return Err(format!("{v} is outside {lo}-{hi} in the {what} field"));
        }
        Ok(v)
    };
    let mut bits = 0u64;
    for part in text.split(',') {
        if part.is_empty() {
            return Err(format!("empty list item in the {what} field"));
        }
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s.parse().map_err(|_| format!("`{s}` is not a step in the {what} field"))?;
                if step == 0 {
                    return Err(format!("a step of 0 in the {what} field never advances"));
                }
                (r, step)
            }
            None => (part, 1),
        };
        let (a, b) = if range == "*" {
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a)?, value(b)?)
        } else {
            let a = value(range)?;
            // `a/n` means from `a` to the end of the range, as vixie cron reads it.
            (a, if step > 1 { hi } else { a })
        };
        if a > b {
            return Err(format!("range {a}-{b} runs backwards in the {what} field"));
        }
        let mut v = a;
        while v <= b {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok(bits)
}

impl Cron {
    /// Parses a crontab line's five time fields.
    pub fn parse(text: &str) -> Result<Cron, String> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!(
                "expected 5 crontab fields (minute hour day-of-month month day-of-week), found {} in `{text}`",
                fields.len()
            ));
        }
        let err = |e: String| format!("`{text}`: {e}");
        let minutes = field(fields[0], "minute", 0, 59, &[], 0).map_err(err)?;
        let hours = field(fields[1], "hour", 0, 23, &[], 0).map_err(err)? as u32;
        let days_of_month = field(fields[2], "day-of-month", 1, 31, &[], 0).map_err(err)? as u32;
        let months = field(fields[3], "month", 1, 12, &MONTHS, 1).map_err(err)? as u16;
        let mut dow = field(fields[4], "day-of-week", 0, 7, &DAYS, 0).map_err(err)?;
        if dow & (1 << 7) != 0 {
            dow = (dow | 1) & !(1 << 7);
        }
        Ok(Cron {
            text: text.trim().to_string(),
            minutes,
            hours,
            days_of_month,
            months,
            days_of_week: dow as u8,
            dom_restricted: fields[2] != "*",
            dow_restricted: fields[4] != "*",
        })
    }

    /// Whether the schedule fires on this civil date.
    fn matches_day(&self, d: jiff::civil::Date) -> bool {
        if self.months & (1 << d.month()) == 0 {
            return false;
        }
        let dom = self.days_of_month & (1 << d.day()) != 0;
        let dow = self.days_of_week & (1 << d.weekday().to_sunday_zero_offset()) != 0;
        match (self.dom_restricted, self.dow_restricted) {
            (true, true) => dom || dow,
            (true, false) => dom,
            (false, true) => dow,
            (false, false) => true,
        }
    }

    /// Every firing in `[0, end)` of a run that starts at `start`, in order.
    pub fn firings(&self, start: &StartTime, end: SimTime) -> Vec<SimTime> {
        let mut out = Vec::new();
        let mut day = start.local.date();
        loop {
            if self.matches_day(day) {
                for h in (0..24).filter(|h| self.hours & (1 << h) != 0) {
                    for m in (0..60).filter(|m| self.minutes & (1 << m) != 0) {
                        let at = day.at(h as i8, m as i8, 0, 0);
                        let since = at.duration_since(start.local);
                        if since.is_negative() {
                            continue;
                        }
                        let ms = since.as_millis() as u64;
                        if ms >= end.0 {
                            return out;
                        }
                        out.push(SimTime(ms));
                    }
                }
            }
            match day.tomorrow() {
                Ok(next) if next.at(0, 0, 0, 0).duration_since(start.local).as_millis() < end.0 as i128 => day = next,
                _ => return out,
            }
        }
    }
}

impl fmt::Display for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Cron {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Cron::parse(&s).map_err(de::Error::custom)
    }
}

impl Serialize for Cron {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{HOUR, MINUTE};

    #[test]
    fn weekday_mornings_fire_on_weekdays_only() {
        // 2020-01-02 is a Thursday.
        let start = StartTime::parse("2020-01-02T00:00:00+08:00").unwrap();
        let c = Cron::parse("30 7 * * 1-5").unwrap();
        let f = c.firings(&start, SimTime(4 * 24 * HOUR));
        // Thu, Fri, (Sat, Sun skipped) ... the run covers Thu-Sun.
        assert_eq!(f, vec![SimTime(7 * HOUR + 30 * MINUTE), SimTime(24 * HOUR + 7 * HOUR + 30 * MINUTE)]);
    }

    #[test]
    fn steps_lists_names_and_sunday_as_seven() {
        let c = Cron::parse("*/20 9-10 * jan sun,7").unwrap();
        let start = StartTime::parse("2020-01-05T00:00:00").unwrap(); // a Sunday
        let f = c.firings(&start, SimTime(24 * HOUR));
        assert_eq!(f.len(), 6);
        assert_eq!(f[0], SimTime(9 * HOUR));
        assert_eq!(f[5], SimTime(10 * HOUR + 40 * MINUTE));
    }

    #[test]
    fn day_of_month_or_day_of_week() {
        // The 3rd of the month OR a Monday: 2020-01-03 (Fri) and 2020-01-06 (Mon) fire.
        let c = Cron::parse("0 0 3 * mon").unwrap();
        let start = StartTime::parse("2020-01-01T12:00:00").unwrap();
        let f = c.firings(&start, SimTime(7 * 24 * HOUR));
        assert_eq!(f, vec![SimTime(36 * HOUR), SimTime(108 * HOUR)]);
    }

    #[test]
    fn malformed_expressions_say_what_is_wrong() {
        assert!(Cron::parse("30 7 * *").unwrap_err().contains("expected 5 crontab fields"));
        assert!(Cron::parse("61 7 * * *").unwrap_err().contains("outside 0-59"));
        assert!(Cron::parse("0 7 * * mon-xyz").unwrap_err().contains("not a number"));
        assert!(Cron::parse("*/0 * * * *").unwrap_err().contains("never advances"));
        assert!(Cron::parse("0 9-7 * * *").unwrap_err().contains("backwards"));
    }
}
