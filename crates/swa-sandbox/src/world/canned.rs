//! The canned output of the app's containers: gunicorn starting or crashing, and the one-off
//! commands (migrations, their plan, checks, collectstatic).

use super::{MIGRATION_FAMILY, World};

impl World {
    /// The scripted output and exit code (None: runs until stopped) of a one-off task.
    pub(super) fn script_for(&self, i: usize) -> (Vec<String>, Option<i32>) {
        let t = &self.tasks[i];
        let command = t.command.join(" ");
        if command.contains("migrate") {
            if command.contains("--plan") {
                return (migration_plan(self.scenario.destructive_migration), Some(0));
            }
            if t.family == MIGRATION_FAMILY && self.scenario.migration_fails {
                return (migration_failure(), Some(1));
            }
            return (
                migration_success(self.scenario.destructive_migration),
                Some(0),
            );
        }
        if command.contains("gunicorn") || command.contains("runserver") {
            return (gunicorn_start_lines(), None);
        }
        if command.contains("check") {
            return (
                vec!["System check identified no issues (0 silenced).".into()],
                Some(0),
            );
        }
        if command.contains("collectstatic") {
            return (
                vec!["212 static files copied to '/app/staticfiles', 14 unmodified.".into()],
                Some(0),
            );
        }
        if command.is_empty() {
            return (vec![], Some(0));
        }
        (vec![format!("$ {command}")], Some(0))
    }
}

pub(super) fn gunicorn_start_lines() -> Vec<String> {
    vec![
        "[INFO] Starting gunicorn 23.0.0".into(),
        "[INFO] Listening at: http://0.0.0.0:8000 (1)".into(),
        "[INFO] Using worker: sync".into(),
        "[INFO] Booting worker with pid: 7".into(),
        "[INFO] Booting worker with pid: 8".into(),
        "[INFO] Booting worker with pid: 9".into(),
    ]
}

pub(super) fn crash_traceback() -> Vec<String> {
    vec![
        "[INFO] Starting gunicorn 23.0.0".into(),
        "[INFO] Booting worker with pid: 7".into(),
        "[ERROR] Exception in worker process".into(),
        "Traceback (most recent call last):".into(),
        "  File \"/usr/local/lib/python3.12/site-packages/gunicorn/arbiter.py\", line 608, in spawn_worker".into(),
        "    worker.init_process()".into(),
        "  File \"/app/StartupWebApp/wsgi.py\", line 16, in <module>".into(),
        "    application = get_wsgi_application()".into(),
        "  File \"/usr/local/lib/python3.12/site-packages/django/conf/__init__.py\", line 89, in __getattr__".into(),
        "    self._setup(name)".into(),
        "django.core.exceptions.ImproperlyConfigured: The SECRET_KEY setting must not be empty.".into(),
        "[INFO] Worker exiting (pid: 7)".into(),
        "[ERROR] Reason: Worker failed to boot.".into(),
    ]
}

pub(super) fn migration_plan(destructive: bool) -> Vec<String> {
    let mut lines = vec![
        "Planned operations:".to_string(),
        "catalog.0018_product_search_index".into(),
        "    Create model ProductSearchIndex".into(),
        "orders.0042_order_tracking_number".into(),
        "    Add field tracking_number to order".into(),
        "    Create index orders_ord_trackin_5f2c1e_idx on field(s) tracking_number of model order"
            .into(),
    ];
    if destructive {
        lines.push("    Alter field status on order".into());
        lines.push("user.0031_remove_profile_legacy_phone".into());
        lines.push("    Remove field legacy_phone from profile".into());
    }
    lines
}

pub(super) fn migration_success(destructive: bool) -> Vec<String> {
    let mut lines = vec![
        "Operations to perform:".to_string(),
        "  Apply all migrations: admin, auth, catalog, contenttypes, orders, sessions, user".into(),
        "Running migrations:".into(),
        "  Applying catalog.0018_product_search_index... OK".into(),
        "  Applying orders.0042_order_tracking_number... OK".into(),
    ];
    if destructive {
        lines.push("  Applying user.0031_remove_profile_legacy_phone... OK".into());
    }
    lines
}

pub(super) fn migration_failure() -> Vec<String> {
    vec![
        "Operations to perform:".to_string(),
        "  Apply all migrations: admin, auth, catalog, contenttypes, orders, sessions, user".into(),
        "Running migrations:".into(),
        "  Applying catalog.0018_product_search_index... OK".into(),
        "  Applying orders.0042_order_tracking_number...Traceback (most recent call last):".into(),
        "  File \"/usr/local/lib/python3.12/site-packages/django/db/backends/utils.py\", line 105, in _execute".into(),
        "    return self.cursor.execute(sql, params)".into(),
        "psycopg2.errors.DuplicateColumn: column \"tracking_number\" of relation \"orders_order\" already exists".into(),
        "".into(),
        "The above exception was the direct cause of the following exception:".into(),
        "".into(),
        "Traceback (most recent call last):".into(),
        "  File \"/app/manage.py\", line 22, in <module>".into(),
        "    main()".into(),
        "  File \"/usr/local/lib/python3.12/site-packages/django/core/management/commands/migrate.py\", line 357, in handle".into(),
        "    post_migrate_state = executor.migrate(".into(),
        "  File \"/usr/local/lib/python3.12/site-packages/django/db/migrations/executor.py\", line 135, in migrate".into(),
        "    state = self._migrate_all_forwards(".into(),
        "django.db.utils.ProgrammingError: column \"tracking_number\" of relation \"orders_order\" already exists".into(),
    ]
}
