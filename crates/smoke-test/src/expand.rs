//! `${NAME}` in a check's `path`, `url`, `headers` and `body`, filled from the step's environment:
//! a smoke user's credentials reach a check through the workflow's `env:`, never through the
//! checks file. Every value filled in is masked before anything is printed.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;
use swa_gha::Env;

#[allow(clippy::expect_used)]
static VARIABLE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}").expect("a valid pattern"));

/// What stands for a variable in [`without_variables`].
pub const VARIABLE_MARK: char = '\u{1}';

/// `text` with each `${NAME}` replaced by [`VARIABLE_MARK`]: what is left is text as written.
pub fn without_variables(text: &str) -> String {
    VARIABLE
        .replace_all(text, VARIABLE_MARK.to_string().as_str())
        .into_owned()
}

/// The names of the variables `text` refers to, in order, each once.
pub fn names(text: &str) -> Vec<&str> {
    let mut seen = BTreeSet::new();
    VARIABLE
        .captures_iter(text)
        .filter_map(|c| c.get(1).map(|m| m.as_str()))
        .filter(|name| seen.insert(*name))
        .collect()
}

/// Fills the variables of checks from an environment, collecting the names it lacks.
pub struct Filler<'a> {
    env: &'a Env,
    /// Variables referred to but unset or empty.
    pub missing: BTreeSet<String>,
}

impl<'a> Filler<'a> {
    pub fn new(env: &'a Env) -> Self {
        Self {
            env,
            missing: BTreeSet::new(),
        }
    }

    /// `text` with every `${NAME}` replaced by its value; an unset one is left as written and
    /// named in `missing`.
    pub fn text(&mut self, text: &str) -> String {
        VARIABLE
            .replace_all(text, |c: &regex::Captures| {
                let name = &c[1];
                match self.env.non_empty(name) {
                    Some(value) => value.to_string(),
                    None => {
                        self.missing.insert(name.to_string());
                        c[0].to_string()
                    }
                }
            })
            .into_owned()
    }

    /// A JSON body with the variables filled in every string, keys included.
    pub fn json(&mut self, value: serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        match value {
            Value::String(s) => Value::String(self.text(&s)),
            Value::Array(items) => Value::Array(items.into_iter().map(|v| self.json(v)).collect()),
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(k, v)| (self.text(&k), self.json(v)))
                    .collect(),
            ),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_are_filled_and_the_unset_ones_named() {
        let env = Env::from_pairs([("SMOKE_USERNAME", "smoke"), ("EMPTY", "")]);
        let mut filler = Filler::new(&env);
        assert_eq!(
            filler.text("/users/${SMOKE_USERNAME}/orders?k=${SMOKE_KEY}&e=${EMPTY}"),
            "/users/smoke/orders?k=${SMOKE_KEY}&e=${EMPTY}"
        );
        assert_eq!(
            filler.missing.iter().collect::<Vec<_>>(),
            ["EMPTY", "SMOKE_KEY"]
        );
        let body = filler.json(
            serde_json::json!({"username": "${SMOKE_USERNAME}", "n": [1, "${SMOKE_USERNAME}"]}),
        );
        assert_eq!(
            body,
            serde_json::json!({"username": "smoke", "n": [1, "smoke"]})
        );
    }

    #[test]
    fn names_are_listed_once_and_a_lone_dollar_is_text() {
        assert_eq!(names("${A} $B ${A} ${b_2} ${} ${9X}"), ["A", "b_2"]);
    }
}
