//! Elastic Load Balancing v2 (Query protocol, XML answers, Version 2015-12-01).

use std::collections::BTreeMap;

use crate::api::ApiError;
use crate::world::*;
use crate::xml::escape;

pub const XMLNS: &str = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/";

/// The body of a successful answer for `action`.
fn wrap(action: &str, result: &str, request_id: &str) -> String {
    format!(
        "<{action}Response xmlns=\"{XMLNS}\">\n  <{action}Result>\n{result}  </{action}Result>\n  <ResponseMetadata>\n    <RequestId>{request_id}</RequestId>\n  </ResponseMetadata>\n</{action}Response>\n"
    )
}

/// The body of an error answer.
pub fn error_xml(code: &str, message: &str, request_id: &str) -> String {
    let kind =
        if code == "Throttling" || code.starts_with("Internal") || code == "ServiceUnavailable" {
            "Receiver"
        } else {
            "Sender"
        };
    format!(
        "<ErrorResponse xmlns=\"{XMLNS}\">\n  <Error>\n    <Type>{kind}</Type>\n    <Code>{code}</Code>\n    <Message>{}</Message>\n  </Error>\n  <RequestId>{request_id}</RequestId>\n</ErrorResponse>\n",
        escape(message)
    )
}

fn members(form: &BTreeMap<String, String>, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    for n in 1.. {
        match form.get(&format!("{prefix}.member.{n}")) {
            Some(v) => out.push(v.clone()),
            None => break,
        }
    }
    out
}

fn target_group_missing(arn: &str) -> ApiError {
    ApiError::new(
        400,
        "TargetGroupNotFound",
        format!("Target groups '{arn}' not found"),
    )
}

pub fn handle(
    w: &mut World,
    action: &str,
    form: &BTreeMap<String, String>,
    request_id: &str,
) -> Result<String, ApiError> {
    if let Some(v) = form.get("Version")
        && v != "2015-12-01"
    {
        return Err(ApiError::new(
            400,
            "InvalidAction",
            format!("Could not find operation {action} for version {v}"),
        ));
    }
    let result = match action {
        "DescribeTargetHealth" => describe_target_health(w, form)?,
        "DescribeTargetGroups" => describe_target_groups(form)?,
        "DescribeTargetGroupAttributes" => describe_target_group_attributes(form)?,
        _ => {
            return Err(ApiError::new(
                400,
                "InvalidAction",
                format!("Could not find operation {action} for version 2015-12-01"),
            ));
        }
    };
    Ok(wrap(action, &result, request_id))
}

fn required_tg(form: &BTreeMap<String, String>) -> Result<&str, ApiError> {
    let arn = form.get("TargetGroupArn").map(String::as_str).ok_or_else(|| {
        ApiError::new(
            400,
            "ValidationError",
            "1 validation error detected: Value null at 'targetGroupArn' failed to satisfy constraint: Member must not be null",
        )
    })?;
    if arn != TARGET_GROUP_ARN {
        if !arn.starts_with("arn:aws:elasticloadbalancing:") {
            return Err(ApiError::new(
                400,
                "ValidationError",
                format!("'{arn}' is not a valid target group ARN"),
            ));
        }
        return Err(target_group_missing(arn));
    }
    Ok(arn)
}

fn describe_target_health(
    w: &mut World,
    form: &BTreeMap<String, String>,
) -> Result<String, ApiError> {
    required_tg(form)?;
    let wanted: Vec<String> = (1..)
        .map_while(|n| form.get(&format!("Targets.member.{n}.Id")).cloned())
        .collect();
    let mut out = String::from("    <TargetHealthDescriptions>\n");
    for t in &w.tasks {
        let Some(state) = &t.target else { continue };
        if !wanted.is_empty() && !wanted.contains(&t.ip) {
            continue;
        }
        let (name, reason, description) = match state {
            TargetState::Initial => (
                "initial",
                Some("Elb.RegistrationInProgress"),
                Some("Target registration is in progress".to_string()),
            ),
            TargetState::Healthy => ("healthy", None, None),
            TargetState::Unhealthy {
                reason,
                description,
            } => (
                "unhealthy",
                Some(reason.as_str()),
                Some(description.clone()),
            ),
            TargetState::Draining => (
                "draining",
                Some("Target.DeregistrationInProgress"),
                Some("Target deregistration is in progress".to_string()),
            ),
        };
        out.push_str("      <member>\n");
        out.push_str(&format!(
            "        <HealthCheckPort>{CONTAINER_PORT}</HealthCheckPort>\n"
        ));
        out.push_str("        <TargetHealth>\n");
        out.push_str(&format!("          <State>{name}</State>\n"));
        if let Some(r) = reason {
            out.push_str(&format!("          <Reason>{r}</Reason>\n"));
        }
        if let Some(d) = description {
            out.push_str(&format!(
                "          <Description>{}</Description>\n",
                escape(&d)
            ));
        }
        out.push_str("        </TargetHealth>\n");
        out.push_str(&format!(
            "        <Target>\n          <Port>{CONTAINER_PORT}</Port>\n          <Id>{}</Id>\n          <AvailabilityZone>{}</AvailabilityZone>\n        </Target>\n",
            t.ip, t.az
        ));
        out.push_str("      </member>\n");
    }
    // Targets asked for by id that are not registered.
    for id in &wanted {
        if !w.tasks.iter().any(|t| t.target.is_some() && &t.ip == id) {
            out.push_str(&format!(
                "      <member>\n        <HealthCheckPort>{CONTAINER_PORT}</HealthCheckPort>\n        <TargetHealth>\n          <State>unused</State>\n          <Reason>Target.NotRegistered</Reason>\n          <Description>Target is not registered to the target group</Description>\n        </TargetHealth>\n        <Target>\n          <Port>{CONTAINER_PORT}</Port>\n          <Id>{}</Id>\n        </Target>\n      </member>\n",
                escape(id)
            ));
        }
    }
    out.push_str("    </TargetHealthDescriptions>\n");
    Ok(out)
}

fn describe_target_groups(form: &BTreeMap<String, String>) -> Result<String, ApiError> {
    let arns = members(form, "TargetGroupArns");
    let names = members(form, "Names");
    for a in &arns {
        if a != TARGET_GROUP_ARN {
            return Err(target_group_missing(a));
        }
    }
    for n in &names {
        if n != "startupwebapp-tg" {
            return Err(ApiError::new(
                400,
                "TargetGroupNotFound",
                "One or more target groups not found".to_string(),
            ));
        }
    }
    Ok(format!(
        "    <TargetGroups>\n      <member>\n        <TargetGroupArn>{TARGET_GROUP_ARN}</TargetGroupArn>\n        <TargetGroupName>startupwebapp-tg</TargetGroupName>\n        <Protocol>HTTP</Protocol>\n        <ProtocolVersion>HTTP1</ProtocolVersion>\n        <Port>{CONTAINER_PORT}</Port>\n        <VpcId>{VPC}</VpcId>\n        <HealthCheckProtocol>HTTP</HealthCheckProtocol>\n        <HealthCheckPort>traffic-port</HealthCheckPort>\n        <HealthCheckEnabled>true</HealthCheckEnabled>\n        <HealthCheckIntervalSeconds>10</HealthCheckIntervalSeconds>\n        <HealthCheckTimeoutSeconds>5</HealthCheckTimeoutSeconds>\n        <HealthyThresholdCount>2</HealthyThresholdCount>\n        <UnhealthyThresholdCount>3</UnhealthyThresholdCount>\n        <HealthCheckPath>/health</HealthCheckPath>\n        <Matcher>\n          <HttpCode>200</HttpCode>\n        </Matcher>\n        <LoadBalancerArns>\n          <member>{LOAD_BALANCER_ARN}</member>\n        </LoadBalancerArns>\n        <TargetType>ip</TargetType>\n        <IpAddressType>ipv4</IpAddressType>\n      </member>\n    </TargetGroups>\n"
    ))
}

fn describe_target_group_attributes(form: &BTreeMap<String, String>) -> Result<String, ApiError> {
    required_tg(form)?;
    let attributes = [
        (
            "deregistration_delay.timeout_seconds",
            DEREGISTRATION_DELAY_SECONDS.to_string(),
        ),
        ("stickiness.enabled", "false".to_string()),
        ("stickiness.type", "lb_cookie".to_string()),
        ("load_balancing.algorithm.type", "round_robin".to_string()),
        ("slow_start.duration_seconds", "0".to_string()),
    ];
    let mut out = String::from("    <Attributes>\n");
    for (k, v) in attributes {
        out.push_str(&format!(
            "      <member>\n        <Key>{k}</Key>\n        <Value>{v}</Value>\n      </member>\n"
        ));
    }
    out.push_str("    </Attributes>\n");
    Ok(out)
}
