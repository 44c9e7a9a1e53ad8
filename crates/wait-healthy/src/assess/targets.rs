//! The new tasks' targets: their health in each target group, the ones last seen unhealthy and
//! why, and what the health check expects.

use aws_sdk_elasticloadbalancingv2::types::{TargetHealth, TargetHealthDescription};
use swa_gha::Foreign;

use super::LoadBalancer;

/// The new tasks' addresses and their health in each target group.
#[derive(Debug, Clone, PartialEq)]
pub struct Targets {
    /// The RUNNING new tasks' private IP addresses, or why they could not be read.
    pub ips: Result<Vec<String>, String>,
    /// Each target group's health, or DescribeTargetHealth's error; empty while fewer tasks
    /// have an address than are desired.
    pub groups: Vec<(LoadBalancer, Result<Vec<TargetHealthDescription>, String>)>,
}

/// A new task's target as last seen neither healthy nor still registering: its state and the
/// load balancer's reason, which are gone once ECS has replaced the task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnhealthyTarget {
    /// `ip:port`.
    pub target: String,
    pub ip: String,
    /// The target group's short name.
    pub group: String,
    pub state: String,
    /// `Target.ResponseCodeMismatch`, `Target.Timeout`, ...
    pub reason: Option<String>,
    /// `Health checks failed with these codes: [503]`, ...
    pub description: Option<String>,
}

impl UnhealthyTarget {
    /// `10.0.1.48:8000 unhealthy: Target.ResponseCodeMismatch (Health checks failed with these
    /// codes: [503])`.
    pub fn line(&self) -> String {
        let mut line = format!("{} {}", self.target, Foreign(&self.state));
        match (&self.reason, &self.description) {
            (Some(r), Some(d)) => line.push_str(&format!(": {} ({})", Foreign(r), Foreign(d))),
            (Some(one), None) | (None, Some(one)) => line.push_str(&format!(": {}", Foreign(one))),
            (None, None) => {}
        }
        line
    }
}

/// What a target group's health check asks of a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    pub group: String,
    pub protocol: Option<String>,
    pub path: Option<String>,
    pub port: Option<String>,
    /// The HTTP codes (or gRPC codes) that count as healthy.
    pub matcher: Option<String>,
}

impl HealthCheck {
    /// `HTTP 200 from GET /health on traffic-port`.
    pub fn expects(&self) -> String {
        let protocol = self.protocol.as_deref().unwrap_or("HTTP");
        let mut text = match &self.matcher {
            Some(codes) => format!("{} {}", Foreign(protocol), Foreign(codes)),
            None => format!("a {} answer", Foreign(protocol)),
        };
        if let Some(path) = &self.path {
            text.push_str(&format!(" from GET {}", Foreign(path)));
        }
        if let Some(port) = &self.port {
            text.push_str(&format!(" on {}", Foreign(port)));
        }
        text
    }
}

/// Records the new tasks' targets that are unhealthy (or unused, unavailable): the latest state
/// of each replaces the one before. Healthy, registering and draining targets say nothing new.
pub fn record_unhealthy(targets: &Targets, seen: &mut Vec<UnhealthyTarget>) {
    let Ok(ips) = &targets.ips else { return };
    for (lb, health) in &targets.groups {
        let Ok(descriptions) = health else { continue };
        for description in descriptions {
            let Some(target) = description.target() else {
                continue;
            };
            let Some(ip) = target.id().filter(|id| ips.iter().any(|ip| ip == id)) else {
                continue;
            };
            let Some(health) = description.target_health() else {
                continue;
            };
            let state = health.state().map(|s| s.as_str()).unwrap_or("unknown");
            if matches!(state, "healthy" | "initial" | "draining") {
                continue;
            }
            let found = UnhealthyTarget {
                target: match target.port() {
                    Some(port) => format!("{ip}:{port}"),
                    None => ip.to_string(),
                },
                ip: ip.to_string(),
                group: short_target_group(&lb.target_group).to_string(),
                state: state.to_string(),
                reason: health.reason().map(|r| r.as_str().to_string()),
                description: health.description().map(String::from),
            };
            match seen
                .iter_mut()
                .find(|s| s.target == found.target && s.group == found.group)
            {
                Some(known) => *known = found,
                None => seen.push(found),
            }
        }
    }
}

/// The health of the target at `ip` (and `port`, when the service names one) in a target
/// group's descriptions; `None` when it is not registered there.
pub fn health_of<'a>(
    descriptions: &'a [TargetHealthDescription],
    ip: &str,
    port: Option<i32>,
) -> Option<&'a TargetHealth> {
    descriptions
        .iter()
        .find(|d| {
            d.target()
                .is_some_and(|t| t.id() == Some(ip) && (port.is_none() || t.port() == port))
        })
        .and_then(|d| d.target_health())
}

/// What keeps the new tasks' targets from being healthy; empty when they all are.
pub fn target_problems(targets: &Targets, desired: i32) -> Vec<String> {
    let ips = match &targets.ips {
        Ok(ips) => ips,
        Err(e) => return vec![format!("could not read the new tasks: {e}")],
    };
    if ips.len() < desired as usize {
        return vec![format!(
            "{}/{desired} new tasks have an IP address",
            ips.len()
        )];
    }
    let mut problems = Vec::new();
    for (lb, health) in &targets.groups {
        let group = short_target_group(&lb.target_group);
        let descriptions = match health {
            Ok(descriptions) => descriptions,
            Err(e) => {
                problems.push(format!(
                    "DescribeTargetHealth {group} failed: {}",
                    Foreign(e)
                ));
                continue;
            }
        };
        for ip in ips {
            let label = match lb.port {
                Some(p) => format!("{ip}:{p}"),
                None => ip.clone(),
            };
            let Some(health) = health_of(descriptions, ip, lb.port) else {
                problems.push(format!("target {label} not registered in {group}"));
                continue;
            };
            let state = health.state().map(|s| s.as_str()).unwrap_or("unknown");
            if state != "healthy" {
                let reason = match (health.reason(), health.description()) {
                    (Some(r), Some(d)) => format!(": {} ({})", r.as_str(), Foreign(d)),
                    (Some(r), None) => format!(": {}", r.as_str()),
                    (None, Some(d)) => format!(": {}", Foreign(d)),
                    (None, None) => String::new(),
                };
                problems.push(format!("target {label} {state}{reason}"));
            }
        }
    }
    problems
}

/// `arn:…:targetgroup/name/0123` -> `name`.
fn short_target_group(arn: &str) -> &str {
    arn.split('/').nth(1).unwrap_or(arn)
}
