//! Strategy overrides: `strategy`, `bake-time` and the canary and linear settings change how ECS
//! rolls this update out. They are checked against each other before any AWS call, against the
//! service's own strategy once DescribeServices has read it, and merged into the service's
//! deployment configuration, which keeps everything else it says (the percentages, the circuit
//! breaker, the alarms, the lifecycle hooks). Without them no deployment configuration is sent.

use std::fmt;

use aws_sdk_ecs::types::{
    CanaryConfiguration, DeploymentConfiguration, DeploymentControllerType, DeploymentStrategy,
    LinearConfiguration, Service,
};
use swa_gha::ActionError;

use crate::Args;

/// A deployment strategy as the `strategy` input names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Strategy {
    Rolling,
    BlueGreen,
    Linear,
    Canary,
}

impl Strategy {
    fn ecs(self) -> DeploymentStrategy {
        match self {
            Strategy::Rolling => DeploymentStrategy::Rolling,
            Strategy::BlueGreen => DeploymentStrategy::BlueGreen,
            Strategy::Linear => DeploymentStrategy::Linear,
            Strategy::Canary => DeploymentStrategy::Canary,
        }
    }

    /// As the input writes it.
    fn input(self) -> &'static str {
        match self {
            Strategy::Rolling => "rolling",
            Strategy::BlueGreen => "blue-green",
            Strategy::Linear => "linear",
            Strategy::Canary => "canary",
        }
    }
}

/// A whole number of minutes from 0 to 1440 (24 hours), written as a duration (`10m`, `1h`,
/// `0m`): the range of every bake time ECS takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Minutes(pub i32);

impl Minutes {
    /// Parses a bake time; the error ends "has the value `…`, which …".
    pub fn parse(text: &str) -> Result<Minutes, String> {
        let text = text.trim();
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("has no unit; write minutes such as `{text}m`"));
        }
        let duration = swa_gha::parse_duration(text)?;
        if duration.subsec_nanos() != 0 || duration.as_secs() % 60 != 0 {
            return Err(
                "is not a whole number of minutes (ECS takes minutes); such as `10m` or `1h`"
                    .into(),
            );
        }
        // parse_duration's ceiling is 24 hours, ECS's 1440 minutes.
        i32::try_from(duration.as_secs() / 60)
            .map(Minutes)
            .map_err(|_| "is longer than 24h".to_string())
    }
}

impl fmt::Display for Minutes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}m", self.0)
    }
}

/// A percentage in multiples of 0.1, as ECS takes traffic shares; kept in tenths, so exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Percent {
    tenths: u16,
}

impl Percent {
    /// `canary-percent`: 0.1 to 100.
    pub fn parse_canary(text: &str) -> Result<Percent, String> {
        Percent::parse(text, 1)
    }

    /// `linear-step-percent`: 3 to 100.
    pub fn parse_linear_step(text: &str) -> Result<Percent, String> {
        Percent::parse(text, 30)
    }

    /// `12.5` (or `12.5%`), from `min_tenths` tenths to 100; the error ends "has the value
    /// `…`, which …".
    fn parse(text: &str, min_tenths: u16) -> Result<Percent, String> {
        let range = format!(
            "is not from {} to 100, the range ECS takes",
            Percent { tenths: min_tenths }
        );
        let number = text.trim();
        let number = number.strip_suffix('%').unwrap_or(number);
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !digits(whole) || !digits(fraction) {
            return Err("is not a percentage such as `10` or `12.5`".into());
        }
        if fraction.len() > 1 && fraction.bytes().skip(1).any(|b| b != b'0') {
            return Err("is not a multiple of 0.1 (ECS takes tenths of a percent)".into());
        }
        let whole = whole.trim_start_matches('0');
        if whole.len() > 3 {
            return Err(range);
        }
        let whole: u16 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| range.clone())?
        };
        let tenth = fraction.bytes().next().map_or(0, |b| u16::from(b - b'0'));
        let tenths = whole * 10 + tenth;
        if !(min_tenths..=1000).contains(&tenths) {
            return Err(range);
        }
        Ok(Percent { tenths })
    }

    /// As ECS takes it.
    pub fn value(self) -> f64 {
        f64::from(self.tenths) / 10.0
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.tenths % 10 {
            0 => write!(f, "{}", self.tenths / 10),
            tenth => write!(f, "{}.{tenth}", self.tenths / 10),
        }
    }
}

/// The strategy overrides given.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Overrides {
    strategy: Option<Strategy>,
    bake_time: Option<Minutes>,
    canary_percent: Option<Percent>,
    canary_bake_time: Option<Minutes>,
    linear_step_percent: Option<Percent>,
    linear_step_bake_time: Option<Minutes>,
}

/// The overrides merged into the service's deployment configuration: what UpdateService sends,
/// and what the log and the summary say about it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Applied {
    pub configuration: DeploymentConfiguration,
    pub description: String,
}

impl Overrides {
    /// The overrides in `args`, checked as far as the inputs alone allow: the canary settings
    /// need the canary strategy, the linear ones the linear strategy, `bake-time` any strategy
    /// but rolling.
    pub(crate) fn from_args(args: &Args) -> Result<Overrides, ActionError> {
        let overrides = Overrides {
            strategy: args.strategy,
            bake_time: args.bake_time,
            canary_percent: args.canary_percent,
            canary_bake_time: args.canary_bake_time,
            linear_step_percent: args.linear_step_percent,
            linear_step_bake_time: args.linear_step_bake_time,
        };
        if let Some(strategy) = overrides.strategy {
            overrides.fit(
                &strategy.ecs(),
                &format!("`strategy` is `{}`", strategy.input()),
            )?;
        } else if let (Some(canary), Some(linear)) = (overrides.canary(), overrides.linear()) {
            return Err(ActionError::input(
                canary,
                format!(
                    "sets up a canary deployment and `{linear}` a linear one; a deployment has one strategy"
                ),
            ));
        }
        Ok(overrides)
    }

    pub(crate) fn is_empty(&self) -> bool {
        *self == Overrides::default()
    }

    /// The first canary input given.
    fn canary(&self) -> Option<&'static str> {
        [
            ("canary-percent", self.canary_percent.is_some()),
            ("canary-bake-time", self.canary_bake_time.is_some()),
        ]
        .into_iter()
        .find_map(|(name, given)| given.then_some(name))
    }

    /// The first linear input given.
    fn linear(&self) -> Option<&'static str> {
        [
            ("linear-step-percent", self.linear_step_percent.is_some()),
            (
                "linear-step-bake-time",
                self.linear_step_bake_time.is_some(),
            ),
        ]
        .into_iter()
        .find_map(|(name, given)| given.then_some(name))
    }

    /// The first input given, for an error about them all.
    fn first(&self) -> &'static str {
        if self.strategy.is_some() {
            "strategy"
        } else if self.bake_time.is_some() {
            "bake-time"
        } else {
            self.canary().or(self.linear()).unwrap_or("strategy")
        }
    }

    /// Whether the settings given fit `strategy`, the one the update will use (`why` says
    /// where it comes from).
    fn fit(&self, strategy: &DeploymentStrategy, why: &str) -> Result<(), ActionError> {
        if let Some(canary) = self.canary()
            && *strategy != DeploymentStrategy::Canary
        {
            return Err(ActionError::input(
                canary,
                format!("applies to the canary strategy, but {why}; set `strategy: canary`"),
            ));
        }
        if let Some(linear) = self.linear()
            && *strategy != DeploymentStrategy::Linear
        {
            return Err(ActionError::input(
                linear,
                format!("applies to the linear strategy, but {why}; set `strategy: linear`"),
            ));
        }
        if self.bake_time.is_some() && *strategy == DeploymentStrategy::Rolling {
            return Err(ActionError::input(
                "bake-time",
                format!(
                    "applies to the blue-green, linear and canary strategies, but {why}; set `strategy` to one of them"
                ),
            ));
        }
        Ok(())
    }

    /// The deployment configuration UpdateService sends for `service`: its own with the
    /// overrides in, or none at all without overrides. An override that does not fit the
    /// service's strategy (when `strategy` does not replace it), a blue-green deployment without
    /// a bake time (ECS requires one), or a service that ECS does not deploy itself, is bad
    /// input.
    pub(crate) fn apply(&self, service: &Service) -> Result<Option<Applied>, ActionError> {
        if self.is_empty() {
            return Ok(None);
        }
        let name = service.service_name().unwrap_or_default();
        if let Some(controller) = service.deployment_controller().map(|c| c.r#type())
            && *controller != DeploymentControllerType::Ecs
        {
            return Err(ActionError::input(
                self.first(),
                format!(
                    "sets a deployment strategy, which ECS applies only to services it deploys itself, but service `{name}` uses the {} deployment controller",
                    controller.as_str()
                ),
            ));
        }
        let current = service
            .deployment_configuration()
            .cloned()
            .unwrap_or_else(|| DeploymentConfiguration::builder().build());
        // A service that never named a strategy rolls.
        let was = current
            .strategy()
            .cloned()
            .unwrap_or(DeploymentStrategy::Rolling);
        let strategy = self.strategy.map_or_else(|| was.clone(), Strategy::ecs);
        if self.strategy.is_none() {
            self.fit(
                &strategy,
                &format!(
                    "service `{name}` deploys with {} and `strategy` is not set",
                    was.as_str()
                ),
            )?;
        }
        let configuration = self.merge(current, &strategy);
        if strategy == DeploymentStrategy::BlueGreen && configuration.bake_time_in_minutes.is_none()
        {
            return Err(ActionError::input(
                "bake-time",
                format!(
                    "is not set, and service `{name}` has no bake time of its own; ECS takes a blue-green deployment only with one (such as `10m`, or `0m`)"
                ),
            ));
        }
        Ok(Some(Applied {
            configuration,
            description: self.describe(&strategy, &was),
        }))
    }

    /// `current` with the overrides in, and without the settings that do not apply to
    /// `strategy` (ECS takes the canary settings only for a canary deployment, the linear
    /// ones only for a linear one, early success only for a rolling one, and a bake time for
    /// any but a rolling one).
    fn merge(
        &self,
        mut current: DeploymentConfiguration,
        strategy: &DeploymentStrategy,
    ) -> DeploymentConfiguration {
        current.strategy = Some(strategy.clone());
        if let Some(minutes) = self.bake_time {
            current.bake_time_in_minutes = Some(minutes.0);
        }
        if *strategy == DeploymentStrategy::Canary {
            if self.canary().is_some() {
                let was = current.canary_configuration.take();
                let was = was.as_ref();
                current.canary_configuration = Some(
                    CanaryConfiguration::builder()
                        .set_canary_percent(
                            self.canary_percent
                                .map(Percent::value)
                                .or(was.and_then(CanaryConfiguration::canary_percent)),
                        )
                        .set_canary_bake_time_in_minutes(
                            self.canary_bake_time
                                .map(|m| m.0)
                                .or(was.and_then(CanaryConfiguration::canary_bake_time_in_minutes)),
                        )
                        .build(),
                );
            }
        } else {
            current.canary_configuration = None;
        }
        if *strategy == DeploymentStrategy::Linear {
            if self.linear().is_some() {
                let was = current.linear_configuration.take();
                let was = was.as_ref();
                current.linear_configuration = Some(
                    LinearConfiguration::builder()
                        .set_step_percent(
                            self.linear_step_percent
                                .map(Percent::value)
                                .or(was.and_then(LinearConfiguration::step_percent)),
                        )
                        .set_step_bake_time_in_minutes(
                            self.linear_step_bake_time
                                .map(|m| m.0)
                                .or(was.and_then(LinearConfiguration::step_bake_time_in_minutes)),
                        )
                        .build(),
                );
            }
        } else {
            current.linear_configuration = None;
        }
        if *strategy == DeploymentStrategy::Rolling {
            current.bake_time_in_minutes = None;
        } else {
            current.early_success_criteria = None;
        }
        current
    }

    /// What the overrides set, for the log and the summary: `strategy CANARY (was ROLLING),
    /// canary 10%, canary bake time 5m`.
    fn describe(&self, strategy: &DeploymentStrategy, was: &DeploymentStrategy) -> String {
        let mut parts = Vec::new();
        if self.strategy.is_some() {
            parts.push(if strategy == was {
                format!("strategy {} (unchanged)", strategy.as_str())
            } else {
                format!("strategy {} (was {})", strategy.as_str(), was.as_str())
            });
        }
        if let Some(minutes) = self.bake_time {
            parts.push(format!("bake time {minutes}"));
        }
        if let Some(percent) = self.canary_percent {
            parts.push(format!("canary {percent}%"));
        }
        if let Some(minutes) = self.canary_bake_time {
            parts.push(format!("canary bake time {minutes}"));
        }
        if let Some(percent) = self.linear_step_percent {
            parts.push(format!("linear steps of {percent}%"));
        }
        if let Some(minutes) = self.linear_step_bake_time {
            parts.push(format!("linear step bake time {minutes}"));
        }
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bake_times_are_whole_minutes_up_to_a_day() {
        for (text, minutes) in [
            ("10m", 10),
            ("0m", 0),
            ("1h", 60),
            ("1h30m", 90),
            ("24h", 1440),
        ] {
            assert_eq!(Minutes::parse(text), Ok(Minutes(minutes)), "{text}");
        }
        for (text, error) in [
            ("10", "has no unit; write minutes such as `10m`"),
            (
                "90s",
                "is not a whole number of minutes (ECS takes minutes); such as `10m` or `1h`",
            ),
            (
                "1441m",
                "is longer than 24h, the longest duration an input takes",
            ),
            (
                "soon",
                "is not a duration; expected a number and a unit, such as 90s, 10m or 1h",
            ),
            (
                "-5m",
                "is not a duration; expected a number and a unit, such as 90s, 10m or 1h",
            ),
        ] {
            assert_eq!(Minutes::parse(text), Err(error.to_string()), "{text}");
        }
    }

    #[test]
    fn percentages_are_tenths_within_the_range_ecs_takes() {
        for (text, value) in [
            ("0.1", 0.1),
            ("5", 5.0),
            ("12.5", 12.5),
            ("12.50", 12.5),
            ("10%", 10.0),
            ("100", 100.0),
            ("100.0", 100.0),
            ("007", 7.0),
        ] {
            assert_eq!(
                Percent::parse_canary(text).map(Percent::value),
                Ok(value),
                "{text}"
            );
        }
        for (text, error) in [
            ("0", "is not from 0.1 to 100, the range ECS takes"),
            ("100.1", "is not from 0.1 to 100, the range ECS takes"),
            ("99999999999", "is not from 0.1 to 100, the range ECS takes"),
            (
                "12.25",
                "is not a multiple of 0.1 (ECS takes tenths of a percent)",
            ),
            ("-5", "is not a percentage such as `10` or `12.5`"),
            (".5", "is not a percentage such as `10` or `12.5`"),
            ("1e2", "is not a percentage such as `10` or `12.5`"),
            ("NaN", "is not a percentage such as `10` or `12.5`"),
            ("", "is not a percentage such as `10` or `12.5`"),
        ] {
            assert_eq!(
                Percent::parse_canary(text),
                Err(error.to_string()),
                "{text}"
            );
        }
        assert_eq!(
            Percent::parse_linear_step("2.9"),
            Err("is not from 3 to 100, the range ECS takes".to_string())
        );
        assert_eq!(Percent::parse_linear_step("3").map(Percent::value), Ok(3.0));
    }

    #[test]
    fn percentages_print_as_written() {
        for text in ["0.1", "5", "12.5", "100"] {
            assert_eq!(
                Percent::parse_canary(text).map(|p| p.to_string()),
                Ok(text.to_string())
            );
        }
    }
}
