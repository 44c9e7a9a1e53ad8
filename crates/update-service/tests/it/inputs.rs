//! `with:` keys written with `_` for `-` reach the action as `INPUT_DRY_RUN`; the runner only
//! warns about them. The action refuses them before any call, so `dry_run: true` never deploys.

use proptest::prelude::*;
use update_service::{ImageRef, RevisionSpec};

use super::{REPO, mutating, sandbox};

#[test]
fn dry_run_written_with_an_underscore_exits_2_and_changes_nothing() {
    let sandbox = sandbox("healthy");
    let mut run = swa_testing::Step::new(env!("CARGO_BIN_EXE_update-service"))
        .input("cluster", "startupwebapp-cluster")
        .input("service", "startupwebapp-service")
        .input("image", format!("{REPO}:release-4"))
        .env("INPUT_DRY_RUN", "true")
        .envs(sandbox.env())
        .run();
    run.log = run.log_and_stderr();
    assert_eq!(run.code, 2, "{}", run.log);
    assert!(mutating(&sandbox).is_empty(), "{:?}", mutating(&sandbox));
    assert!(
        sandbox.calls().is_empty(),
        "no call at all: {:?}",
        sandbox.calls()
    );
    insta::assert_snapshot!(run.errors().join("\n"), @r#"
        ::error title=Unknown input `INPUT_DRY_RUN`::`INPUT_DRY_RUN` is set, but this action has no input by that name and would ignore it: did you mean `dry-run`?
        "#);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn any_revision_parses_or_is_refused(text in prop_oneof![
        any::<String>(),
        "(arn:aws:ecs:[a-z0-9-]{0,12}:[0-9]{0,12}:task-definition/)?[a-z_-]{0,10}:[0-9-]{0,12}",
    ]) {
        if let Ok(RevisionSpec::Named(name)) = RevisionSpec::parse(&text) {
            prop_assert_eq!(name.as_str(), text.trim());
        }
    }

    #[test]
    fn any_image_parses_or_is_refused(text in prop_oneof![
        any::<String>(),
        "([a-z0-9.-]{0,12}(:[0-9]{0,6})?/)?[a-z0-9/_.-]{0,16}(:[A-Za-z0-9_.-]{0,10})?(@sha256:[0-9a-f]{0,64})?",
    ]) {
        if let Ok(image) = ImageRef::parse(&text) {
            prop_assert!(image.tag.is_some() || image.digest.is_some(), "{:?}", image);
        }
    }
}
