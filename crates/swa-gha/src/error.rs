use std::fmt;

/// How an action ended, as its exit code tells a workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitKind {
    /// 0: done.
    Success,
    /// 1: the deployment or check failed (or the job was cancelled).
    Failed,
    /// 2: bad input or usage; nothing was changed.
    BadInput,
}

impl ExitKind {
    pub fn code(self) -> u8 {
        match self {
            ExitKind::Success => 0,
            ExitKind::Failed => 1,
            ExitKind::BadInput => 2,
        }
    }
}

/// The error an action returns: what went wrong, and whether it was the input's fault.
///
/// Any `std::error::Error` converts into a failure with `?`; bad input is said explicitly with
/// [`ActionError::input`], naming the input.
pub struct ActionError {
    kind: ExitKind,
    title: Option<String>,
    source: Box<dyn std::error::Error + Send + Sync + 'static>,
}

#[derive(Debug)]
struct Message(String);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Message {}

impl ActionError {
    /// Input `name` is wrong: exit 2. The message says what is wrong and, where it helps, what
    /// would be right.
    pub fn input(name: &str, message: impl fmt::Display) -> Self {
        ActionError {
            kind: ExitKind::BadInput,
            title: Some(format!("Invalid input `{name}`")),
            source: Box::new(Message(format!("input `{name}` {message}"))),
        }
    }

    /// The deployment or check failed: exit 1.
    pub fn failed(message: impl fmt::Display) -> Self {
        ActionError {
            kind: ExitKind::Failed,
            title: None,
            source: Box::new(Message(message.to_string())),
        }
    }

    /// Bad input found by a check against AWS or GitHub (an unknown cluster, a missing image
    /// tag): exit 2, with the cause kept.
    pub fn input_with_source(
        name: &str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        ActionError {
            kind: ExitKind::BadInput,
            title: Some(format!("Invalid input `{name}`")),
            source: Box::new(source),
        }
    }

    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    pub fn kind(&self) -> ExitKind {
        self.kind
    }

    pub fn title(&self) -> Option<&str> {
        self.title.as_deref()
    }

    /// The whole cause chain on one line, `outer: inner: root`, without repeating a cause whose
    /// text its parent already shows.
    pub fn chain(&self) -> String {
        cause_chain(self.source.as_ref())
    }
}

/// An error and its causes on one line, `outer: inner: root`, without repeating a cause whose
/// text an outer error already shows.
pub fn cause_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(cause) = next {
        let line = cause.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        next = cause.source();
    }
    text
}

impl fmt::Debug for ActionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.chain())
    }
}

impl fmt::Display for ActionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.chain())
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for ActionError {
    fn from(source: E) -> Self {
        ActionError {
            kind: ExitKind::Failed,
            title: None,
            source: Box::new(source),
        }
    }
}
