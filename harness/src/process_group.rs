//! Plug-in processes run in process groups of their own, and capsize ends the whole group: a
//! plug-in that forks (a shell script running a helper, a Python program with a worker) leaves
//! nothing behind when its run ends, fails, or capsize is interrupted.
//!
//! A group of its own also means the terminal's Ctrl-C no longer reaches the plug-in directly,
//! so capsize handles SIGINT, SIGTERM and SIGHUP: it kills every live plug-in group, then lets
//! the signal do what it did before (the previous handler, or the default: the process ends).
//! Only SIGKILL of capsize itself escapes this; the plug-in then sees its input close.
//!
//! Unix only; elsewhere plug-ins are plain child processes.

#[cfg(unix)]
mod imp {
    use std::os::unix::process::CommandExt;
    use std::process::{Child, Command};
    use std::sync::Once;
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicI32, Ordering};

    /// Live plug-in groups, for the signal handler (which may read atomics and call `kill`,
    /// nothing else). More plug-ins than slots at once still run; the extra ones are ended by
    /// their own run, just not on a signal.
    const SLOTS: usize = 256;
    static GROUPS: [AtomicI32; SLOTS] = [const { AtomicI32::new(0) }; SLOTS];

    /// The signals capsize handles, and what was installed for them before.
    const SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];
    static PREVIOUS: OnceLock<[libc::sigaction; 3]> = OnceLock::new();
    static INSTALL: Once = Once::new();

    /// Makes `cmd` start its program as the leader of a new process group.
    pub fn new_group(cmd: &mut Command) {
        cmd.process_group(0);
    }

    /// A started plug-in's group, ended on drop.
    #[derive(Debug)]
    pub struct Group {
        /// The group's id: the plug-in's pid.
        pgid: i32,
        /// Its slot in [`GROUPS`], if one was free.
        slot: Option<usize>,
    }

    impl Group {
        /// Records the group `child` leads, so that a signal to capsize ends it too.
        pub fn of(child: &Child) -> Group {
            INSTALL.call_once(install);
            let pgid = child.id() as i32;
            let slot =
                GROUPS.iter().position(|g| g.compare_exchange(0, pgid, Ordering::SeqCst, Ordering::SeqCst).is_ok());
            Group { pgid, slot }
        }

        /// Whether the plug-in (the group's leader) has exited. It is not reaped, so its pid,
        /// which is the group's id, cannot be reused before [`Group::end`].
        pub fn leader_exited(&self) -> bool {
            if self.pgid == 0 {
                return true;
            }
            // SAFETY: waitid with WNOWAIT only reads the child's state into `info`.
            unsafe {
                let mut info: libc::siginfo_t = std::mem::zeroed();
                let r = libc::waitid(
                    libc::P_PID,
                    self.pgid as libc::id_t,
                    &mut info,
                    libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
                );
                r == 0 && info.si_pid() != 0
            }
        }

        /// Kills every process of the group (the plug-in and whatever it started), once.
        pub fn end(&mut self) {
            if self.pgid == 0 {
                return;
            }
            // SAFETY: kill has no memory effects; a group that is gone makes it fail harmlessly.
            unsafe {
                libc::kill(-self.pgid, libc::SIGKILL);
            }
            self.pgid = 0;
            if let Some(s) = self.slot.take() {
                GROUPS[s].store(0, Ordering::SeqCst);
            }
        }
    }

    impl Drop for Group {
        fn drop(&mut self) {
            self.end();
        }
    }

    fn install() {
        // SAFETY: sigaction with a handler that only does async-signal-safe work.
        unsafe {
            let mut previous: [libc::sigaction; 3] = std::mem::zeroed();
            for (i, &sig) in SIGNALS.iter().enumerate() {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
                action.sa_flags = libc::SA_SIGINFO;
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(sig, &action, &mut previous[i]);
            }
            let _ = PREVIOUS.set(previous);
        }
    }

    extern "C" fn on_signal(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
        for g in &GROUPS {
            let pgid = g.load(Ordering::SeqCst);
            if pgid > 0 {
                // SAFETY: kill is async-signal-safe.
                unsafe {
                    libc::kill(-pgid, libc::SIGKILL);
                }
            }
        }
        let Some(i) = SIGNALS.iter().position(|&s| s == sig) else { return };
        let Some(prev) = PREVIOUS.get().map(|p| p[i]) else { return };
        // SAFETY: calling the handler that was installed before, as the kernel would have.
        unsafe {
            match prev.sa_sigaction {
                libc::SIG_IGN => {}
                libc::SIG_DFL => {
                    libc::signal(sig, libc::SIG_DFL);
                    libc::raise(sig);
                }
                h if prev.sa_flags & libc::SA_SIGINFO != 0 => {
                    let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) = std::mem::transmute(h);
                    f(sig, info, ctx);
                }
                h => {
                    let f: extern "C" fn(libc::c_int) = std::mem::transmute(h);
                    f(sig);
                }
            }
        }
    }
}

#[cfg(not(unix))]
mod imp {
    use std::process::{Child, Command};

    pub fn new_group(_: &mut Command) {}

    #[derive(Debug)]
    pub struct Group;

    impl Group {
        pub fn of(_: &Child) -> Group {
            Group
        }
        pub fn leader_exited(&self) -> bool {
            false
        }
        pub fn end(&mut self) {}
    }
}

pub use imp::{Group, new_group};
