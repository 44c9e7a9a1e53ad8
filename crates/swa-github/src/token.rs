use std::fmt;

/// A GitHub token. `Debug` and `Display` print `***`; only [`Token::expose`] gives the value,
/// for the `Authorization` header and for registering the mask.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    pub fn new(value: impl Into<String>) -> Self {
        Token(value.into().trim().to_string())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The check of a `token` input, after the value is masked: not empty, and nothing a token
    /// cannot hold (a pasted line with spaces, a line break). `hint` says what to pass; the
    /// error never repeats the value.
    pub fn check_input(&self, hint: &str) -> Result<(), swa_gha::ActionError> {
        if self.is_empty() {
            return Err(swa_gha::ActionError::input(
                "token",
                format!("is empty; {hint}"),
            ));
        }
        if self
            .0
            .chars()
            .any(|c| c.is_whitespace() || !c.is_ascii_graphic())
        {
            return Err(swa_gha::ActionError::input(
                "token",
                format!("contains spaces or characters a token cannot hold; {hint}"),
            ));
        }
        Ok(())
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl std::str::FromStr for Token {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let token = Token::new(s);
        if token.is_empty() {
            return Err("is empty".into());
        }
        if token.0.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("contains whitespace; paste the token alone".into());
        }
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_value_never_shows_in_debug_or_display() {
        let token = Token::new("ghp_abcdef123456");
        assert_eq!(format!("{token:?}"), "***");
        assert_eq!(format!("{token}"), "***");
        assert_eq!(format!("{:?}", Some(&token)), "Some(***)");
        assert_eq!(token.expose(), "ghp_abcdef123456");
    }

    #[test]
    fn blank_or_spaced_tokens_are_refused() {
        assert!("".parse::<Token>().is_err());
        assert!("ghp_a b".parse::<Token>().is_err());
        assert!(" ghp_ab ".parse::<Token>().is_ok());
    }
}
