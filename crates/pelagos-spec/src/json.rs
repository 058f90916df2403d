//! The one way pelagos decodes OCI JSON into typed values.
//!
//! Every OCI type's `Deserialize` is generic over the deserializer, and each distinct
//! deserializer (a byte slice, a `serde_json::Value`, the same wrapped in
//! `serde_path_to_error`) stamps out another copy of the whole tree of code. The OCI
//! runtime is a short-lived process whose peak RSS is mostly its own text, so everything
//! goes through [`decode`] (a tracked byte-slice deserializer) and values already parsed
//! into JSON trees are re-encoded and decoded the same way ([`decode_value`]).

use serde::de::DeserializeOwned;

/// Why a JSON document did not match its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// The failing field as a path (`process.rlimits[0].type`), or `line L column C`
    /// for a syntax error.
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for DecodeError {}

/// Decode `bytes` into `T`, naming the failing field on error.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let field = if path == "." || inner.is_syntax() || inner.is_eof() {
            format!("line {} column {}", inner.line(), inner.column())
        } else {
            path
        };
        DecodeError {
            field,
            message: inner.to_string(),
        }
    })?;
    de.end().map_err(|e| DecodeError {
        field: format!("line {} column {}", e.line(), e.column()),
        message: e.to_string(),
    })?;
    Ok(value)
}

/// Decode an already parsed JSON tree (re-encoded, then [`decode`]d).
pub fn decode_value<T: DeserializeOwned>(value: &serde_json::Value) -> Result<T, DecodeError> {
    let bytes = serde_json::to_vec(value).map_err(|e| DecodeError {
        field: ".".into(),
        message: e.to_string(),
    })?;
    decode(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    struct Outer {
        #[allow(dead_code)]
        inner: Vec<Inner>,
    }
    #[derive(serde::Deserialize, Debug)]
    struct Inner {
        #[allow(dead_code)]
        n: u32,
    }

    #[test]
    fn names_the_field() {
        let e = decode::<Outer>(br#"{"inner":[{"n":1},{"n":"x"}]}"#).unwrap_err();
        assert_eq!(e.field, "inner[1].n");
    }

    #[test]
    fn syntax_errors_give_line_and_column() {
        let e = decode::<Outer>(b"{\n  \"inner\": [,]}").unwrap_err();
        assert!(e.field.starts_with("line 2 column"), "{e}");
        let e = decode::<Outer>(br#"{"inner":[]} trailing"#).unwrap_err();
        assert!(e.field.starts_with("line 1 column"), "{e}");
    }

    #[test]
    fn values_decode_like_bytes() {
        let v = serde_json::json!({"inner": [{"n": 7}]});
        let o: Outer = decode_value(&v).unwrap();
        assert_eq!(o.inner[0].n, 7);
    }
}
