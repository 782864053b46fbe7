//! Values a scenario may give as distributions instead of numbers: a fault's time (`at:
//! {around: "01:49", jitter: 10m}` or `{from: "01:40", to: "02:00"}`), a duration (`for: {min:
//! 5m, max: 30m}`), a count (`count: {min: 1, max: 3}`) and a traffic curve's scale (`scale:
//! {min: 0.8, max: 1.2}`). [`crate::Scenario::realize`] draws them from the run's seed, so a run
//! stays reproducible from (scenario, policy, seed); the engine only ever sees drawn values.

use std::fmt;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde::de::{self, IntoDeserializer};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::time::{At, SimDuration, StartTime};

/// A value, or a uniform draw between `min` and `max` (both included).
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum Drawn<T> {
    /// This value.
    Fixed(T),
    /// Drawn uniformly in `[min, max]`.
    Range {
        /// Lowest.
        min: T,
        /// Highest.
        max: T,
    },
}

impl<T: Copy> Drawn<T> {
    /// The value of a drawn (realized) scenario. Before drawing, a range gives its `min`: the
    /// engine never sees one, since `Sim::new` realizes the scenario first.
    pub fn value(&self) -> T {
        match *self {
            Drawn::Fixed(v) => v,
            Drawn::Range { min, .. } => min,
        }
    }

    /// Whether it is a distribution.
    pub fn is_drawn(&self) -> bool {
        matches!(self, Drawn::Range { .. })
    }
}

impl<T> From<T> for Drawn<T> {
    fn from(v: T) -> Self {
        Drawn::Fixed(v)
    }
}

/// Drawing one value of a kind from a stream.
pub trait Sample: Copy + PartialOrd {
    /// A uniform draw in `[lo, hi]`.
    fn sample(lo: Self, hi: Self, rng: &mut ChaCha8Rng) -> Self;
}

impl Sample for SimDuration {
    fn sample(lo: Self, hi: Self, rng: &mut ChaCha8Rng) -> Self {
        SimDuration(crate::rng::uniform_ms(rng, lo.0, hi.0))
    }
}

impl Sample for u32 {
    fn sample(lo: Self, hi: Self, rng: &mut ChaCha8Rng) -> Self {
        if hi <= lo { lo } else { rng.random_range(lo..=hi) }
    }
}

impl Sample for f64 {
    fn sample(lo: Self, hi: Self, rng: &mut ChaCha8Rng) -> Self {
        // An integer draw mapped onto the range: the same bits on every platform.
        let u = (rng.random_range(0..=(1u64 << 53)) as f64) / ((1u64 << 53) as f64);
        if hi <= lo { lo } else { lo + (hi - lo) * u }
    }
}

impl<T: Sample> Drawn<T> {
    /// The drawn value.
    pub fn draw(&self, rng: &mut ChaCha8Rng) -> T {
        match *self {
            Drawn::Fixed(v) => v,
            Drawn::Range { min, max } => T::sample(min, max, rng),
        }
    }
}

impl<T: Serialize> Serialize for Drawn<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            Drawn::Fixed(v) => v.serialize(s),
            Drawn::Range { min, max } => {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("min", min)?;
                m.serialize_entry("max", max)?;
                m.end()
            }
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Drawn<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> de::Visitor<'de> for V<T> {
            type Value = Drawn<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value, or a distribution `{min: ..., max: ...}`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Drawn<T>, E> {
                T::deserialize(v.into_deserializer()).map(Drawn::Fixed)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Drawn<T>, E> {
                T::deserialize(v.into_deserializer()).map(Drawn::Fixed)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Drawn<T>, E> {
                T::deserialize(v.into_deserializer()).map(Drawn::Fixed)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Drawn<T>, E> {
                T::deserialize(v.into_deserializer()).map(Drawn::Fixed)
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut m: A) -> Result<Drawn<T>, A::Error> {
                let (mut min, mut max) = (None, None);
                while let Some(k) = m.next_key::<String>()? {
                    match k.as_str() {
                        "min" if min.is_none() => min = Some(m.next_value()?),
                        "max" if max.is_none() => max = Some(m.next_value()?),
                        "min" | "max" => return Err(de::Error::duplicate_field("min or max")),
                        other => return Err(de::Error::unknown_field(other, &["min", "max"])),
                    }
                }
                match (min, max) {
                    (Some(min), Some(max)) => Ok(Drawn::Range { min, max }),
                    _ => Err(de::Error::custom("a distribution needs both `min` and `max`")),
                }
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

impl<T: schemars::JsonSchema> schemars::JsonSchema for Drawn<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        format!("Drawn_{}", T::schema_name()).into()
    }

    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let t = g.subschema_for::<T>();
        schemars::json_schema!({
            "description": "A value, or `{min, max}`: drawn uniformly per seed.",
            "oneOf": [t, {"type": "object", "required": ["min", "max"], "additionalProperties": false,
                          "properties": {"min": t, "max": t}}]
        })
    }
}

/// When a fault happens: a time, or a time drawn around one or in a window.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum TimeDraw {
    /// `"01:49"` or `"+1h"`.
    Fixed(At),
    /// `{around: "01:49", jitter: 10m}`: uniform within `jitter` either side (never before the
    /// start).
    Around {
        /// The middle.
        around: At,
        /// How far either side.
        jitter: SimDuration,
    },
    /// `{from: "01:40", to: "02:00"}`: uniform in the window.
    Window {
        /// Earliest.
        from: At,
        /// Latest.
        to: At,
    },
}

impl TimeDraw {
    /// The time of a drawn (realized) scenario; before drawing, the middle or the window's start.
    pub fn value(&self) -> At {
        match *self {
            TimeDraw::Fixed(a) | TimeDraw::Around { around: a, .. } | TimeDraw::Window { from: a, .. } => a,
        }
    }

    /// Whether it is a distribution.
    pub fn is_drawn(&self) -> bool {
        !matches!(self, TimeDraw::Fixed(_))
    }

    /// The earliest and latest instants it can name in a run starting at `start`.
    pub fn bounds(&self, start: &StartTime) -> (crate::SimTime, crate::SimTime) {
        match *self {
            TimeDraw::Fixed(a) => (a.resolve(start), a.resolve(start)),
            TimeDraw::Around { around, jitter } => {
                let c = around.resolve(start);
                (crate::SimTime(c.0.saturating_sub(jitter.0)), crate::SimTime(c.0.saturating_add(jitter.0)))
            }
            TimeDraw::Window { from, to } => (from.resolve(start), to.resolve(start)),
        }
    }

    /// The drawn time, as an offset from the start.
    pub fn draw(&self, start: &StartTime, rng: &mut ChaCha8Rng) -> At {
        match self {
            TimeDraw::Fixed(a) => *a,
            _ => {
                let (lo, hi) = self.bounds(start);
                At::Offset(SimDuration(crate::rng::uniform_ms(rng, lo.0, hi.0)))
            }
        }
    }
}

impl From<At> for TimeDraw {
    fn from(a: At) -> Self {
        TimeDraw::Fixed(a)
    }
}

impl fmt::Display for TimeDraw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimeDraw::Fixed(a) => write!(f, "{a}"),
            TimeDraw::Around { around, jitter } => write!(f, "{around} ± {jitter}"),
            TimeDraw::Window { from, to } => write!(f, "{from} to {to}"),
        }
    }
}

impl Serialize for TimeDraw {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            TimeDraw::Fixed(a) => a.serialize(s),
            TimeDraw::Around { around, jitter } => {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("around", around)?;
                m.serialize_entry("jitter", jitter)?;
                m.end()
            }
            TimeDraw::Window { from, to } => {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("from", from)?;
                m.serialize_entry("to", to)?;
                m.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for TimeDraw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = TimeDraw;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a time (`07:50`, `+1h`), `{around: TIME, jitter: DURATION}` or `{from: TIME, to: TIME}`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TimeDraw, E> {
                At::parse(v).map(TimeDraw::Fixed).map_err(E::custom)
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut m: A) -> Result<TimeDraw, A::Error> {
                let (mut around, mut jitter, mut from, mut to) = (None, None, None, None);
                while let Some(k) = m.next_key::<String>()? {
                    match k.as_str() {
                        "around" => around = Some(m.next_value::<At>()?),
                        "jitter" => jitter = Some(m.next_value::<SimDuration>()?),
                        "from" => from = Some(m.next_value::<At>()?),
                        "to" => to = Some(m.next_value::<At>()?),
                        other => return Err(de::Error::unknown_field(other, &["around", "jitter", "from", "to"])),
                    }
                }
                match (around, jitter, from, to) {
                    (Some(around), Some(jitter), None, None) => Ok(TimeDraw::Around { around, jitter }),
                    (None, None, Some(from), Some(to)) => Ok(TimeDraw::Window { from, to }),
                    _ => Err(de::Error::custom(
                        "a drawn time is `{around: TIME, jitter: DURATION}` or `{from: TIME, to: TIME}`",
                    )),
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl schemars::JsonSchema for TimeDraw {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "TimeDraw".into()
    }

    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let at = g.subschema_for::<At>();
        let d = g.subschema_for::<SimDuration>();
        schemars::json_schema!({
            "description": "A time, or drawn per seed: `{around, jitter}` or `{from, to}`.",
            "oneOf": [at,
                {"type": "object", "required": ["around", "jitter"], "additionalProperties": false,
                 "properties": {"around": at, "jitter": d}},
                {"type": "object", "required": ["from", "to"], "additionalProperties": false,
                 "properties": {"from": at, "to": at}}]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_stay_in_their_range_and_repeat_with_the_seed() {
        let d: Drawn<SimDuration> = Drawn::Range { min: SimDuration::mins(5), max: SimDuration::mins(30) };
        let mut a = crate::rng::keyed_stream(7, 1);
        let mut b = crate::rng::keyed_stream(7, 1);
        for _ in 0..100 {
            let x = d.draw(&mut a);
            assert!(x >= SimDuration::mins(5) && x <= SimDuration::mins(30));
            assert_eq!(x, d.draw(&mut b));
        }
        let s: Drawn<f64> = Drawn::Range { min: 0.8, max: 1.2 };
        let v = s.draw(&mut a);
        assert!((0.8..=1.2).contains(&v));
        assert_eq!(Drawn::Fixed(3u32).draw(&mut a), 3);
    }
}
