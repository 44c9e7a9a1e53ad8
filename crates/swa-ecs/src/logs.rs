//! Where a task's containers log, and the last lines they wrote.

use aws_sdk_cloudwatchlogs as logs;
use aws_sdk_ecs::types::{LogDriver, TaskDefinition};

/// The CloudWatch Logs stream of one container of one task (the `awslogs` driver names it
/// `<prefix>/<container>/<task-id>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLocation {
    pub container: String,
    pub group: String,
    pub stream: String,
    /// `awslogs-region`, when the task definition sets it.
    pub region: Option<String>,
}

impl std::fmt::Display for LogLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.group, self.stream)?;
        if let Some(region) = &self.region {
            write!(f, " ({region})")?;
        }
        Ok(())
    }
}

/// Why a container's log stream is not known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoLogLocation {
    #[error("the task definition has no container `{0}`")]
    NoContainer(String),
    #[error("container `{container}` logs with the `{driver}` driver, not awslogs")]
    OtherDriver { container: String, driver: String },
    #[error("container `{0}` has no log configuration")]
    NoLogConfiguration(String),
    #[error("container `{container}` has no `{option}` option in its awslogs configuration")]
    MissingOption {
        container: String,
        option: &'static str,
    },
}

/// The task id: the last part of a task ARN (`arn:aws:ecs:…:task/cluster/0123abcd` -> `0123abcd`).
/// The line of a log tail that says best why the process ended: the exception a Python
/// traceback ends with (the first line that is not indented after the traceback's header or its
/// indented `File "…"` frames, so a tail that cut the header off still has it), else the last
/// line that is not blank.
pub fn telling_line(lines: &[String]) -> Option<&str> {
    let mut telling = None;
    let mut in_traceback = false;
    for line in lines {
        let indented = line.starts_with([' ', '\t']);
        if line
            .trim_start()
            .starts_with("Traceback (most recent call last):")
            || (indented && line.trim_start().starts_with("File \""))
        {
            in_traceback = true;
        } else if in_traceback && !indented && !line.trim().is_empty() {
            in_traceback = false;
            telling = Some(line.trim_end());
        }
    }
    telling.or_else(|| {
        lines
            .iter()
            .rev()
            .map(|l| l.trim_end())
            .find(|l| !l.trim().is_empty())
    })
}

pub fn task_id(task_arn: &str) -> &str {
    task_arn.rsplit('/').next().unwrap_or(task_arn)
}

/// The awslogs stream of `container` in task `task_arn`, from the task definition's log options.
pub fn log_location(
    definition: &TaskDefinition,
    container: &str,
    task_arn: &str,
) -> Result<LogLocation, NoLogLocation> {
    let def = definition
        .container_definitions()
        .iter()
        .find(|c| c.name() == Some(container))
        .ok_or_else(|| NoLogLocation::NoContainer(container.to_string()))?;
    let config = def
        .log_configuration()
        .ok_or_else(|| NoLogLocation::NoLogConfiguration(container.to_string()))?;
    if config.log_driver() != &LogDriver::Awslogs {
        return Err(NoLogLocation::OtherDriver {
            container: container.to_string(),
            driver: config.log_driver().as_str().to_string(),
        });
    }
    let options = config.options();
    let option = |name: &'static str| {
        options
            .and_then(|o| o.get(name))
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .ok_or(NoLogLocation::MissingOption {
                container: container.to_string(),
                option: name,
            })
    };
    let group = option("awslogs-group")?;
    let prefix = option("awslogs-stream-prefix")?;
    Ok(LogLocation {
        container: container.to_string(),
        group: group.to_string(),
        stream: format!("{prefix}/{container}/{}", task_id(task_arn)),
        region: option("awslogs-region").ok().map(String::from),
    })
}

/// Why the log lines could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LogTailError {
    #[error("log stream {stream} in {group} does not exist (the container may not have started)")]
    NotFound { group: String, stream: String },
    #[error("could not read log stream {stream} in {group}: {message}")]
    Read {
        group: String,
        stream: String,
        message: String,
    },
}

/// The last `lines` lines of a container's log stream, oldest first (GetLogEvents from the end,
/// `limit` = `lines`). Zero lines makes no call.
pub async fn tail(
    client: &logs::Client,
    location: &LogLocation,
    lines: u32,
) -> Result<Vec<String>, LogTailError> {
    if lines == 0 {
        return Ok(Vec::new());
    }
    let limit = i32::try_from(lines.min(10_000)).unwrap_or(10_000);
    let output = client
        .get_log_events()
        .log_group_name(&location.group)
        .log_stream_name(&location.stream)
        .start_from_head(false)
        .limit(limit)
        .send()
        .await
        .map_err(|e| {
            let not_found = e
                .as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception());
            if not_found {
                LogTailError::NotFound {
                    group: location.group.clone(),
                    stream: location.stream.clone(),
                }
            } else {
                LogTailError::Read {
                    group: location.group.clone(),
                    stream: location.stream.clone(),
                    message: swa_aws::error_text(&e),
                }
            }
        })?;
    let mut events: Vec<_> = output.events().to_vec();
    events.sort_by_key(|e| e.timestamp().unwrap_or_default());
    let mut text: Vec<String> = events
        .iter()
        .flat_map(|e| {
            e.message()
                .unwrap_or_default()
                .trim_end_matches(['\n', '\r'])
                .lines()
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .collect();
    let keep = lines as usize;
    if text.len() > keep {
        text.drain(..text.len() - keep);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::types::{ContainerDefinition, LogConfiguration};
    use aws_smithy_mocks::mock;
    use logs::operation::get_log_events::{GetLogEventsError, GetLogEventsOutput};
    use logs::types::OutputLogEvent;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(String::from).collect()
    }

    #[test]
    fn the_telling_line_is_the_exception_a_traceback_ends_with() {
        let gunicorn = lines(
            "[INFO] Booting worker with pid: 7\n[ERROR] Exception in worker process\nTraceback (most recent call last):\n  File \"/app/wsgi.py\", line 16, in <module>\n    application = get_wsgi_application()\ndjango.core.exceptions.ImproperlyConfigured: The SECRET_KEY setting must not be empty.\n[INFO] Worker exiting (pid: 7)\n[ERROR] Reason: Worker failed to boot.",
        );
        assert_eq!(
            telling_line(&gunicorn),
            Some(
                "django.core.exceptions.ImproperlyConfigured: The SECRET_KEY setting must not be empty."
            )
        );
        let cut = &gunicorn[3..];
        assert_eq!(
            telling_line(cut),
            Some(
                "django.core.exceptions.ImproperlyConfigured: The SECRET_KEY setting must not be empty."
            )
        );
        assert_eq!(
            telling_line(&lines("starting\nout of disk  \n\n")),
            Some("out of disk")
        );
        assert_eq!(telling_line(&lines("\n \n")), None);
        assert_eq!(telling_line(&[]), None);
    }

    fn definition(driver: LogDriver, prefix: Option<&str>) -> TaskDefinition {
        let mut config = LogConfiguration::builder()
            .log_driver(driver)
            .options("awslogs-group", "/ecs/startupwebapp-service")
            .options("awslogs-region", "us-east-1");
        if let Some(prefix) = prefix {
            config = config.options("awslogs-stream-prefix", prefix);
        }
        TaskDefinition::builder()
            .container_definitions(
                ContainerDefinition::builder()
                    .name("startupwebapp")
                    .log_configuration(config.build().expect("config"))
                    .build(),
            )
            .container_definitions(ContainerDefinition::builder().name("bare").build())
            .build()
    }

    const TASK: &str = "arn:aws:ecs:us-east-1:123456789012:task/startupwebapp-cluster/0f1e2d3c4b5a69788796a5b4c3d2e1f0";

    #[test]
    fn the_stream_is_prefix_container_task_id() {
        let location = log_location(
            &definition(LogDriver::Awslogs, Some("ecs")),
            "startupwebapp",
            TASK,
        )
        .expect("location");
        assert_eq!(
            location,
            LogLocation {
                container: "startupwebapp".into(),
                group: "/ecs/startupwebapp-service".into(),
                stream: "ecs/startupwebapp/0f1e2d3c4b5a69788796a5b4c3d2e1f0".into(),
                region: Some("us-east-1".into()),
            }
        );
    }

    #[test]
    fn a_container_without_awslogs_says_why() {
        let def = definition(LogDriver::Awslogs, None);
        assert_eq!(
            log_location(&def, "startupwebapp", TASK),
            Err(NoLogLocation::MissingOption {
                container: "startupwebapp".into(),
                option: "awslogs-stream-prefix"
            })
        );
        assert_eq!(
            log_location(&def, "bare", TASK),
            Err(NoLogLocation::NoLogConfiguration("bare".into()))
        );
        assert_eq!(
            log_location(&def, "nope", TASK),
            Err(NoLogLocation::NoContainer("nope".into()))
        );
        let splunk = definition(LogDriver::Splunk, Some("ecs"));
        assert_eq!(
            log_location(&splunk, "startupwebapp", TASK)
                .expect_err("splunk")
                .to_string(),
            "container `startupwebapp` logs with the `splunk` driver, not awslogs"
        );
    }

    pub(crate) fn mock_logs(rules: &[&aws_smithy_mocks::Rule]) -> logs::Client {
        swa_testing::mock_client!(logs, rules)
    }

    #[tokio::test]
    async fn the_tail_asks_for_the_last_lines_and_returns_them_oldest_first() {
        let rule = mock!(logs::Client::get_log_events)
            .match_requests(|r| {
                r.log_group_name() == Some("/ecs/startupwebapp-service")
                    && r.log_stream_name()
                        == Some("ecs/startupwebapp/0f1e2d3c4b5a69788796a5b4c3d2e1f0")
                    && r.start_from_head() == Some(false)
                    && r.limit() == Some(2)
            })
            .then_output(|| {
                GetLogEventsOutput::builder()
                    .events(
                        OutputLogEvent::builder()
                            .timestamp(2)
                            .message("Traceback:\n")
                            .build(),
                    )
                    .events(
                        OutputLogEvent::builder()
                            .timestamp(3)
                            .message("django.db.utils.OperationalError: could not connect")
                            .build(),
                    )
                    .build()
            });
        let client = mock_logs(&[&rule]);
        let location = log_location(
            &definition(LogDriver::Awslogs, Some("ecs")),
            "startupwebapp",
            TASK,
        )
        .expect("location");
        let lines = tail(&client, &location, 2).await.expect("tail");
        assert_eq!(
            lines,
            vec![
                "Traceback:",
                "django.db.utils.OperationalError: could not connect"
            ]
        );
        assert_eq!(rule.num_calls(), 1);
        assert!(tail(&client, &location, 0).await.expect("none").is_empty());
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_missing_stream_is_named() {
        let rule = mock!(logs::Client::get_log_events).then_error(|| {
            GetLogEventsError::ResourceNotFoundException(
                logs::types::error::ResourceNotFoundException::builder()
                    .message("The specified log stream does not exist.")
                    .build(),
            )
        });
        let client = mock_logs(&[&rule]);
        let location = log_location(
            &definition(LogDriver::Awslogs, Some("ecs")),
            "startupwebapp",
            TASK,
        )
        .expect("location");
        let err = tail(&client, &location, 30).await.expect_err("missing");
        assert!(matches!(err, LogTailError::NotFound { .. }));
        assert!(
            err.to_string().contains("ecs/startupwebapp/0f1e2d3c"),
            "{err}"
        );
    }
}
