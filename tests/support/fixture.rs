//! The fixture thread: the runtime the in-process runners live on, and the
//! spawner of the child processes (`wasmtime serve`, the shared Redis).

use std::process::{ChildStderr, Command};
use std::sync::OnceLock;
use std::sync::mpsc;

/// The fixture thread: owns the runtime the runners live on and spawns child
/// processes. It never exits before the process, which matters because
/// children get SIGKILL (PR_SET_PDEATHSIG) when the thread that spawned them
/// ends: no `wasmtime serve` outlives the tests.
pub(super) struct Fixture {
    pub(super) runtime: tokio::runtime::Handle,
    spawner: mpsc::Sender<(Command, mpsc::Sender<ChildStderr>)>,
}

pub(super) fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("test-fixture".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .unwrap();
                let (spawn_tx, spawn_rx) = mpsc::channel::<(Command, mpsc::Sender<_>)>();
                ready_tx.send((runtime.handle().clone(), spawn_tx)).unwrap();
                // The children run as long as the tests do; they are killed
                // (never waited for) when this thread ends.
                let mut children = Vec::new();
                for (mut command, reply) in spawn_rx {
                    super::die_with_the_test(&mut command);
                    let mut child = command.spawn().expect("the command starts");
                    let _ = reply.send(child.stderr.take().expect("stderr is piped"));
                    children.push(child);
                }
                // All senders live in a static, so the loop above only ends
                // with the process.
                drop((runtime, children));
            })
            .unwrap();
        let (runtime, spawner) = ready_rx.recv().unwrap();
        Fixture { runtime, spawner }
    })
}

impl Fixture {
    /// Starts `command` (with its stderr piped) and returns that stderr.
    pub(super) fn spawn(&self, command: Command) -> ChildStderr {
        let (reply_tx, reply_rx) = mpsc::channel();
        self.spawner.send((command, reply_tx)).unwrap();
        reply_rx.recv().unwrap()
    }
}
