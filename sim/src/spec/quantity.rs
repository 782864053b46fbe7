//! Resource quantities written the Kubernetes way: CPU as `500m` or `2`, memory as `512Mi`,
//! `16Gi` or plain bytes. Only the suffixes people use for requests and node sizes are accepted.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// CPU in millicores.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cpu(pub u64);

/// Memory in bytes.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Memory(pub u64);

impl Cpu {
    /// Parses `500m`, `2`, `0.5`.
    pub fn parse(text: &str) -> Result<Cpu, String> {
        let t = text.trim();
        if t.starts_with('-') {
            return Err(format!("a CPU quantity cannot be negative: `{t}`"));
        }
        let (num, scale) = match t.strip_suffix('m') {
            Some(n) => (n, 1.0),
            None => (t, 1000.0),
        };
        let v: f64 = num.parse().map_err(|_| format!("expected a CPU quantity like 500m or 2, found `{t}`"))?;
        let milli = v * scale;
        if !milli.is_finite() || milli > 1e12 {
            return Err(format!("CPU quantity `{t}` is too large"));
        }
        Ok(Cpu(milli.round() as u64))
    }
}

impl Memory {
    /// Parses `512Mi`, `16Gi`, `1G`, `1000000`.
    pub fn parse(text: &str) -> Result<Memory, String> {
        let t = text.trim();
        if t.starts_with('-') {
            return Err(format!("a memory quantity cannot be negative: `{t}`"));
        }
        const SUFFIXES: [(&str, f64); 8] = [
            ("Ki", 1024.0),
            ("Mi", 1048576.0),
            ("Gi", 1073741824.0),
            ("Ti", 1099511627776.0),
            ("k", 1e3),
            ("M", 1e6),
            ("G", 1e9),
            ("T", 1e12),
        ];
        let (num, scale) = SUFFIXES.iter().find_map(|(s, f)| t.strip_suffix(s).map(|n| (n, *f))).unwrap_or((t, 1.0));
        let v: f64 = num.parse().map_err(|_| format!("expected a memory quantity like 512Mi or 16Gi, found `{t}`"))?;
        let bytes = v * scale;
        if !bytes.is_finite() || bytes > 1.2e18 {
            return Err(format!("memory quantity `{t}` is too large"));
        }
        Ok(Memory(bytes.round() as u64))
    }
}

impl fmt::Display for Cpu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_multiple_of(1000) { write!(f, "{}", self.0 / 1000) } else { write!(f, "{}m", self.0) }
    }
}

impl fmt::Display for Memory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const GI: u64 = 1 << 30;
        const MI: u64 = 1 << 20;
        if self.0.is_multiple_of(GI) {
            write!(f, "{}Gi", self.0 / GI)
        } else if self.0.is_multiple_of(MI) {
            write!(f, "{}Mi", self.0 / MI)
        } else {
            write!(f, "{}", self.0)
        }
    }
}

macro_rules! quantity_serde {
    ($ty:ident, $what:literal) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl Visitor<'_> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($what)
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$ty, E> {
                        $ty::parse(v).map_err(E::custom)
                    }
                    fn visit_u64<E: de::Error>(self, v: u64) -> Result<$ty, E> {
                        $ty::parse(&v.to_string()).map_err(E::custom)
                    }
                    fn visit_i64<E: de::Error>(self, v: i64) -> Result<$ty, E> {
                        $ty::parse(&v.to_string()).map_err(E::custom)
                    }
                    fn visit_f64<E: de::Error>(self, v: f64) -> Result<$ty, E> {
                        $ty::parse(&v.to_string()).map_err(E::custom)
                    }
                }
                d.deserialize_any(V)
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
    };
}

quantity_serde!(Cpu, "a CPU quantity like 500m or 2");
quantity_serde!(Memory, "a memory quantity like 512Mi or 16Gi");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_parse() {
        assert_eq!(Cpu::parse("500m").unwrap(), Cpu(500));
        assert_eq!(Cpu::parse("2").unwrap(), Cpu(2000));
        assert_eq!(Cpu::parse("0.25").unwrap(), Cpu(250));
        assert!(Cpu::parse("-1").is_err());
        assert!(Cpu::parse("two").is_err());
        assert_eq!(Memory::parse("512Mi").unwrap(), Memory(512 << 20));
        assert_eq!(Memory::parse("16Gi").unwrap(), Memory(16 << 30));
        assert_eq!(Memory::parse("1G").unwrap(), Memory(1_000_000_000));
        assert_eq!(Memory(16 << 30).to_string(), "16Gi");
        assert!(Memory::parse("12Xi").is_err());
    }
}
