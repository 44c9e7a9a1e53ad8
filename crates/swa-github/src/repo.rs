use std::fmt;

/// `owner/name`, checked as GitHub names them: letters, digits, `-`, `_` and `.`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repo {
    pub owner: String,
    pub name: String,
}

impl std::str::FromStr for Repo {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let Some((owner, name)) = s.split_once('/') else {
            return Err(format!(
                "`{s}` is not owner/name (for example `org/startupwebapp-frontend`)"
            ));
        };
        let ok = |part: &str| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        if !ok(owner) || !ok(name) {
            return Err(format!(
                "`{s}` is not owner/name (for example `org/startupwebapp-frontend`): each part \
                 is letters, digits, `-`, `_` or `.`"
            ));
        }
        Ok(Repo {
            owner: owner.to_string(),
            name: name.to_string(),
        })
    }
}

impl fmt::Display for Repo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_owner_and_name() {
        let repo: Repo = "org/startupwebapp-frontend".parse().expect("repo");
        assert_eq!(repo.owner, "org");
        assert_eq!(repo.name, "startupwebapp-frontend");
        assert_eq!(repo.to_string(), "org/startupwebapp-frontend");
    }

    #[test]
    fn refuses_what_is_not_owner_slash_name() {
        for bad in [
            "frontend",
            "org/",
            "/name",
            "a/b/c",
            "org/na me",
            "org/..",
            "",
        ] {
            assert!(bad.parse::<Repo>().is_err(), "{bad} should not parse");
        }
    }
}
