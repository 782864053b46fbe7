//! What can go wrong on a real cluster, typed so the command can say it and pick its exit code.

/// An error of a drive, a plan or a rollback.
#[derive(Debug, thiserror::Error)]
pub enum DriveError {
    /// A guard refused the run before anything was read or changed (exit 2).
    #[error("{0}")]
    Refused(String),
    /// The scenario asks for something a real cluster cannot do, or a target matched nothing:
    /// the plan stops before any change (exit 2).
    #[error("the drive cannot run: {0}")]
    Unplannable(String),
    /// The kubeconfig could not be read or has no such context (exit 2).
    #[error("kubeconfig: {0}")]
    Kubeconfig(String),
    /// The API server answered with an error or could not be reached.
    #[error("Kubernetes API: {0}")]
    Api(String),
    /// The journal could not be written or read.
    #[error("journal {path}: {message}")]
    Journal {
        /// The journal file.
        path: String,
        /// What failed.
        message: String,
    },
    /// A node command failed to start or exited non-zero.
    #[error("node command: {0}")]
    Command(String),
    /// A rollback left changes it could not undo; they are listed.
    #[error("rollback incomplete: {0}")]
    Incomplete(String),
}

impl DriveError {
    /// The process exit code: 2 for input the user can fix, 1 for what happened on the cluster.
    pub fn exit_code(&self) -> i32 {
        match self {
            DriveError::Refused(_) | DriveError::Unplannable(_) | DriveError::Kubeconfig(_) => 2,
            _ => 1,
        }
    }
}

impl From<kube::Error> for DriveError {
    fn from(e: kube::Error) -> Self {
        DriveError::Api(describe_kube_error(&e))
    }
}

/// A kube-rs error in the words of `kubectl`: the API's status message and code when there is one.
pub fn describe_kube_error(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => format!("{} ({} {})", s.message, s.code, s.reason),
        other => other.to_string(),
    }
}

/// The HTTP status of an API error, if the server answered.
pub fn status_code(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(s) => Some(s.code),
        _ => None,
    }
}
