//! Task and voice management on [`Client`]: the task list as a `Stream`, one task as a typed
//! job, deleting a task, and the cloned and system voices as `Stream`s. Lists are read to
//! their end, page by page, with no silent cap (see `provider::paging`).

use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};

use super::Client;
use crate::error::Error;
use crate::model::{JobId, TaskDetail, TaskFilter, TaskSummary, UnreadRecords, Voice};
use crate::provider::paging::walk_counting;
use tracing::Instrument as _;

impl Client {
    /// The account's tasks as a stream, every page read in turn (VMEG; JimmyAI has no task
    /// list: the stream's one item is `Unsupported`). [`TaskFilter::kind`] is sent to the
    /// vendor; [`TaskFilter::status`] is applied here, on the normalized status, across all
    /// pages: a vendor word given as `TaskStatus::Unknown` is read as the listed tasks' words
    /// are (VMEG `finished` is `Succeeded`), and a word this crate does not know matches the
    /// same word in any case and spacing. The vendor's order is UNKNOWN (do not rely on it); a task created or deleted
    /// while the list is read may be missed or seen twice. Records that cannot be read are
    /// skipped, and an answer holding no list (`data: null`) lists as empty: a task missing
    /// here proves nothing by itself. To learn whether the listing was complete, use
    /// [`Client::tasks_counting_unread`]; to learn whether a submit created a task,
    /// [`Client::reconcile`].
    ///
    /// ```
    /// use futures::TryStreamExt;
    /// use voiceclone::{JobKind, TaskFilter, TaskStatus};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let sim = voiceclone_sim::Simulator::start_with(voiceclone_sim::SimConfig::default().with_speed(1000.0)).await?;
    /// # let client = voiceclone::Client::builder(voiceclone::Provider::Vmeg).api_key(sim.api_key()).base_url(sim.base_url()).build()?;
    /// # let wait = voiceclone::WaitPolicy::for_provider(voiceclone::Provider::Vmeg).with_first_interval(std::time::Duration::from_millis(5));
    /// # let job = client.clone_voice(&voiceclone::CloneRequest::new("https://cdn.example.com/sample.wav").name("narrator")).await?;
    /// # let voice = client.wait_for_clone(&job.id, &wait).await?;
    /// let clones: Vec<_> = client.tasks(TaskFilter::all().kind(JobKind::Clone)).try_collect().await?;
    /// assert_eq!(clones.len(), 1);
    /// let failed: Vec<_> = client
    ///     .tasks(TaskFilter::all().kind(JobKind::Clone).status(TaskStatus::Failed))
    ///     .try_collect()
    ///     .await?;
    /// assert!(failed.is_empty());
    /// # Ok(())
    /// # }
    /// ```
    pub fn tasks(&self, filter: TaskFilter) -> BoxStream<'static, Result<TaskSummary, Error>> {
        self.task_stream(filter, None)
    }

    /// [`Client::tasks`], counting in `unread` the records a page sent but could not be read
    /// (no usable id, not a record), which the stream skips, and noting a listing that ended
    /// on an answer holding no list at all (`data: null`: listed as empty,
    /// [`UnreadRecords::unlisted`]). Unless [`UnreadRecords::is_complete`], the listing is
    /// incomplete, and a task missing from it may still exist.
    ///
    /// ```
    /// use futures::TryStreamExt;
    /// use voiceclone::{TaskFilter, UnreadRecords};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let sim = voiceclone_sim::Simulator::start_with(voiceclone_sim::SimConfig::default().with_speed(1000.0)).await?;
    /// # let client = voiceclone::Client::builder(voiceclone::Provider::Vmeg).api_key(sim.api_key()).base_url(sim.base_url()).build()?;
    /// # client.clone_voice(&voiceclone::CloneRequest::new("https://cdn.example.com/sample.wav")).await?;
    /// let unread = UnreadRecords::new();
    /// let tasks: Vec<_> = client.tasks_counting_unread(TaskFilter::all(), &unread).try_collect().await?;
    /// assert_eq!(tasks.len(), 1);
    /// assert!(unread.is_complete()); // nothing skipped, and the answer held its list
    /// # Ok(())
    /// # }
    /// ```
    pub fn tasks_counting_unread(
        &self,
        filter: TaskFilter,
        unread: &UnreadRecords,
    ) -> BoxStream<'static, Result<TaskSummary, Error>> {
        self.task_stream(filter, Some(unread.clone()))
    }

    fn task_stream(
        &self,
        filter: TaskFilter,
        unread: Option<UnreadRecords>,
    ) -> BoxStream<'static, Result<TaskSummary, Error>> {
        let client = self.clone();
        let provider = self.provider();
        let kind = filter.kind;
        let filter = filter.with_status_word_read_as(provider);
        walk_counting(
            "task list",
            move |page| {
                let client = client.clone();
                async move { client.b().tasks_page(client.t(), kind, page).await }
            },
            unread,
        )
        .map_err(move |e| e.with_provider(provider).with_operation_if_unset("tasks"))
        .try_filter(move |s| std::future::ready(filter.keeps(s)))
        .boxed()
    }

    /// One task by id, typed by what the vendor says it is: a clone job, a speech job, or
    /// another product's task (VMEG `tasks/detail`; JimmyAI: `Unsupported`, use
    /// `clone_status` / `speech_status`).
    ///
    /// VMEG documents only the status words `running`, `finished` and `failed`; a status read
    /// from another word is this crate's assumption, and says so, as a wait's error does
    /// ([`Error::assumed_status`]): [`TaskDetail::assumed_status`] names the word, the job's
    /// (or summary's) `Debug` shows it, and a task failed by such a word (`timeout`,
    /// `expired`, ...) has an `error` saying that it may still be alive. Check such a task
    /// before submitting again: a new submit may be billed as a second task.
    ///
    /// ```
    /// use voiceclone::TaskDetail;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let sim = voiceclone_sim::Simulator::start_with(voiceclone_sim::SimConfig::default().with_speed(1000.0)).await?;
    /// # let client = voiceclone::Client::builder(voiceclone::Provider::Vmeg).api_key(sim.api_key()).base_url(sim.base_url()).build()?;
    /// # let wait = voiceclone::WaitPolicy::for_provider(voiceclone::Provider::Vmeg).with_first_interval(std::time::Duration::from_millis(5));
    /// # let job = client.clone_voice(&voiceclone::CloneRequest::new("https://cdn.example.com/sample.wav").name("narrator")).await?;
    /// let detail = client.task(&job.id).await?;
    /// assert!(matches!(&detail, TaskDetail::Clone(j) if j.id == job.id));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn task(&self, id: &JobId) -> Result<TaskDetail, Error> {
        traced!(self, "task", async {
            let call = async {
                self.refuse_api_key_in("job_id", id.as_str())?;
                id.check_provider(self.provider())?;
                self.b().task(self.t(), id).await
            };
            call.await.map_err(Error::task_may_exist)
        })
    }

    /// Deletes a task record (VMEG `tasks/delete`; JimmyAI: `Unsupported`).
    ///
    /// ```
    /// use futures::TryStreamExt;
    /// use voiceclone::TaskFilter;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let sim = voiceclone_sim::Simulator::start_with(voiceclone_sim::SimConfig::default().with_speed(1000.0)).await?;
    /// # let client = voiceclone::Client::builder(voiceclone::Provider::Vmeg).api_key(sim.api_key()).base_url(sim.base_url()).build()?;
    /// # let wait = voiceclone::WaitPolicy::for_provider(voiceclone::Provider::Vmeg).with_first_interval(std::time::Duration::from_millis(5));
    /// # let job = client.clone_voice(&voiceclone::CloneRequest::new("https://cdn.example.com/sample.wav").name("narrator")).await?;
    /// # let voice = client.wait_for_clone(&job.id, &wait).await?;
    /// client.delete_task(&job.id).await?;
    /// let left: Vec<_> = client.tasks(TaskFilter::all()).try_collect().await?;
    /// assert!(left.is_empty());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn delete_task(&self, id: &JobId) -> Result<(), Error> {
        traced!(self, "delete_task", async {
            let call = async {
                self.refuse_api_key_in("job_id", id.as_str())?;
                id.check_provider(self.provider())?;
                self.b().delete_task(self.t(), id).await
            };
            call.await.map_err(Error::task_may_exist)
        })
    }

    /// The account's cloned voices as a stream, every page (VMEG; JimmyAI lists no voices).
    /// There is no cap: a list that does not end (the same page answered twice, or more
    /// than 10,000 pages) ends the stream with an error, never silently.
    ///
    /// ```
    /// use futures::TryStreamExt;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let sim = voiceclone_sim::Simulator::start_with(voiceclone_sim::SimConfig::default().with_speed(1000.0)).await?;
    /// # let client = voiceclone::Client::builder(voiceclone::Provider::Vmeg).api_key(sim.api_key()).base_url(sim.base_url()).build()?;
    /// # let wait = voiceclone::WaitPolicy::for_provider(voiceclone::Provider::Vmeg).with_first_interval(std::time::Duration::from_millis(5));
    /// # let job = client.clone_voice(&voiceclone::CloneRequest::new("https://cdn.example.com/sample.wav").name("narrator")).await?;
    /// # let voice = client.wait_for_clone(&job.id, &wait).await?;
    /// let voices: Vec<_> = client.voices().try_collect().await?;
    /// assert!(voices.iter().any(|v| v.id == voice.id));
    /// # Ok(())
    /// # }
    /// ```
    pub fn voices(&self) -> BoxStream<'static, Result<Voice, Error>> {
        self.voice_stream(false, None)
    }

    /// The vendor's system (preset) voices as a stream (VMEG `voice/basic/list`); each
    /// voice's id works with [`crate::SpeechRequest::new`] and [`Client::synthesize`].
    ///
    /// ```
    /// use futures::TryStreamExt;
    /// use voiceclone::SpeechRequest;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let sim = voiceclone_sim::Simulator::start_with(voiceclone_sim::SimConfig::default().with_speed(1000.0)).await?;
    /// # let client = voiceclone::Client::builder(voiceclone::Provider::Vmeg).api_key(sim.api_key()).base_url(sim.base_url()).build()?;
    /// # let wait = voiceclone::WaitPolicy::for_provider(voiceclone::Provider::Vmeg).with_first_interval(std::time::Duration::from_millis(5));
    /// let system: Vec<_> = client.system_voices().try_collect().await?;
    /// assert!(!system.is_empty());
    /// let first = &system[0];
    /// let job = client.synthesize(&SpeechRequest::new(&first.id, "Hello there.")).await?;
    /// assert!(!client.wait_for_speech(&job.id, &wait).await?.audio_urls.is_empty());
    /// # Ok(())
    /// # }
    /// ```
    pub fn system_voices(&self) -> BoxStream<'static, Result<Voice, Error>> {
        self.voice_stream(true, None)
    }

    /// [`Client::voices`] (or, with `system`, [`Client::system_voices`]), counting in
    /// `unread` the records a page sent but could not be read, which the stream skips, and a
    /// listing that ended on an answer holding no list (see [`Client::tasks_counting_unread`]
    /// and [`UnreadRecords::is_complete`]).
    ///
    /// ```
    /// use futures::TryStreamExt;
    /// use voiceclone::UnreadRecords;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let sim = voiceclone_sim::Simulator::start_with(voiceclone_sim::SimConfig::default().with_speed(1000.0)).await?;
    /// # let client = voiceclone::Client::builder(voiceclone::Provider::Vmeg).api_key(sim.api_key()).base_url(sim.base_url()).build()?;
    /// let unread = UnreadRecords::new();
    /// let system: Vec<_> = client.voices_counting_unread(true, &unread).try_collect().await?;
    /// assert!(!system.is_empty());
    /// assert!(unread.is_complete());
    /// # Ok(())
    /// # }
    /// ```
    pub fn voices_counting_unread(
        &self,
        system: bool,
        unread: &UnreadRecords,
    ) -> BoxStream<'static, Result<Voice, Error>> {
        self.voice_stream(system, Some(unread.clone()))
    }

    fn voice_stream(
        &self,
        system: bool,
        unread: Option<UnreadRecords>,
    ) -> BoxStream<'static, Result<Voice, Error>> {
        let client = self.clone();
        let provider = self.provider();
        let (what, operation) = if system {
            ("system-voice list", "system_voices")
        } else {
            ("cloned-voice list", "voices")
        };
        walk_counting(
            what,
            move |page| {
                let client = client.clone();
                async move { client.b().voices_page(client.t(), system, None, page).await }
            },
            unread,
        )
        .map_ok(|(v, _)| v)
        .map_err(move |e| e.with_provider(provider).with_operation_if_unset(operation))
        .boxed()
    }
}
