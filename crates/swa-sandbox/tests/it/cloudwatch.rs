//! CloudWatch's DescribeAlarms through the aws-sdk client (RPC v2 CBOR): the strategy scenarios'
//! 5xx alarm in OK, then in ALARM with CloudWatch's reason once the canary breaches it; the
//! filters, and the errors CloudWatch gives.

use swa_aws::cloudwatch::types::{AlarmType, MetricAlarm, StateValue};
use swa_aws::{AlarmState, describe_alarms};

use crate::traffic_shift::{deploy_and_continue, status, until};
use crate::{aws, start};

const ALARM: &str = "startupwebapp-api-5xx";

async fn the_alarm(cw: &swa_aws::cloudwatch::Client) -> MetricAlarm {
    let out = cw
        .describe_alarms()
        .alarm_names(ALARM)
        .send()
        .await
        .unwrap();
    assert_eq!(out.metric_alarms().len(), 1, "{out:?}");
    out.metric_alarms()[0].clone()
}

/// `[12.0 (01/12/26 00:03:00)]`: the datapoint's value and its time (day/month/year).
fn datapoint(reason: &str) -> (String, String) {
    let inside = reason
        .split_once('[')
        .and_then(|(_, r)| r.split_once(']'))
        .unwrap()
        .0;
    let (value, time) = inside.split_once(" (").unwrap();
    (value.to_string(), time.trim_end_matches(')').to_string())
}

/// A time as a state reason writes it, from epoch seconds.
fn reason_time(secs: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(secs).unwrap();
    let f = time::macros::format_description!(
        "[day]/[month]/[year repr:last_two] [hour]:[minute]:[second]"
    );
    t.format(&f).unwrap()
}

#[tokio::test]
async fn the_5xx_alarm_is_ok_until_the_canary_breaches_it_then_in_alarm_with_cloudwatchs_reason() {
    let sandbox = start("canary-alarm", 20.0);
    let aws = aws(&sandbox).await;
    let (ecs, cw) = (aws.ecs(), aws.cloudwatch());

    let ok = the_alarm(&cw).await;
    assert_eq!(ok.state_value(), Some(&StateValue::Ok));
    assert_eq!(
        ok.alarm_arn(),
        Some("arn:aws:cloudwatch:us-east-1:123456789012:alarm:startupwebapp-api-5xx")
    );
    assert_eq!(ok.metric_name(), Some("HTTPCode_Target_5XX_Count"));
    assert_eq!(ok.namespace(), Some("AWS/ApplicationELB"));
    assert_eq!(ok.statistic().map(|s| s.as_str()), Some("Sum"));
    assert_eq!(ok.period(), Some(60));
    assert_eq!(ok.evaluation_periods(), Some(1));
    assert_eq!(ok.datapoints_to_alarm(), Some(1));
    assert_eq!(ok.threshold(), Some(5.0));
    assert_eq!(
        ok.comparison_operator().map(|c| c.as_str()),
        Some("GreaterThanThreshold")
    );
    assert_eq!(ok.treat_missing_data(), Some("notBreaching"));
    assert_eq!(ok.actions_enabled(), Some(true));
    let dimensions: Vec<(&str, &str)> = ok
        .dimensions()
        .iter()
        .map(|d| (d.name().unwrap(), d.value().unwrap()))
        .collect();
    assert_eq!(
        dimensions,
        [
            ("LoadBalancer", "app/startupwebapp-alb/0fedcba987654321"),
            (
                "TargetGroup",
                "targetgroup/startupwebapp-tg/0123456789abcdef"
            ),
        ]
    );
    assert!(
        ok.state_reason()
            .unwrap()
            .ends_with("was not greater than the threshold (5.0) (minimum 1 datapoint for ALARM -> OK transition)."),
        "{:?}",
        ok.state_reason()
    );
    let ok_at = ok.state_updated_timestamp().unwrap().secs();

    let arn = deploy_and_continue(&ecs).await;
    let rolled = until(&ecs, &arn, |d| status(d) == "ROLLBACK_SUCCESSFUL").await;
    assert_eq!(
        rolled.alarms().unwrap().triggered_alarm_names(),
        [ALARM.to_string()]
    );

    let fired = the_alarm(&cw).await;
    assert_eq!(fired.state_value(), Some(&StateValue::Alarm));
    let reason = fired.state_reason().unwrap();
    let at = fired.state_updated_timestamp().unwrap().secs();
    assert!(at > ok_at, "{at} <= {ok_at}");
    // The datapoint is the last full minute before the evaluation.
    let (value, time) = datapoint(reason);
    assert_eq!(value, "12.0");
    assert_eq!(time, reason_time((at - 60).div_euclid(60) * 60));
    assert_eq!(
        reason,
        format!(
            "Threshold Crossed: 1 out of the last 1 datapoints [12.0 ({time})] was greater than the threshold (5.0) (minimum 1 datapoint for OK -> ALARM transition)."
        )
    );
    let data: serde_json::Value = serde_json::from_str(fired.state_reason_data().unwrap()).unwrap();
    assert_eq!(data["recentDatapoints"], serde_json::json!([12.0]));
    assert_eq!(data["threshold"], 5.0);
    assert_eq!(data["statistic"], "Sum");

    // The actions' own reading of it.
    let states = describe_alarms(&cw, &[ALARM.to_string()]).await.unwrap();
    assert_eq!(
        states,
        [AlarmState {
            name: ALARM.into(),
            state: "ALARM".into(),
            reason: Some(reason.to_string()),
            metric: Some(
                "HTTPCode_Target_5XX_Count (AWS/ApplicationELB, Sum over 60 s) > 5".into()
            ),
            updated: fired.state_updated_timestamp().copied(),
        }]
    );
    let in_alarm = cw
        .describe_alarms()
        .state_value(StateValue::Alarm)
        .send()
        .await
        .unwrap();
    assert_eq!(in_alarm.metric_alarms().len(), 1);

    let calls: Vec<_> = sandbox
        .calls()
        .into_iter()
        .filter(|c| c.service == "cloudwatch")
        .collect();
    assert!(
        calls
            .iter()
            .all(|c| c.operation == "DescribeAlarms" && c.status == 200)
    );
    assert_eq!(calls[0].request["AlarmNames"], serde_json::json!([ALARM]));
    assert!(calls.iter().all(|c| !c.is_mutating()));
}

#[tokio::test]
async fn describe_alarms_filters_by_name_prefix_state_and_type_and_refuses_bad_values() {
    let sandbox = start("blue-green", 20.0);
    let cw = aws(&sandbox).await.cloudwatch();
    let names = |out: &swa_aws::cloudwatch::operation::describe_alarms::DescribeAlarmsOutput| {
        out.metric_alarms()
            .iter()
            .map(|a| a.alarm_name().unwrap().to_string())
            .collect::<Vec<_>>()
    };

    let all = cw.describe_alarms().send().await.unwrap();
    assert_eq!(names(&all), [ALARM]);
    assert_eq!(all.next_token(), None);
    let prefixed = cw
        .describe_alarms()
        .alarm_name_prefix("startupwebapp-")
        .max_records(1)
        .send()
        .await
        .unwrap();
    assert_eq!(names(&prefixed), [ALARM]);
    assert_eq!(prefixed.next_token(), None);
    for request in [
        cw.describe_alarms().alarm_names("no-such-alarm"),
        cw.describe_alarms().alarm_name_prefix("other-"),
        cw.describe_alarms().state_value(StateValue::Alarm),
        cw.describe_alarms().alarm_types(AlarmType::CompositeAlarm),
    ] {
        let out = request.send().await.unwrap();
        assert!(out.metric_alarms().is_empty(), "{out:?}");
    }
    assert_eq!(
        describe_alarms(&cw, &["no-such-alarm".to_string()]).await,
        Ok(Vec::new())
    );

    let bad_state = cw
        .describe_alarms()
        .state_value(StateValue::from("FIRING"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        swa_aws::error_text(&bad_state),
        "ValidationError: 1 validation error detected: Value 'FIRING' at 'stateValue' failed to satisfy constraint: Member must satisfy enum value set: [INSUFFICIENT_DATA, ALARM, OK]"
    );
    let both = cw
        .describe_alarms()
        .alarm_names(ALARM)
        .alarm_name_prefix("startupwebapp-")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        swa_aws::error_code(&both),
        Some("InvalidParameterCombination")
    );
    let token = cw
        .describe_alarms()
        .next_token("not-a-token")
        .send()
        .await
        .unwrap_err();
    assert!(token.as_service_error().unwrap().is_invalid_next_token());
    let too_many = cw
        .describe_alarms()
        .max_records(0)
        .send()
        .await
        .unwrap_err();
    assert_eq!(swa_aws::error_code(&too_many), Some("ValidationError"));
}

#[tokio::test]
async fn scenarios_without_a_strategy_have_no_alarms() {
    let sandbox = start("healthy", 20.0);
    let cw = aws(&sandbox).await.cloudwatch();
    let out = cw.describe_alarms().send().await.unwrap();
    assert!(out.metric_alarms().is_empty());
    assert!(out.composite_alarms().is_empty());
}
