//! Routing derived from a family's message enum, and decoding bodies into it.
//!
//! - [`message_types`] asks serde which variant names an enum accepts, by deserializing it
//!   from a probe that offers an unknown `type` and reads the list of expected variants
//!   out of serde's "unknown variant" error.
//! - [`decode`] turns a raw body into the enum. For internally tagged enums
//!   (`tag = "type"`) serde reads the body as usual; for externally tagged ones the
//!   runtime supplies the variant name from the body's `type` (already parsed in the
//!   header) and the whole body as the variant's content, which keeps borrowed fields
//!   such as `&RawValue` working.

use std::fmt;

use serde::de::value::{MapDeserializer, StrDeserializer};
use serde::de::{self, DeserializeSeed, EnumAccess, IntoDeserializer, VariantAccess, Visitor};
use serde::{forward_to_deserialize_any, Deserialize, Deserializer};

/// A `type` no family uses, offered by the probe.
const PROBE_TYPE: &str = "\u{0}glomers-routing-probe";

/// The message types (variant names, as renamed) of the enum `M`, or why they cannot be
/// derived (not an enum, or an enum with a catch-all variant).
pub fn message_types<M: Deserialize<'static>>() -> Result<&'static [&'static str], String> {
    match M::deserialize(Probe) {
        Err(ProbeError::Variants(names)) => Ok(names),
        Err(ProbeError::Other(e)) => Err(format!(
            "its message type is not an enum serde can name the variants of ({e})"
        )),
        Ok(_) => Err(
            "its message enum accepted an unknown `type`: remove the catch-all (#[serde(other)]) \
             variant, routing needs every type named"
                .to_string(),
        ),
    }
}

/// Decodes `body` (a JSON object whose `type` is `msg_type`) into the enum `M`.
pub fn decode<'de, M: Deserialize<'de>>(
    msg_type: &str,
    body: &'de str,
) -> Result<M, serde_json::Error> {
    M::deserialize(Body { msg_type, body })
}

#[derive(Debug)]
enum ProbeError {
    Variants(&'static [&'static str]),
    Other(String),
}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProbeError::Variants(v) => write!(f, "variants {v:?}"),
            ProbeError::Other(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for ProbeError {}

impl de::Error for ProbeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ProbeError::Other(msg.to_string())
    }

    fn unknown_variant(_variant: &str, expected: &'static [&'static str]) -> Self {
        ProbeError::Variants(expected)
    }
}

/// Offers a body `{"type": PROBE_TYPE}` to serde, and an enum access to externally tagged
/// enums, which name their variants directly.
struct Probe;

impl<'de> Deserializer<'de> for Probe {
    type Error = ProbeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        visitor.visit_map(MapDeserializer::new(std::iter::once(("type", PROBE_TYPE))))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, ProbeError> {
        Err(ProbeError::Variants(variants))
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}

/// A body and its already-parsed `type`.
struct Body<'t, 'de> {
    msg_type: &'t str,
    body: &'de str,
}

impl<'de> Deserializer<'de> for Body<'_, 'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        serde_json::Deserializer::from_str(self.body).deserialize_any(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_enum(self)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}

impl<'de> EnumAccess<'de> for Body<'_, 'de> {
    type Error = serde_json::Error;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self), Self::Error> {
        let name: StrDeserializer<serde_json::Error> = self.msg_type.into_deserializer();
        Ok((seed.deserialize(name)?, self))
    }
}

impl<'de> VariantAccess<'de> for Body<'_, 'de> {
    type Error = serde_json::Error;

    fn unit_variant(self) -> Result<(), Self::Error> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, Self::Error> {
        seed.deserialize(&mut serde_json::Deserializer::from_str(self.body))
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        serde_json::Deserializer::from_str(self.body).deserialize_tuple(len, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        serde_json::Deserializer::from_str(self.body).deserialize_struct("", fields, visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;

    #[derive(Deserialize, Debug, PartialEq)]
    #[serde(tag = "type", rename_all = "snake_case")]
    enum Tagged {
        Read,
        Add { delta: i64 },
        TopologyUpdate {},
    }

    #[derive(Deserialize, Debug)]
    #[serde(rename_all = "snake_case")]
    enum External<'a> {
        Echo(EchoBody<'a>),
        Read,
        Cas {
            from: i64,
            to: i64,
        },
        #[serde(rename = "kv_get")]
        Get(#[serde(borrow)] &'a RawValue),
    }

    #[derive(Deserialize, Debug)]
    struct EchoBody<'a> {
        #[serde(borrow)]
        echo: &'a RawValue,
    }

    #[test]
    fn both_enum_representations_name_their_types() {
        assert_eq!(
            message_types::<Tagged>().unwrap(),
            &["read", "add", "topology_update"]
        );
        assert_eq!(
            message_types::<External>().unwrap(),
            &["echo", "read", "cas", "kv_get"]
        );
    }

    #[test]
    fn structs_and_catch_alls_cannot_be_routed() {
        #[derive(Deserialize)]
        #[allow(dead_code)]
        struct NotAnEnum {
            delta: i64,
        }
        let err = message_types::<NotAnEnum>().unwrap_err();
        assert!(err.contains("not an enum"), "{err}");
        #[derive(Deserialize)]
        #[serde(tag = "type")]
        #[allow(dead_code)]
        enum CatchAll {
            A,
            #[serde(other)]
            Other,
        }
        let err = message_types::<CatchAll>().unwrap_err();
        assert!(err.contains("catch-all"), "{err}");
    }

    #[test]
    fn tagged_bodies_decode_as_serde_reads_them() {
        let m: Tagged = decode("add", r#"{"type":"add","msg_id":3,"delta":-2}"#).unwrap();
        assert_eq!(m, Tagged::Add { delta: -2 });
        let m: Tagged = decode("read", r#"{"type":"read"}"#).unwrap();
        assert_eq!(m, Tagged::Read);
        let err = decode::<Tagged>("add", r#"{"type":"add","delta":"x"}"#).unwrap_err();
        assert!(err.to_string().contains("invalid type"), "{err}");
    }

    #[test]
    fn external_bodies_take_the_variant_from_type_and_borrow_raw_fields() {
        let body = r#"{"type":"echo","msg_id":1,"echo":{"deep":[1,2]}}"#;
        match decode::<External>("echo", body).unwrap() {
            External::Echo(e) => assert_eq!(e.echo.get(), r#"{"deep":[1,2]}"#),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            decode::<External>("read", r#"{"type":"read","junk":1}"#).unwrap(),
            External::Read
        ));
        assert!(matches!(
            decode::<External>("cas", r#"{"type":"cas","from":1,"to":2}"#).unwrap(),
            External::Cas { from: 1, to: 2 }
        ));
        match decode::<External>("kv_get", r#"{"type":"kv_get","k":1}"#).unwrap() {
            External::Get(raw) => assert_eq!(raw.get(), r#"{"type":"kv_get","k":1}"#),
            other => panic!("{other:?}"),
        }
        let err = decode::<External>("cas", r#"{"type":"cas","from":1}"#).unwrap_err();
        assert!(err.to_string().contains("missing field `to`"), "{err}");
    }
}
