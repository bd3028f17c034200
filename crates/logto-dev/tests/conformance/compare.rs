//! Comparing what the two servers answered: JSON shapes (keys and JSON types) and values,
//! each difference named, so a drift fails with a sentence saying what differs.

use serde_json::Value;

/// Names of the two sides in messages.
pub const REAL: &str = "real Logto";
pub const DEV: &str = "logto-dev";

/// The differences found in one test, reported together at the end.
#[derive(Default)]
pub struct Differences(Vec<String>);

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

impl Differences {
    /// Records a difference in words.
    pub fn note(&mut self, message: impl Into<String>) {
        self.0.push(message.into());
    }

    /// Compares the shapes of `real` and `dev`: the same keys with the same JSON types,
    /// recursively (arrays through their first items). `doc` names the document.
    pub fn shape(&mut self, doc: &str, real: &Value, dev: &Value) {
        self.shape_at(doc, "", real, dev);
    }

    fn shape_at(&mut self, doc: &str, path: &str, real: &Value, dev: &Value) {
        match (real, dev) {
            (Value::Object(r), Value::Object(d)) => {
                for (key, rv) in r {
                    match d.get(key) {
                        Some(dv) => self.shape_at(doc, &join(path, key), rv, dv),
                        None => self.note(format!(
                            "{doc}: {REAL} has key {} ({}), {DEV} lacks it",
                            join(path, key),
                            kind(rv)
                        )),
                    }
                }
                for (key, dv) in d {
                    if !r.contains_key(key) {
                        self.note(format!(
                            "{doc}: {DEV} has key {} ({}), {REAL} lacks it",
                            join(path, key),
                            kind(dv)
                        ));
                    }
                }
            }
            (Value::Array(r), Value::Array(d)) => match (r.first(), d.first()) {
                (Some(rv), Some(dv)) => self.shape_at(doc, &format!("{path}[0]"), rv, dv),
                (None, None) => {}
                _ => self.note(format!(
                    "{doc}: {path} has {} item(s) in {REAL}, {} in {DEV}",
                    r.len(),
                    d.len()
                )),
            },
            _ if kind(real) != kind(dev) => self.note(format!(
                "{doc}: {path} is {} in {REAL}, {} in {DEV}",
                kind(real),
                kind(dev)
            )),
            _ => {}
        }
    }

    /// Compares two values that must be equal (after normalisation by the caller).
    pub fn same(&mut self, what: &str, real: &Value, dev: &Value) {
        if real != dev {
            self.note(format!("{what}: {REAL} says {real}, {DEV} says {dev}"));
        }
    }

    /// Compares two space-separated scope strings as sets (their order is not specified:
    /// Logto orders organization permissions by internal ids).
    pub fn same_scopes(&mut self, what: &str, real: &Value, dev: &Value) {
        let set = |v: &Value| {
            let mut s: Vec<String> = v
                .as_str()
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned)
                .collect();
            s.sort();
            s
        };
        if kind(real) != kind(dev) || set(real) != set(dev) {
            self.note(format!("{what}: {REAL} says {real}, {DEV} says {dev}"));
        }
    }

    /// Fails the test with every difference found, one a line.
    pub fn assert_none(self, test: &str) {
        assert!(
            self.0.is_empty(),
            "{test}: {} difference(s) between {REAL} and {DEV}:\n  - {}",
            self.0.len(),
            self.0.join("\n  - ")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // Ignored like every test of the real-Logto tier (it needs no server, but the tier's
    // binary only runs with it).
    #[test]
    #[ignore = "needs real Logto: run through cargo xtask test"]
    fn a_missing_key_is_named_with_its_type() {
        let mut d = Differences::default();
        d.shape(
            "userinfo",
            &json!({"organization_data": [{"id": "o", "description": null}]}),
            &json!({"organization_data": [{"id": "o"}]}),
        );
        assert_eq!(
            d.0,
            [
                "userinfo: real Logto has key organization_data[0].description (null), logto-dev lacks it"
            ]
        );
    }

    #[test]
    #[ignore = "needs real Logto: run through cargo xtask test"]
    fn types_extra_keys_and_scope_sets() {
        let mut d = Differences::default();
        d.shape(
            "t",
            &json!({"a": 1, "b": []}),
            &json!({"a": "1", "b": [], "c": true}),
        );
        d.same_scopes("s", &json!("a b"), &json!("b a"));
        d.same_scopes("s2", &json!("a"), &json!(""));
        assert_eq!(
            d.0,
            [
                "t: a is number in real Logto, string in logto-dev",
                "t: logto-dev has key c (bool), real Logto lacks it",
                "s2: real Logto says \"a\", logto-dev says \"\"",
            ]
        );
    }
}
