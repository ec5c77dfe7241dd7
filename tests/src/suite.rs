//! Scenarios as tests of their own that share a running platform.
//!
//! A file's scenarios are declared once with [`scenarios!`](crate::scenarios), which makes each
//! of them a test in each of the four deployments (single binary or split services, on
//! PostgreSQL or SQLite): `cargo test -p sharedmetrics-e2e --test submissions revisions` runs one
//! scenario everywhere, and one failing scenario no longer hides the rest.
//!
//! Starting a platform with the reference data costs seconds, so the scenarios of one [`Suite`]
//! share one [`Scene`] per deployment, started by the first of them to run and kept for the life
//! of the test binary. They take turns on it (each sees no other scenario's calls in flight), and
//! each must hold in any order: a scenario makes the metrics and submissions it reads, with codes
//! of its own. The last scenario of a scene stops it and drops its database; a run that filters
//! scenarios leaves its databases to the next run's sweep (`sweep_stale_databases`).

use std::future::Future;
use std::ops::Deref;
use std::panic::AssertUnwindSafe;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::FutureExt;
pub use futures::future::BoxFuture;
use sharedmetrics_config::Config;
use tokio::sync::OnceCell;

use crate::{Backend, Sandbox, Topology};

/// A running platform shared by the scenarios of a suite in one deployment, with what the
/// suite's set-up made on it.
pub struct Scene<F = ()> {
    /// The platform.
    pub sandbox: Sandbox,
    /// What the suite's set-up made (keys, metrics, submissions).
    pub fixture: F,
    turn: tokio::sync::Mutex<()>,
    /// Scenarios of the suite not yet run on this scene.
    remaining: AtomicUsize,
}

impl<F> Deref for Scene<F> {
    type Target = Sandbox;

    fn deref(&self) -> &Sandbox {
        &self.sandbox
    }
}

/// Makes a suite's fixture on a freshly started platform.
pub type SetUp<F> = for<'a> fn(&'a Sandbox) -> BoxFuture<'a, F>;

/// The scenarios of one test file that share a platform: how it is configured, what is made
/// on it first, and the four scenes, started on demand.
pub struct Suite<F: 'static = ()> {
    configure: fn(&mut Config),
    set_up: SetUp<F>,
    scenes: [OnceCell<Scene<F>>; 4],
}

/// A suite without a fixture.
fn nothing(_: &Sandbox) -> BoxFuture<'_, ()> {
    Box::pin(async {})
}

fn default_config(_: &mut Config) {}

impl Suite<()> {
    /// A suite on the default configuration, with nothing made before its scenarios.
    pub const fn new() -> Self {
        Self::with(default_config, nothing)
    }

    /// A suite whose platforms are configured by `configure`, with nothing made first.
    pub const fn configured(configure: fn(&mut Config)) -> Self {
        Self::with(configure, nothing)
    }
}

impl Default for Suite<()> {
    fn default() -> Self {
        Self::new()
    }
}

impl<F: Send + Sync + 'static> Suite<F> {
    /// A suite on the default configuration whose platforms hold what `set_up` makes.
    pub const fn with_fixture(set_up: SetUp<F>) -> Self {
        Self::with(default_config, set_up)
    }

    /// A suite whose platforms are configured by `configure` and hold what `set_up` makes.
    pub const fn with(configure: fn(&mut Config), set_up: SetUp<F>) -> Self {
        Self { configure, set_up, scenes: [const { OnceCell::const_new() }; 4] }
    }

    /// Runs `scenario` on this suite's scene for the deployment, starting it if no scenario
    /// has yet and stopping it after the last of the suite's `scenarios`; a panic in the
    /// scenario fails the calling test.
    pub fn run<Fut>(
        &'static self,
        backend: Backend,
        topology: Topology,
        scenarios: usize,
        scenario: impl FnOnce(&'static Scene<F>) -> Fut,
    ) where
        Fut: Future<Output = ()>,
    {
        let index = match (backend, topology) {
            (Backend::Postgres, Topology::SingleBinary) => 0,
            (Backend::Postgres, Topology::Split) => 1,
            (Backend::Sqlite, Topology::SingleBinary) => 2,
            (Backend::Sqlite, Topology::Split) => 3,
        };
        runtime().block_on(async move {
            let scene = self.scenes[index]
                .get_or_init(|| async move {
                    let sandbox =
                        Sandbox::start_with(backend, topology, self.configure).await.expect("the platform starts");
                    let fixture = (self.set_up)(&sandbox).await;
                    let turn = tokio::sync::Mutex::new(());
                    Scene { sandbox, fixture, turn, remaining: AtomicUsize::new(scenarios) }
                })
                .await;
            let turn = scene.turn.lock().await;
            let outcome = AssertUnwindSafe(scenario(scene)).catch_unwind().await;
            drop(turn);
            if scene.remaining.fetch_sub(1, Ordering::SeqCst) == 1 {
                scene.sandbox.stop_in_place().await.expect("the platform stops");
            }
            if let Err(panic) = outcome {
                std::panic::resume_unwind(panic);
            }
        });
    }
}

/// The runtime the scenes' servers run on: it outlives every test of the binary, which a test's
/// own runtime would not.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime for the shared platforms")
    })
}

/// Declares a file's scenarios as tests: for each `scenario` (an `async fn(&Scene<F>)` in
/// the file), a module of that name with one test per deployment, run on the suite's shared
/// scene.
///
/// ```ignore
/// static SUITE: Suite = Suite::new();
/// sharedmetrics_e2e::scenarios!(SUITE: every_rule_is_checked, revisions_keep_history);
/// ```
#[macro_export]
macro_rules! scenarios {
    ($suite:ident: $($scenario:ident),+ $(,)?) => {
        /// How many scenarios share each scene of the suite.
        const SCENARIOS: usize = [$(stringify!($scenario)),+].len();
        $(
            mod $scenario {
                use $crate::{Backend, Topology};

                #[test]
                fn single_binary_on_postgres() {
                    super::$suite.run(Backend::Postgres, Topology::SingleBinary, super::SCENARIOS, |scene| super::$scenario(scene));
                }

                #[test]
                fn split_services_on_postgres() {
                    super::$suite.run(Backend::Postgres, Topology::Split, super::SCENARIOS, |scene| super::$scenario(scene));
                }

                #[test]
                fn single_binary_on_sqlite() {
                    super::$suite.run(Backend::Sqlite, Topology::SingleBinary, super::SCENARIOS, |scene| super::$scenario(scene));
                }

                #[test]
                fn split_services_on_sqlite() {
                    super::$suite.run(Backend::Sqlite, Topology::Split, super::SCENARIOS, |scene| super::$scenario(scene));
                }
            }
        )+
    };
}
