//! Validated resource names (VPCs, subnets).
//!
//! Names end up in interface names, namespace names, file paths and iptables
//! comments, so they are restricted to a shell- and path-safe alphabet.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::InputError;

/// Longest VPC or subnet name accepted. Long names still get short interface
/// names (see `naming`); this bound only keeps tables and comments readable.
pub const MAX_NAME_LEN: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Name(String);

impl Name {
    pub fn parse(what: &'static str, raw: &str) -> Result<Self, InputError> {
        let bad = |why: String| InputError::BadName { what, value: raw.to_string(), why };
        if raw.is_empty() {
            return Err(bad("it is empty".into()));
        }
        if raw.len() > MAX_NAME_LEN {
            return Err(bad(format!("it is {} characters long (at most {MAX_NAME_LEN})", raw.len())));
        }
        if let Some(c) = raw.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')) {
            return Err(bad(format!("character {c:?} is not allowed")));
        }
        if raw.starts_with('-') {
            return Err(bad("it must start with a letter or digit".into()));
        }
        Ok(Name(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Name {
    type Error = InputError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Name::parse("name", &s)
    }
}

impl From<Name> for String {
    fn from(n: Name) -> String {
        n.0
    }
}

/// Names in the order people count: s1, s2, s10 (not s1, s10, s2).
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    fn chunks(s: &str) -> Vec<(bool, &str)> {
        let mut out = vec![];
        let mut start = 0;
        let b = s.as_bytes();
        for i in 1..=b.len() {
            if i == b.len() || b[i].is_ascii_digit() != b[start].is_ascii_digit() {
                out.push((b[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    let (x, y) = (chunks(a), chunks(b));
    for (p, q) in x.iter().zip(&y) {
        let o = match (p, q) {
            ((true, m), (true, n)) => m
                .trim_start_matches('0')
                .len()
                .cmp(&n.trim_start_matches('0').len())
                .then(m.trim_start_matches('0').cmp(n.trim_start_matches('0'))),
            ((_, m), (_, n)) => m.cmp(n),
        };
        if o.is_ne() {
            return o;
        }
    }
    x.len().cmp(&y.len()).then(a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names() {
        for ok in ["vpc1", "a", "0prod", "shared-services", &"x".repeat(MAX_NAME_LEN)] {
            assert!(Name::parse("VPC name", ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_unsafe_names() {
        let long = "x".repeat(MAX_NAME_LEN + 1);
        for bad in ["", "-x", "Vpc", "a b", "a/b", "..", "a;rm", "a$b", "ä", "a_b", "a.b", &long] {
            let err = Name::parse("VPC name", bad).unwrap_err().to_string();
            assert!(err.contains("VPC name"), "{bad}: {err}");
        }
    }
}

#[cfg(test)]
mod natural_tests {
    #[test]
    fn numbers_sort_as_numbers() {
        let mut v = vec!["s10", "s2", "s100", "s1", "a", "s01x", "s1a"];
        v.sort_by(|a, b| super::natural_cmp(a, b));
        assert_eq!(v, ["a", "s1", "s1a", "s01x", "s2", "s10", "s100"]);
    }
}
