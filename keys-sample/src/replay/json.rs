//! Typed reads from a vector line's JSON. Every failure names the field by its path
//! (`key.meter_pan`, `expect.digits[1]`); unknown fields are ignored (held-back vectors may carry
//! informative extras such as `note`).

use core::fmt;
use core::str::FromStr;

use serde_json::{Map, Value};

use super::fault::Fault;
use crate::hex;

/// The JSON type of `v`, as error messages name it.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A JSON object and its path in the line.
#[derive(Debug, Clone)]
pub(crate) struct Obj<'a> {
    /// `""` for the line itself, else the path with a trailing dot (`"key."`).
    prefix: String,
    map: &'a Map<String, Value>,
}

impl<'a> Obj<'a> {
    /// The line's top-level object.
    pub(crate) fn root(value: &'a Value) -> Result<Self, Fault> {
        match value {
            Value::Object(map) => Ok(Self {
                prefix: String::new(),
                map,
            }),
            other => Err(Fault::NotAnObject {
                got: type_name(other),
            }),
        }
    }

    /// The path of field `name` of this object.
    pub(crate) fn path(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// The path of this object itself (`key`), or `line` for the top level.
    pub(crate) fn own_path(&self) -> &str {
        match self.prefix.strip_suffix('.') {
            Some(p) => p,
            None => "line",
        }
    }

    /// True if the field is present (whatever its value).
    pub(crate) fn has(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    fn require(&self, name: &str) -> Result<&'a Value, Fault> {
        self.map.get(name).ok_or_else(|| Fault::Missing {
            field: self.path(name),
        })
    }

    fn wrong_type(&self, name: &str, expected: &'static str, got: &Value) -> Fault {
        Fault::WrongType {
            field: self.path(name),
            expected,
            got: type_name(got),
        }
    }

    /// A refused value of field `name`.
    pub(crate) fn invalid(&self, name: &str, reason: impl fmt::Display) -> Fault {
        Fault::invalid(self.path(name), reason)
    }

    /// A required string.
    pub(crate) fn str(&self, name: &str) -> Result<&'a str, Fault> {
        match self.require(name)? {
            Value::String(s) => Ok(s),
            other => Err(self.wrong_type(name, "a string", other)),
        }
    }

    /// A required boolean.
    pub(crate) fn bool(&self, name: &str) -> Result<bool, Fault> {
        match self.require(name)? {
            Value::Bool(b) => Ok(*b),
            other => Err(self.wrong_type(name, "a boolean", other)),
        }
    }

    /// An optional boolean.
    pub(crate) fn opt_bool(&self, name: &str) -> Result<Option<bool>, Fault> {
        if self.has(name) {
            self.bool(name).map(Some)
        } else {
            Ok(None)
        }
    }

    /// A required integer in `0..=max`.
    pub(crate) fn uint(&self, name: &str, max: u64) -> Result<u64, Fault> {
        let value = self.require(name)?;
        let Value::Number(n) = value else {
            return Err(self.wrong_type(name, "an integer", value));
        };
        match n.as_u64() {
            Some(v) if v <= max => Ok(v),
            _ if n.is_i64() || n.is_u64() => {
                Err(self.invalid(name, format_args!("expected an integer 0..={max}, got {n}")))
            }
            _ => Err(self.wrong_type(name, "an integer", value)),
        }
    }

    /// An optional integer in `0..=max`.
    pub(crate) fn opt_uint(&self, name: &str, max: u64) -> Result<Option<u64>, Fault> {
        if self.has(name) {
            self.uint(name, max).map(Some)
        } else {
            Ok(None)
        }
    }

    /// A required integer that fits a `u8`.
    pub(crate) fn u8(&self, name: &str) -> Result<u8, Fault> {
        let v = self.uint(name, u64::from(u8::MAX))?;
        u8::try_from(v).map_err(|e| self.invalid(name, e))
    }

    /// A required integer that fits a `u16`.
    pub(crate) fn u16(&self, name: &str) -> Result<u16, Fault> {
        let v = self.uint(name, u64::from(u16::MAX))?;
        u16::try_from(v).map_err(|e| self.invalid(name, e))
    }

    /// A required nested object.
    pub(crate) fn obj(&self, name: &str) -> Result<Obj<'a>, Fault> {
        match self.require(name)? {
            Value::Object(map) => Ok(Obj {
                prefix: format!("{}{name}.", self.prefix),
                map,
            }),
            other => Err(self.wrong_type(name, "an object", other)),
        }
    }

    /// A required array of strings.
    pub(crate) fn strings(&self, name: &str) -> Result<Vec<&'a str>, Fault> {
        let items = match self.require(name)? {
            Value::Array(items) => items,
            other => return Err(self.wrong_type(name, "an array of strings", other)),
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(s) => Ok(s.as_str()),
                other => Err(Fault::WrongType {
                    field: format!("{}[{i}]", self.path(name)),
                    expected: "a string",
                    got: type_name(other),
                }),
            })
            .collect()
    }

    /// A required array of objects (each with its indexed path, e.g. `steps[2].`).
    pub(crate) fn objs(&self, name: &str) -> Result<Vec<Obj<'a>>, Fault> {
        let items = match self.require(name)? {
            Value::Array(items) => items,
            other => return Err(self.wrong_type(name, "an array of objects", other)),
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::Object(map) => Ok(Obj {
                    prefix: format!("{}[{i}].", self.path(name)),
                    map,
                }),
                other => Err(Fault::WrongType {
                    field: format!("{}[{i}]", self.path(name)),
                    expected: "an object",
                    got: type_name(other),
                }),
            })
            .collect()
    }

    /// A required array of integers in `0..=max`.
    pub(crate) fn uints(&self, name: &str, max: u64) -> Result<Vec<u64>, Fault> {
        let items = match self.require(name)? {
            Value::Array(items) => items,
            other => return Err(self.wrong_type(name, "an array of integers", other)),
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| match item.as_u64() {
                Some(v) if v <= max => Ok(v),
                _ => Err(Fault::invalid(
                    format!("{}[{i}]", self.path(name)),
                    format_args!("expected an integer 0..={max}, got {item}"),
                )),
            })
            .collect()
    }

    /// A required string parsed with `FromStr`; the parser's message is the reason.
    pub(crate) fn parse<T>(&self, name: &str) -> Result<T, Fault>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        self.str(name)?
            .parse()
            .map_err(|e: T::Err| self.invalid(name, e))
    }

    /// An optional string parsed with `FromStr`.
    pub(crate) fn opt_parse<T>(&self, name: &str) -> Result<Option<T>, Fault>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        if self.has(name) {
            self.parse(name).map(Some)
        } else {
            Ok(None)
        }
    }

    /// A required hex string of exactly `digits` digits (at most 16).
    pub(crate) fn hex_u64(&self, name: &str, digits: usize) -> Result<u64, Fault> {
        hex::parse_u64(self.str(name)?, digits).map_err(|e| self.invalid(name, e))
    }

    /// An optional hex string of exactly `digits` digits.
    pub(crate) fn opt_hex_u64(&self, name: &str, digits: usize) -> Result<Option<u64>, Fault> {
        if self.has(name) {
            self.hex_u64(name, digits).map(Some)
        } else {
            Ok(None)
        }
    }
}
