//! Lists whose entries are "exactly one of these kinds", written as a one-key map:
//!
//! ```yaml
//! faults:
//!   - configMapUpdate: {at: "00:30", configMap: blog-api-appsettings}
//!   - containerCrash: {at: "01:49", selector: {app: blog-api}}
//! ```
//!
//! serde's derived enums expect YAML tags (`!configMapUpdate`) from serde_yaml 0.9, which people
//! do not write; this deserializer reads the map form instead and keeps serde's error locations
//! (the value is read straight from the document, never buffered).

/// Declares an enum of newtype variants and a `Deserialize` that reads `{variantKey: value}`.
/// Exported so that the harness's policy files read their action lists the same way.
#[macro_export]
macro_rules! one_key_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident($ty:ty) = $key:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(serde::Serialize)]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $key)] $variant($ty), )+
        }

        impl $name {
            /// The keys this list accepts.
            pub const KEYS: &'static [&'static str] = &[$($key),+];

            /// The key this entry was written with.
            pub fn key(&self) -> &'static str {
                match self { $( $name::$variant(_) => $key, )+ }
            }
        }

        impl $crate::__schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(generator: &mut $crate::__schemars::SchemaGenerator) -> $crate::__schemars::Schema {
                // Exactly one of the keys, each with its own settings.
                let one_of: Vec<$crate::__schemars::Schema> = vec![$(
                    {
                        let inner = generator.subschema_for::<$ty>();
                        $crate::__schemars::json_schema!({
                            "type": "object",
                            "required": [$key],
                            "properties": { $key: inner },
                            "additionalProperties": false,
                        })
                    }
                ),+];
                $crate::__schemars::json_schema!({ "oneOf": one_of })
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> serde::de::Visitor<'de> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        write!(f, "a map with exactly one of the keys {}", $name::KEYS.join(", "))
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<$name, A::Error> {
                        use serde::de::Error;
                        let key: String = m.next_key()?.ok_or_else(|| A::Error::custom(format!(
                            "empty entry: expected one of the keys {}", $name::KEYS.join(", "))))?;
                        let value = match key.as_str() {
                            $( $key => $name::$variant(m.next_value()?), )+
                            other => return Err(A::Error::unknown_variant(other, $name::KEYS)),
                        };
                        if let Some(extra) = m.next_key::<String>()? {
                            return Err(A::Error::custom(format!(
                                "unexpected key `{extra}` beside `{key}`: each entry holds exactly one of {}; \
                                 put its settings inside `{key}`",
                                $name::KEYS.join(", "))));
                        }
                        Ok(value)
                    }
                }
                d.deserialize_map(V)
            }
        }
    };
}

pub(crate) use crate::one_key_enum;
