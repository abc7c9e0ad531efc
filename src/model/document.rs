//! The files users write (topologies, policies, NACLs, expectations), read
//! as JSON or YAML into one JSON value that each format's parser walks, so
//! every error names its path the same way whichever syntax was used.

use serde_json::{Map, Value};

use crate::error::PathError;

/// The key an editor reads to find a file's JSON Schema; every format
/// allows it at the top and ignores it.
pub const SCHEMA_KEY: &str = "$schema";

/// Parse `text`: JSON when it starts like JSON (`{` or `[`), YAML otherwise.
/// JSON goes through serde_json for its exact error positions; YAML through
/// serde_norway (serde_yaml's maintained fork).
pub fn parse(text: &str) -> Result<Value, PathError> {
    let head = text.trim_start().chars().next();
    if matches!(head, Some('{' | '[')) || head.is_none() {
        return serde_json::from_str(text).map_err(|e| PathError::new("(file)", format!("not valid JSON: {e}")));
    }
    let v: Value = serde_norway::from_str(text).map_err(|e| PathError::new("(file)", format!("not valid YAML (or JSON): {e}")))?;
    // YAML allows keys JSON cannot have (numbers, lists); serde_norway turns
    // them into strings or refuses them, so `v` is plain JSON from here.
    Ok(v)
}

/// A whole number at `obj[key]`: `None` when absent, and a message that
/// says "must be a number" (not "is required") for `"80"`.
pub fn number(obj: &Map<String, Value>, key: &str, path: &str) -> Result<Option<u64>, PathError> {
    match obj.get(key) {
        None => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) => Ok(Some(n)),
            None if v.is_string() => Err(PathError::new(path, format!("{v} must be a number, without quotes (e.g. 80, not \"80\")"))),
            None => Err(PathError::new(path, format!("{v} must be a whole number"))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_yaml_give_the_same_value() {
        let json = parse(r#"{"vpcs": {"v": {"cidr": "10.1.0.0/16", "subnets": {"s": {"cidr": "10.1.1.0/24", "public": true}}}}}"#).unwrap();
        let yaml = parse("vpcs:\n  v:\n    cidr: 10.1.0.0/16\n    subnets:\n      s: {cidr: 10.1.1.0/24, public: true}\n").unwrap();
        assert_eq!(json, yaml);
        assert!(parse("{").unwrap_err().message.contains("not valid JSON"));
        assert!(parse("a: [").unwrap_err().message.contains("not valid YAML"));
    }

    #[test]
    fn a_quoted_number_is_named_as_such() {
        let v: Value = serde_json::from_str(r#"{"port": "80", "rule": true}"#).unwrap();
        let obj = v.as_object().unwrap();
        assert!(number(obj, "port", "port").unwrap_err().message.contains("must be a number"));
        assert!(number(obj, "rule", "rule").unwrap_err().message.contains("whole number"));
        assert_eq!(number(obj, "absent", "x").unwrap(), None);
    }
}
