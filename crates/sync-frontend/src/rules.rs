//! Which Cache-Control and Content-Type each file gets.

use globset::{Glob, GlobBuilder, GlobMatcher};

/// HTML is revalidated on every visit, so a deploy shows at once.
pub const HTML_CACHE_CONTROL: &str = "no-cache, must-revalidate";
/// Everything else (JS, CSS, images, fonts) is cached for a year: built assets carry a content
/// hash in their names, so a new build gets new names.
pub const ASSET_CACHE_CONTROL: &str = "public, max-age=31536000";

/// The rules after the user's own, so that the first match always finds one.
const DEFAULT_RULES: &[(&str, &str)] = &[
    ("*.html", HTML_CACHE_CONTROL),
    ("*.htm", HTML_CACHE_CONTROL),
    ("*", ASSET_CACHE_CONTROL),
];

/// One `glob=value` line.
#[derive(Debug, Clone)]
pub struct Rule {
    pub glob: String,
    pub value: String,
    matcher: GlobMatcher,
    /// A glob without `/` matches the file name; one with `/` matches the whole relative path.
    whole_path: bool,
}

impl Rule {
    fn new(glob: &str, value: &str, case_insensitive: bool) -> Result<Rule, String> {
        let pattern = glob.trim_start_matches('/');
        let whole_path = pattern.contains('/');
        let compiled: Result<Glob, _> = GlobBuilder::new(pattern)
            .literal_separator(whole_path)
            .backslash_escape(true)
            .case_insensitive(case_insensitive)
            .build();
        let matcher = compiled
            .map_err(|e| format!("has an invalid glob `{glob}`: {}", e.kind()))?
            .compile_matcher();
        Ok(Rule {
            glob: glob.to_string(),
            value: value.to_string(),
            matcher,
            whole_path,
        })
    }

    fn matches(&self, relative_path: &str) -> bool {
        if self.whole_path {
            self.matcher.is_match(relative_path)
        } else {
            let name = relative_path.rsplit('/').next().unwrap_or(relative_path);
            self.matcher.is_match(name)
        }
    }
}

/// The response directives of Cache-Control (RFC 9111 and its extensions in use).
const DIRECTIVES: &[&str] = &[
    "max-age",
    "s-maxage",
    "no-cache",
    "no-store",
    "no-transform",
    "must-revalidate",
    "proxy-revalidate",
    "must-understand",
    "private",
    "public",
    "immutable",
    "stale-while-revalidate",
    "stale-if-error",
];

/// Directives whose argument is a number of seconds.
const SECONDS: &[&str] = &[
    "max-age",
    "s-maxage",
    "stale-while-revalidate",
    "stale-if-error",
];

/// Checks a Cache-Control value directive by directive, so that a typo (`max-age=1y`,
/// `pubic`) or a line whose `=` was misplaced fails before anything is uploaded.
fn check_directives(value: &str) -> Result<(), String> {
    for directive in value.split(',') {
        let directive = directive.trim();
        let (name, argument) = match directive.split_once('=') {
            Some((name, argument)) => (name.trim(), Some(argument.trim())),
            None => (directive, None),
        };
        let lower = name.to_ascii_lowercase();
        if !DIRECTIVES.contains(&lower.as_str()) {
            return Err(format!(
                "has `{name}`, which is not a Cache-Control directive ({})",
                DIRECTIVES.join(", ")
            ));
        }
        let needs_seconds = SECONDS.contains(&lower.as_str());
        match argument {
            Some(arg)
                if needs_seconds
                    && (arg.is_empty() || !arg.bytes().all(|b| b.is_ascii_digit())) =>
            {
                return Err(format!(
                    "has `{directive}`, whose value must be a number of seconds"
                ));
            }
            None if needs_seconds => {
                return Err(format!(
                    "has `{name}` without a number of seconds (`{name}=600`)"
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The `cache-control` input followed by the defaults; the first rule that matches wins.
#[derive(Debug, Clone)]
pub struct CacheRules {
    rules: Vec<Rule>,
}

impl CacheRules {
    /// Parses the input: one `glob=value` per line; blank lines and lines starting with `#` are
    /// ignored. The error says which line is wrong and why, for `ActionError::input`.
    pub fn parse(text: &str) -> Result<CacheRules, String> {
        let mut rules = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let number = index + 1;
            let Some((glob, value)) = line.split_once('=') else {
                return Err(format!(
                    "line {number} (`{line}`) is not `glob=value`, as in `*.html=no-cache`"
                ));
            };
            let (glob, value) = (glob.trim(), value.trim());
            if glob.is_empty() {
                return Err(format!(
                    "line {number} (`{line}`) has no glob before `=`, as in `*.html=no-cache`"
                ));
            }
            if value.is_empty() {
                return Err(format!(
                    "line {number} (`{line}`) has no Cache-Control value after `=`"
                ));
            }
            if let Some(bad) = value.chars().find(|c| !(' '..='~').contains(c)) {
                return Err(format!(
                    "line {number} (`{line}`) has a character ({bad:?}) that an HTTP header cannot carry"
                ));
            }
            check_directives(value)
                .map_err(|reason| format!("line {number} (`{line}`) {reason}"))?;
            rules.push(Rule::new(glob, value, false).map_err(|e| format!("line {number} {e}"))?);
        }
        for (glob, value) in DEFAULT_RULES {
            // `INDEX.HTM` is a page too, whatever the case of its extension.
            rules.push(Rule::new(glob, value, true)?);
        }
        Ok(CacheRules { rules })
    }

    /// The Cache-Control for a file, by its path relative to the source folder (`/`-separated).
    pub fn cache_control(&self, relative_path: &str) -> &str {
        self.rules
            .iter()
            .find(|r| r.matches(relative_path))
            .map(|r| r.value.as_str())
            .unwrap_or(ASSET_CACHE_CONTROL)
    }
}

/// Whether a file is a page (uploaded after every asset it may reference).
pub fn is_html(relative_path: &str) -> bool {
    matches!(extension(relative_path).as_deref(), Some("html" | "htm"))
}

fn extension(relative_path: &str) -> Option<String> {
    let name = relative_path.rsplit('/').next().unwrap_or(relative_path);
    let (stem, ext) = name.rsplit_once('.')?;
    if stem.is_empty() && !name[1..].contains('.') {
        // `.htaccess` is a name, not an extension.
        return None;
    }
    Some(ext.to_ascii_lowercase())
}

/// The Content-Type for a file, from its extension; `application/octet-stream` when unknown.
pub fn content_type(relative_path: &str) -> &'static str {
    let Some(ext) = extension(relative_path) else {
        return "application/octet-stream";
    };
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" | "cjs" => "text/javascript; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "xml" => "application/xml",
        "txt" => "text/plain; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "md" => "text/markdown; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/vnd.microsoft.icon",
        "bmp" => "image/bmp",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        "eot" => "application/vnd.ms-fontobject",
        "wasm" => "application/wasm",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "ogg" => "audio/ogg",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_revalidate_html_and_cache_everything_else_for_a_year() {
        let rules = CacheRules::parse("").expect("parses");
        assert_eq!(rules.cache_control("index.html"), HTML_CACHE_CONTROL);
        assert_eq!(rules.cache_control("about/team.HTM"), HTML_CACHE_CONTROL);
        assert_eq!(rules.cache_control("about/index.html"), HTML_CACHE_CONTROL);
        assert_eq!(
            rules.cache_control("assets/app.3f2a.js"),
            ASSET_CACHE_CONTROL
        );
        assert_eq!(rules.cache_control("styles.css"), ASSET_CACHE_CONTROL);
        assert_eq!(rules.cache_control("robots"), ASSET_CACHE_CONTROL);
    }

    #[test]
    fn the_first_matching_rule_wins_and_user_rules_come_before_the_defaults() {
        let rules = CacheRules::parse(
            "# service worker must never be cached\n\
             sw.js = no-store\n\
             *.js=public, max-age=600\n\
             \n\
             assets/**=public, max-age=31536000, immutable\n\
             *.html=no-cache",
        )
        .expect("parses");
        assert_eq!(rules.cache_control("sw.js"), "no-store");
        assert_eq!(rules.cache_control("nested/sw.js"), "no-store");
        assert_eq!(rules.cache_control("assets/app.js"), "public, max-age=600");
        assert_eq!(
            rules.cache_control("assets/img/logo.png"),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(rules.cache_control("index.html"), "no-cache");
        assert_eq!(rules.cache_control("favicon.ico"), ASSET_CACHE_CONTROL);
    }

    #[test]
    fn a_glob_with_a_slash_matches_the_whole_path_and_star_stays_in_one_folder() {
        let rules = CacheRules::parse("static/*.css=max-age=60\n/docs/**/*.html=max-age=5")
            .expect("parses");
        assert_eq!(rules.cache_control("static/site.css"), "max-age=60");
        assert_eq!(
            rules.cache_control("static/deep/site.css"),
            ASSET_CACHE_CONTROL
        );
        assert_eq!(
            rules.cache_control("other/static/site.css"),
            ASSET_CACHE_CONTROL
        );
        assert_eq!(rules.cache_control("docs/a/b/page.html"), "max-age=5");
        assert_eq!(rules.cache_control("docs/page.html"), "max-age=5");
        assert_eq!(rules.cache_control("page.html"), HTML_CACHE_CONTROL);
    }

    #[test]
    fn malformed_lines_are_named_with_their_number() {
        let e = CacheRules::parse("*.js=max-age=60\n*.html no-cache").expect_err("bad");
        assert!(
            e.starts_with("line 2 (`*.html no-cache`) is not `glob=value`"),
            "{e}"
        );
        let e = CacheRules::parse("=no-cache").expect_err("bad");
        assert!(e.contains("line 1") && e.contains("no glob"), "{e}");
        let e = CacheRules::parse("*.css=").expect_err("bad");
        assert!(
            e.contains("line 1") && e.contains("no Cache-Control value"),
            "{e}"
        );
        let e = CacheRules::parse("\n[abc=max-age=1").expect_err("bad");
        assert!(e.starts_with("line 2 has an invalid glob `[abc`"), "{e}");
        let e = CacheRules::parse("*.css=max-age=1\u{7}").expect_err("bad");
        assert!(e.contains("cannot carry"), "{e}");
        // `=` where a space was meant: the glob swallows the directive's name.
        let e = CacheRules::parse("*.js max-age=60").expect_err("bad");
        assert!(
            e.starts_with(
                "line 1 (`*.js max-age=60`) has `60`, which is not a Cache-Control directive"
            ),
            "{e}"
        );
        let e = CacheRules::parse("*.js=pubic, max-age=60").expect_err("bad");
        assert!(e.contains("has `pubic`, which is not"), "{e}");
        let e = CacheRules::parse("*.js=public, max-age=1y").expect_err("bad");
        assert!(
            e.contains("`max-age=1y`, whose value must be a number of seconds"),
            "{e}"
        );
        let e = CacheRules::parse("*.js=max-age").expect_err("bad");
        assert!(e.contains("`max-age` without a number of seconds"), "{e}");
        assert!(CacheRules::parse("*.js=Public, MAX-AGE=60, stale-while-revalidate=30").is_ok());
    }

    #[test]
    fn content_types_come_from_the_extension() {
        let cases = [
            ("index.html", "text/html; charset=utf-8"),
            ("a/b/PAGE.HTM", "text/html; charset=utf-8"),
            ("app.3f2a.js", "text/javascript; charset=utf-8"),
            ("module.mjs", "text/javascript; charset=utf-8"),
            ("site.css", "text/css; charset=utf-8"),
            ("app.js.map", "application/json"),
            ("data.json", "application/json"),
            ("site.webmanifest", "application/manifest+json"),
            ("logo.svg", "image/svg+xml"),
            ("logo.png", "image/png"),
            ("photo.JPG", "image/jpeg"),
            ("favicon.ico", "image/vnd.microsoft.icon"),
            ("font.woff2", "font/woff2"),
            ("robots.txt", "text/plain; charset=utf-8"),
            ("engine.wasm", "application/wasm"),
            ("LICENSE", "application/octet-stream"),
            (".htaccess", "application/octet-stream"),
            ("archive.unknownext", "application/octet-stream"),
        ];
        for (path, want) in cases {
            assert_eq!(content_type(path), want, "{path}");
        }
    }

    #[test]
    fn pages_are_told_apart_from_assets() {
        assert!(is_html("index.html"));
        assert!(is_html("about/INDEX.HTM"));
        assert!(!is_html("app.js"));
        assert!(!is_html("html"));
        assert!(!is_html(".html"));
    }
}
