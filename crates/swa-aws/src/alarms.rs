//! CloudWatch alarms as a deployment's report names them: the state, CloudWatch's reason for it
//! and the metric and threshold the alarm watches, in one line.

use aws_sdk_cloudwatch as cloudwatch;
use aws_smithy_types::DateTime;
use cloudwatch::types::{ComparisonOperator, MetricAlarm};

use crate::error_text;

/// DescribeAlarms takes at most this many names per call.
const NAMES_PER_CALL: usize = 100;

/// One metric alarm as DescribeAlarms shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct AlarmState {
    pub name: String,
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub state: String,
    /// CloudWatch's reason for the state, e.g. `Threshold Crossed: 1 out of the last 1
    /// datapoints [12.0 (01/12/26 00:03:00)] was greater than the threshold (5.0) ...`.
    pub reason: Option<String>,
    /// What the alarm watches, e.g. `HTTPCode_Target_5XX_Count (AWS/ApplicationELB, Sum over
    /// 60 s) > 5`.
    pub metric: Option<String>,
    /// When the state last changed.
    pub updated: Option<DateTime>,
}

/// The metric alarms among `names` (an alarm that does not exist is left out; no names, no
/// call), following every page.
pub async fn describe_alarms(
    client: &cloudwatch::Client,
    names: &[String],
) -> Result<Vec<AlarmState>, String> {
    let mut out = Vec::new();
    for chunk in names.chunks(NAMES_PER_CALL) {
        let mut token: Option<String> = None;
        loop {
            let page = client
                .describe_alarms()
                .set_alarm_names(Some(chunk.to_vec()))
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| error_text(&e))?;
            out.extend(page.metric_alarms().iter().map(alarm_state));
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
    }
    Ok(out)
}

fn alarm_state(a: &MetricAlarm) -> AlarmState {
    AlarmState {
        name: a.alarm_name().unwrap_or_default().to_string(),
        state: a
            .state_value()
            .map_or("INSUFFICIENT_DATA", |s| s.as_str())
            .to_string(),
        reason: a.state_reason().map(String::from),
        metric: metric_text(a),
        updated: a.state_updated_timestamp().copied(),
    }
}

/// What the alarm watches and when it fires, in one line: `HTTPCode_Target_5XX_Count
/// (AWS/ApplicationELB, Sum over 60 s) > 5`; a metric math alarm by its expressions' ids
/// (`metric math e1 > 5`), an anomaly detection alarm by its band (`... outside the anomaly band
/// ad1`). None when the alarm names no metric at all.
pub fn metric_text(a: &MetricAlarm) -> Option<String> {
    let subject = if let Some(name) = a.metric_name() {
        let stat = a
            .statistic()
            .map(|s| s.as_str().to_string())
            .or_else(|| a.extended_statistic().map(String::from));
        let mut details: Vec<String> = a.namespace().map(String::from).into_iter().collect();
        match (stat, a.period()) {
            (Some(stat), Some(period)) => details.push(format!("{stat} over {period} s")),
            (Some(stat), None) => details.push(stat),
            (None, Some(period)) => details.push(format!("over {period} s")),
            (None, None) => {}
        }
        if details.is_empty() {
            name.to_string()
        } else {
            format!("{name} ({})", details.join(", "))
        }
    } else if !a.metrics().is_empty() {
        let band = a.threshold_metric_id();
        let ids: Vec<&str> = a
            .metrics()
            .iter()
            .filter(|q| q.expression().is_some() && q.id() != band)
            .filter_map(|q| q.id())
            .filter(|id| !id.is_empty())
            .collect();
        if ids.is_empty() {
            "metric math".to_string()
        } else {
            format!("metric math {}", ids.join(", "))
        }
    } else {
        return None;
    };
    let threshold = a.threshold().map(|t| t.to_string());
    let band = a
        .threshold_metric_id()
        .map_or("the anomaly band".to_string(), |id| {
            format!("the anomaly band {id}")
        });
    let condition = match a.comparison_operator() {
        Some(ComparisonOperator::GreaterThanThreshold) => threshold.map(|t| format!("> {t}")),
        Some(ComparisonOperator::GreaterThanOrEqualToThreshold) => {
            threshold.map(|t| format!(">= {t}"))
        }
        Some(ComparisonOperator::LessThanThreshold) => threshold.map(|t| format!("< {t}")),
        Some(ComparisonOperator::LessThanOrEqualToThreshold) => {
            threshold.map(|t| format!("<= {t}"))
        }
        Some(ComparisonOperator::LessThanLowerOrGreaterThanUpperThreshold) => {
            Some(format!("outside {band}"))
        }
        Some(ComparisonOperator::GreaterThanUpperThreshold) => Some(format!("above {band}")),
        Some(ComparisonOperator::LessThanLowerThreshold) => Some(format!("below {band}")),
        Some(other) => Some(match threshold {
            Some(t) => format!("{} {t}", other.as_str()),
            None => other.as_str().to_string(),
        }),
        None => None,
    };
    Some(match condition {
        Some(c) => format!("{subject} {c}"),
        None => subject,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, mock};
    use cloudwatch::operation::describe_alarms::{DescribeAlarmsError, DescribeAlarmsOutput};
    use cloudwatch::types::{
        Metric, MetricDataQuery, MetricStat, StateValue, Statistic, error::InvalidNextToken,
    };

    fn mock_client(rules: &[&Rule], mode: RuleMode) -> cloudwatch::Client {
        let mut interceptor = MockResponseInterceptor::new().rule_mode(mode);
        for rule in rules {
            interceptor = interceptor.with_rule(rule);
        }
        let config = cloudwatch::Config::builder()
            .behavior_version(cloudwatch::config::BehaviorVersion::latest())
            .region(cloudwatch::config::Region::from_static("us-east-1"))
            .credentials_provider(cloudwatch::config::Credentials::new(
                "AKIDTEST",
                "test-secret",
                None,
                None,
                "test",
            ))
            .http_client(aws_smithy_mocks::create_mock_http_client())
            .interceptor(interceptor)
            .build();
        cloudwatch::Client::from_conf(config)
    }

    fn five_xx() -> cloudwatch::types::builders::MetricAlarmBuilder {
        MetricAlarm::builder()
            .alarm_name("startupwebapp-api-5xx")
            .metric_name("HTTPCode_Target_5XX_Count")
            .namespace("AWS/ApplicationELB")
            .statistic(Statistic::Sum)
            .period(60)
            .threshold(5.0)
            .comparison_operator(ComparisonOperator::GreaterThanThreshold)
    }

    #[test]
    fn a_metric_alarm_reads_as_its_metric_statistic_period_and_threshold() {
        assert_eq!(
            metric_text(&five_xx().build()).as_deref(),
            Some("HTTPCode_Target_5XX_Count (AWS/ApplicationELB, Sum over 60 s) > 5")
        );
        let cases = [
            (ComparisonOperator::GreaterThanOrEqualToThreshold, ">= 2.5"),
            (ComparisonOperator::LessThanThreshold, "< 2.5"),
            (ComparisonOperator::LessThanOrEqualToThreshold, "<= 2.5"),
        ];
        for (op, text) in cases {
            let alarm = five_xx().threshold(2.5).comparison_operator(op).build();
            assert_eq!(
                metric_text(&alarm),
                Some(format!(
                    "HTTPCode_Target_5XX_Count (AWS/ApplicationELB, Sum over 60 s) {text}"
                ))
            );
        }
        let p99 = MetricAlarm::builder()
            .metric_name("TargetResponseTime")
            .extended_statistic("p99")
            .period(300)
            .threshold(1.5)
            .comparison_operator(ComparisonOperator::GreaterThanThreshold)
            .build();
        assert_eq!(
            metric_text(&p99).as_deref(),
            Some("TargetResponseTime (p99 over 300 s) > 1.5")
        );
    }

    #[test]
    fn metric_math_and_anomaly_detection_alarms_read_as_their_expressions_and_band() {
        let m1 = MetricDataQuery::builder()
            .id("m1")
            .metric_stat(
                MetricStat::builder()
                    .metric(
                        Metric::builder()
                            .namespace("AWS/ApplicationELB")
                            .metric_name("RequestCount")
                            .build(),
                    )
                    .period(60)
                    .stat("Sum")
                    .build(),
            )
            .return_data(false)
            .build();
        let e1 = MetricDataQuery::builder()
            .id("e1")
            .expression("m2 / m1 * 100")
            .build();
        let math = MetricAlarm::builder()
            .metrics(m1.clone())
            .metrics(e1)
            .threshold(5.0)
            .comparison_operator(ComparisonOperator::GreaterThanThreshold)
            .build();
        assert_eq!(metric_text(&math).as_deref(), Some("metric math e1 > 5"));

        let band = MetricDataQuery::builder()
            .id("ad1")
            .expression("ANOMALY_DETECTION_BAND(m1, 2)")
            .build();
        let anomaly = |op| {
            MetricAlarm::builder()
                .metrics(m1.clone())
                .metrics(band.clone())
                .threshold_metric_id("ad1")
                .comparison_operator(op)
                .build()
        };
        assert_eq!(
            metric_text(&anomaly(
                ComparisonOperator::LessThanLowerOrGreaterThanUpperThreshold
            ))
            .as_deref(),
            Some("metric math outside the anomaly band ad1")
        );
        assert_eq!(
            metric_text(&anomaly(ComparisonOperator::GreaterThanUpperThreshold)).as_deref(),
            Some("metric math above the anomaly band ad1")
        );
        assert_eq!(
            metric_text(&anomaly(ComparisonOperator::LessThanLowerThreshold)).as_deref(),
            Some("metric math below the anomaly band ad1")
        );
        assert_eq!(metric_text(&MetricAlarm::builder().build()), None);
    }

    #[tokio::test]
    async fn describe_alarms_follows_the_pages_and_words_errors() {
        let first = mock!(cloudwatch::Client::describe_alarms)
            .match_requests(|r| r.next_token().is_none())
            .then_output(|| {
                DescribeAlarmsOutput::builder()
                    .metric_alarms(
                        five_xx()
                            .state_value(StateValue::Alarm)
                            .state_reason("Threshold Crossed")
                            .build(),
                    )
                    .next_token("page-2")
                    .build()
            });
        let second = mock!(cloudwatch::Client::describe_alarms)
            .match_requests(|r| r.next_token() == Some("page-2"))
            .then_output(|| {
                DescribeAlarmsOutput::builder()
                    .metric_alarms(MetricAlarm::builder().alarm_name("other").build())
                    .build()
            });
        let client = mock_client(&[&first, &second], RuleMode::Sequential);
        let names = vec!["startupwebapp-api-5xx".to_string(), "other".to_string()];
        let alarms = describe_alarms(&client, &names).await.expect("alarms");
        assert_eq!(alarms.len(), 2);
        assert_eq!(alarms[0].state, "ALARM");
        assert_eq!(alarms[0].reason.as_deref(), Some("Threshold Crossed"));
        assert_eq!(
            alarms[0].metric.as_deref(),
            Some("HTTPCode_Target_5XX_Count (AWS/ApplicationELB, Sum over 60 s) > 5")
        );
        assert_eq!(alarms[1].name, "other");
        assert_eq!(alarms[1].state, "INSUFFICIENT_DATA");
        assert_eq!(alarms[1].metric, None);

        let bad = mock!(cloudwatch::Client::describe_alarms).then_error(|| {
            DescribeAlarmsError::InvalidNextToken(
                InvalidNextToken::builder()
                    .message("The next token specified is invalid.")
                    .meta(
                        aws_smithy_types::error::ErrorMetadata::builder()
                            .code("InvalidNextToken")
                            .message("The next token specified is invalid.")
                            .build(),
                    )
                    .build(),
            )
        });
        let client = mock_client(&[&bad], RuleMode::MatchAny);
        assert_eq!(
            describe_alarms(&client, &names).await,
            Err("InvalidNextToken: The next token specified is invalid.".to_string())
        );
        assert_eq!(describe_alarms(&client, &[]).await, Ok(Vec::new()));
    }
}
