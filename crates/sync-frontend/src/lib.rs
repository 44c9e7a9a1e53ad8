//! `sync-frontend`: uploads a built static frontend to S3.
//!
//! Files are compared with what the bucket holds by content hash (a SHA-256 kept in each
//! object's `x-amz-meta-sha256`), Cache-Control and Content-Type, never by size and time, so a
//! fresh checkout uploads nothing that is already there, and a changed Cache-Control rule is
//! re-applied (with a server-side copy, without sending the bytes again). A sync index under the
//! prefix spares a HeadObject for every object untouched since the last run. Assets go up before
//! HTML, so a page never references a file that is not there yet; stale objects are deleted
//! last, when asked.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::path::PathBuf;
use std::time::Instant;

use swa_gha::{ActionError, Foreign, Gha, md};
use tokio::task::JoinSet;

pub mod index;
mod inputs;
pub mod local;
pub mod rules;
mod s3;
mod summary;

pub use inputs::MAX_CONCURRENCY;
use inputs::{Checked, parse_concurrency};
use summary::{count, human_bytes, summary};

use index::Index;
use local::LocalFile;

/// Inputs: one `--flag` per action input, named exactly as the input.
#[derive(clap::Parser, Debug)]
#[command(
    name = "sync-frontend",
    version,
    about = "Sync a built static frontend to S3: content-hash comparison, Cache-Control per glob, assets before HTML"
)]
pub struct Args {
    /// The S3 bucket to upload to (its name, without `s3://`).
    #[arg(long)]
    pub bucket: String,

    /// The folder to upload.
    #[arg(long, default_value = ".")]
    pub source: PathBuf,

    /// Key prefix the files go under (`site/v2`); none puts them at the bucket's root.
    #[arg(long)]
    pub prefix: Option<String>,

    /// Lines of `glob=value`; the first match wins, then the defaults: `*.html` gets
    /// `no-cache, must-revalidate`, every other file `public, max-age=31536000`.
    #[arg(long)]
    pub cache_control: Option<String>,

    /// Delete objects under the prefix that are not in the source (after the uploads).
    #[arg(long, action = clap::ArgAction::Set, value_parser = swa_gha::parse_bool, default_value = "false")]
    pub delete: bool,

    /// Show what would change and change nothing.
    #[arg(long, action = clap::ArgAction::Set, value_parser = swa_gha::parse_bool, default_value = "false")]
    pub dry_run: bool,

    /// How many requests to S3 run at once (1 to 256).
    #[arg(long, default_value = "16", value_parser = parse_concurrency)]
    pub concurrency: usize,

    /// Upload the files that symbolic links in `source` point to outside it. Without it, such a
    /// link stops the sync before anything is uploaded.
    #[arg(long, action = clap::ArgAction::Set, value_parser = swa_gha::parse_bool, default_value = "false")]
    pub follow_symlinks: bool,

    /// Keep a sync index in the bucket (it spares a HeadObject per unchanged file). It is as
    /// public as the bucket: anyone who can read the site can read its file list.
    #[arg(long, action = clap::ArgAction::Set, value_parser = swa_gha::parse_bool, default_value = "true")]
    pub index: bool,

    /// The sync index's key under the prefix.
    #[arg(long, default_value = index::INDEX_NAME)]
    pub index_key: String,
}

/// Every output the action writes, in the order it writes them.
pub const OUTPUTS: &[&str] = &["uploaded", "updated", "skipped", "deleted", "bytes"];

/// What happens to one file.
#[derive(Debug, Clone)]
enum Change {
    /// Not in the bucket, or its content differs: PutObject.
    Upload { file: LocalFile, new: bool },
    /// Same content, different headers: CopyObject onto itself with the new metadata.
    Update {
        file: LocalFile,
        etag: Option<String>,
        was: String,
    },
}

impl Change {
    fn file(&self) -> &LocalFile {
        match self {
            Change::Upload { file, .. } | Change::Update { file, .. } => file,
        }
    }

    /// What happens, for the log: `upload (new) site/app.js (19 B, …)`.
    fn describe(&self) -> String {
        let (what, key, details) = self.parts();
        format!("{what} {} ({details})", Foreign(key))
    }

    /// The same, as a Markdown list item's text for the step summary.
    fn summary_line(&self) -> String {
        let (what, key, details) = self.parts();
        format!("{what} {} ({})", md::code(key), md::text(&details))
    }

    fn parts(&self) -> (&'static str, &str, String) {
        match self {
            Change::Upload { file, new } => (
                if *new {
                    "upload (new)"
                } else {
                    "upload (changed)"
                },
                &file.key,
                format!(
                    "{}, {}, {}",
                    human_bytes(file.size),
                    file.content_type,
                    file.cache_control
                ),
            ),
            Change::Update { file, was, .. } => (
                "update metadata",
                &file.key,
                format!("{was} -> {}; {}", file.cache_control, file.content_type),
            ),
        }
    }
}

/// The counts the outputs and the summary report.
#[derive(Debug, Default)]
struct Totals {
    pub(crate) uploaded: usize,
    pub(crate) updated: usize,
    pub(crate) skipped: usize,
    pub(crate) deleted: usize,
    pub(crate) bytes: u64,
    /// Objects compared through the sync index, and with HeadObject.
    pub(crate) from_index: usize,
    pub(crate) from_head: usize,
}

/// The objects under a prefix, by key.
type RemoteObjects = HashMap<String, s3::Remote>;

pub async fn run(args: Args, gha: Gha) -> Result<(), ActionError> {
    let checked = Checked::new(args)?;
    let started = Instant::now();

    let (source, prefix, rules, follow) = (
        checked.source.clone(),
        checked.prefix.clone(),
        checked.rules.clone(),
        checked.follow_symlinks,
    );
    let scan = tokio::task::spawn_blocking(move || local::scan(&source, &prefix, &rules, follow))
        .await
        .map_err(|e| ActionError::failed(format!("reading the source folder stopped: {e}")))?
        .map_err(|e| {
            ActionError::failed(format!(
                "could not read the source folder `{}`: {e}",
                checked.source.display()
            ))
        })?;
    for skipped in &scan.skipped {
        gha.warning(format!("skipped {}", Foreign(skipped)));
    }
    if let Some(first) = scan.outside.first() {
        if !checked.follow_symlinks {
            let more = match scan.outside.len() - 1 {
                0 => String::new(),
                n => format!(" (and {n} more)"),
            };
            return Err(ActionError::input(
                "source",
                format!(
                    "holds `{}`{more}, a symbolic link to a file outside `{}`; nothing was \
                     uploaded. Remove the link, or set `follow-symlinks: true` to upload the \
                     file it points to",
                    Foreign(first),
                    checked.source.display()
                ),
            ));
        }
        for link in &scan.outside {
            gha.info(format!(
                "{} links outside the source folder; following it (`follow-symlinks: true`)",
                Foreign(link)
            ));
        }
    }
    if scan.files.is_empty() && checked.delete {
        return Err(ActionError::input(
            "source",
            format!(
                "is `{}`, which holds no files; with `delete: true` that would empty {}, so nothing was done",
                checked.source.display(),
                checked.location()
            ),
        ));
    }
    let local_bytes: u64 = scan.files.iter().map(|f| f.size).sum();
    gha.info(format!(
        "{} files ({}) in `{}` to sync to {}{}",
        scan.files.len(),
        human_bytes(local_bytes),
        checked.source.display(),
        checked.location(),
        if checked.dry_run {
            " (dry run: nothing will be changed)"
        } else {
            ""
        }
    ));

    let aws = swa_aws::Aws::load(gha.env()).await;
    let client = aws.s3();
    let sync = sync(&gha, &client, &checked, scan.files);
    let totals = tokio::select! {
        result = sync => result?,
        signal = swa_gha::cancelled() => {
            return Err(ActionError::failed(format!(
                "cancelled ({signal}); assets are uploaded before pages, so the site still serves whole pages"
            )));
        }
    };

    gha.set_output("uploaded", &totals.uploaded.to_string())?;
    gha.set_output("updated", &totals.updated.to_string())?;
    gha.set_output("skipped", &totals.skipped.to_string())?;
    gha.set_output("deleted", &totals.deleted.to_string())?;
    gha.set_output("bytes", &totals.bytes.to_string())?;
    let elapsed = started.elapsed().as_secs_f64();
    gha.info(format!(
        "{}uploaded {} ({}), updated metadata of {}, unchanged {}, deleted {} in {elapsed:.1}s",
        if checked.dry_run {
            "dry run: would have "
        } else {
            ""
        },
        totals.uploaded,
        human_bytes(totals.bytes),
        totals.updated,
        totals.skipped,
        totals.deleted
    ));
    gha.info(format!(
        "compared {} objects through the sync index and {} with HeadObject",
        totals.from_index, totals.from_head
    ));
    Ok(())
}

async fn sync(
    gha: &Gha,
    client: &swa_aws::s3::Client,
    checked: &Checked,
    files: Vec<LocalFile>,
) -> Result<Totals, ActionError> {
    let bucket = checked.bucket.as_str();
    let index_key = checked.index_key.as_deref();
    let mut remote = s3::list(client, bucket, &checked.prefix).await?;
    let stored = match index_key.and_then(|key| remote.remove(key).map(|_| key)) {
        Some(key) => s3::get_index(client, bucket, key)
            .await?
            .map(|bytes| Index::parse(&bytes))
            .unwrap_or_default(),
        None => Index::default(),
    };
    let (files, clashing): (Vec<LocalFile>, Vec<LocalFile>) = files
        .into_iter()
        .partition(|f| Some(f.key.as_str()) != index_key);
    for file in clashing {
        gha.warning(format!(
            "skipped {}: the action keeps its sync index under that name (see `index-key`)",
            Foreign(&file.relative)
        ));
    }

    let mut totals = Totals::default();
    let mut changes = Vec::new();
    let mut to_check = Vec::new();
    for file in &files {
        match remote.get(&file.key) {
            None => changes.push(Change::Upload {
                file: file.clone(),
                new: true,
            }),
            Some(object) if object.size != file.size => changes.push(Change::Upload {
                file: file.clone(),
                new: false,
            }),
            Some(object) => {
                let known = stored.current(
                    &file.key,
                    object.etag.as_deref(),
                    object.last_modified.as_deref(),
                );
                match known {
                    Some(entry) => {
                        totals.from_index += 1;
                        let seen = s3::Head {
                            sha256: Some(entry.sha256.clone()),
                            cache_control: Some(entry.cache_control.clone()),
                            content_type: Some(entry.content_type.clone()),
                            etag: Some(entry.etag.clone()),
                        };
                        match decide(file.clone(), Some(seen)) {
                            Some(change) => changes.push(change),
                            None => totals.skipped += 1,
                        }
                    }
                    None => to_check.push(file.clone()),
                }
            }
        }
    }

    // Same size and not in the index as listed: the object's own hash and headers decide.
    totals.from_head = to_check.len();
    let compared = bounded(to_check, checked.concurrency, |file| {
        let client = client.clone();
        let bucket = checked.bucket.clone();
        async move {
            let head = s3::head(&client, &bucket, &file.key).await?;
            Ok(decide(file, head))
        }
    })
    .await?;
    for change in compared {
        match change {
            Some(change) => changes.push(change),
            None => totals.skipped += 1,
        }
    }
    changes.sort_by(|a, b| a.file().key.cmp(&b.file().key));

    let local_keys: HashSet<&str> = files.iter().map(|f| f.key.as_str()).collect();
    let mut stale: Vec<String> = if checked.delete {
        remote
            .keys()
            .filter(|k| !local_keys.contains(k.as_str()))
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    stale.sort();

    let (pages, assets): (Vec<Change>, Vec<Change>) =
        changes.into_iter().partition(|c| c.file().html);
    let mut log = Vec::new();
    // The ETag each changed object has now, for the index.
    let mut written: HashMap<String, Option<String>> = HashMap::new();
    for (noun, phase) in [("asset", assets), ("page", pages)] {
        if phase.is_empty() {
            continue;
        }
        gha.group_start(&format!(
            "{} {}",
            if checked.dry_run {
                "Would sync"
            } else {
                "Syncing"
            },
            count(phase.len(), noun)
        ));
        for change in &phase {
            gha.info(format!(
                "{}{}",
                if checked.dry_run { "would " } else { "" },
                change.describe()
            ));
            log.push(change.summary_line());
            match change {
                Change::Upload { file, .. } => {
                    totals.uploaded += 1;
                    totals.bytes += file.size;
                }
                Change::Update { .. } => totals.updated += 1,
            }
        }
        if !checked.dry_run {
            let result = bounded(phase, checked.concurrency, |change| {
                let client = client.clone();
                let bucket = checked.bucket.clone();
                async move {
                    let etag = match &change {
                        Change::Upload { file, .. } => s3::put(&client, &bucket, file).await?,
                        Change::Update { file, etag, .. } => {
                            s3::replace_metadata(&client, &bucket, file, etag.as_deref()).await?
                        }
                    };
                    Ok((change.file().key.clone(), etag))
                }
            })
            .await;
            gha.group_end();
            written.extend(result?);
        } else {
            gha.group_end();
        }
    }

    if !stale.is_empty() {
        gha.group_start(&format!(
            "{} {} not in the source",
            if checked.dry_run {
                "Would delete"
            } else {
                "Deleting"
            },
            count(stale.len(), "object")
        ));
        for key in &stale {
            gha.info(format!(
                "{}delete {}",
                if checked.dry_run { "would " } else { "" },
                Foreign(key)
            ));
            log.push(format!("delete {}", md::code(key)));
        }
        let result = if checked.dry_run {
            Ok(())
        } else {
            s3::delete(client, bucket, &stale).await
        };
        gha.group_end();
        result?;
        totals.deleted = stale.len();
    }

    if let (false, Some(index_key)) = (checked.dry_run, index_key) {
        // The index is an optimisation: failing to store it costs the next run HeadObject calls,
        // not correctness, so it warns rather than fails.
        if let Err(error) = store_index(
            client, checked, index_key, &files, &remote, &written, &stored,
        )
        .await
        {
            gha.warning(format!(
                "{error}; the next run compares objects with HeadObject"
            ));
        }
    }

    gha.summary(&summary(checked, &totals, &log))?;
    Ok(totals)
}

/// Compares a file with what the bucket holds for it.
fn decide(file: LocalFile, seen: Option<s3::Head>) -> Option<Change> {
    let Some(seen) = seen else {
        return Some(Change::Upload { file, new: true });
    };
    if seen.sha256.as_deref() != Some(file.sha256.as_str()) {
        return Some(Change::Upload { file, new: false });
    }
    if seen.cache_control.as_deref() != Some(file.cache_control.as_str())
        || seen.content_type.as_deref() != Some(file.content_type)
    {
        let was = format!(
            "{}; {}",
            seen.cache_control.as_deref().unwrap_or("no Cache-Control"),
            seen.content_type.as_deref().unwrap_or("no Content-Type")
        );
        return Some(Change::Update {
            file,
            etag: seen.etag,
            was,
        });
    }
    None
}

/// Records every file as the bucket now holds it, when that differs from the stored index.
/// After any change the prefix is listed again, and an entry is kept only where the listing
/// shows the ETag this run wrote or compared (so a concurrent writer's object is never vouched
/// for).
async fn store_index(
    client: &swa_aws::s3::Client,
    checked: &Checked,
    index_key: &str,
    files: &[LocalFile],
    before: &RemoteObjects,
    written: &HashMap<String, Option<String>>,
    stored: &Index,
) -> Result<(), ActionError> {
    let relisted;
    let now = if written.is_empty() {
        before
    } else {
        relisted = s3::list(client, &checked.bucket, &checked.prefix).await?;
        &relisted
    };
    let mut index = Index::default();
    for file in files {
        let Some(object) = now.get(&file.key) else {
            continue;
        };
        let expected = match written.get(&file.key) {
            Some(etag) => etag.as_ref(),
            None => before.get(&file.key).and_then(|o| o.etag.as_ref()),
        };
        let (Some(etag), Some(last_modified)) = (&object.etag, &object.last_modified) else {
            continue;
        };
        if expected != Some(etag) {
            continue;
        }
        index.objects.insert(
            file.key.clone(),
            index::Entry {
                sha256: file.sha256.clone(),
                cache_control: file.cache_control.clone(),
                content_type: file.content_type.to_string(),
                etag: etag.clone(),
                last_modified: last_modified.clone(),
            },
        );
    }
    if index.objects == stored.objects {
        return Ok(());
    }
    s3::put_index(client, &checked.bucket, index_key, index.to_json()).await
}

/// Runs `work` on every item with at most `limit` in flight. On the first failure no new item
/// starts; the ones in flight finish, and the failure is returned.
async fn bounded<T, R, F, Fut>(
    items: Vec<T>,
    limit: usize,
    mut work: F,
) -> Result<Vec<R>, ActionError>
where
    F: FnMut(T) -> Fut,
    Fut: Future<Output = Result<R, ActionError>> + Send + 'static,
    R: Send + 'static,
{
    let mut results = Vec::with_capacity(items.len());
    let mut items = items.into_iter();
    let mut running = JoinSet::new();
    let mut failure = None;
    loop {
        while failure.is_none() && running.len() < limit.max(1) {
            let Some(item) = items.next() else { break };
            running.spawn(work(item));
        }
        let Some(done) = running.join_next().await else {
            break;
        };
        match done {
            Ok(Ok(result)) => results.push(result),
            Ok(Err(error)) => {
                failure.get_or_insert(error);
            }
            Err(join) => {
                failure.get_or_insert(ActionError::failed(format!("a request stopped: {join}")));
            }
        }
    }
    match failure {
        Some(error) => Err(error),
        None => Ok(results),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bounded_keeps_to_its_limit_and_stops_starting_work_after_a_failure() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let in_flight = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let started = Arc::new(AtomicUsize::new(0));
        let result = bounded((0..40).collect(), 3, |n: usize| {
            let (in_flight, peak, started) = (in_flight.clone(), peak.clone(), started.clone());
            async move {
                started.fetch_add(1, Ordering::SeqCst);
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                tokio::task::yield_now().await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                if n == 10 {
                    Err(ActionError::failed("item 10 failed"))
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(result.expect_err("fails").to_string(), "item 10 failed");
        assert!(peak.load(Ordering::SeqCst) <= 3);
        assert!(started.load(Ordering::SeqCst) < 40);
        let all = bounded((0..40).collect(), 4, |n: usize| async move { Ok(n * 2) })
            .await
            .expect("all succeed");
        assert_eq!(all.len(), 40);
        assert_eq!(all.iter().sum::<usize>(), 2 * (0..40).sum::<usize>());
    }
}
