//! The container's memory limit, read from its cgroup, and the share of it that policy calls may
//! use together (the policy memory budget).
//!
//! cgroup v2: the lowest `memory.max` on the path from the process's cgroup up to the root of the
//! hierarchy (`max` means none). cgroup v1: the same with `memory.limit_in_bytes` in the memory
//! controller's hierarchy, where "no limit" is a number near `i64::MAX`.

use std::path::{Path, PathBuf};

use crate::policy::DEFAULT_MEMORY_BUDGET;

/// Where cgroup file systems are mounted.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";
/// Percentage of the container's limit that policy calls may use; the rest is the operator's own
/// (watch caches, compiled policies, request buffers).
pub const POLICY_SHARE_PERCENT: u64 = 50;
/// cgroup v1 reports "no limit" as a page-aligned `i64::MAX`; anything this large is no limit.
const V1_UNLIMITED: u64 = 1 << 60;

/// The memory limit of this process's container, if it has one.
pub fn container_limit() -> Option<u64> {
    let cgroups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    limit_in(Path::new(CGROUP_ROOT), &cgroups)
}

/// The limit according to the cgroup file systems under `root`, for a process whose
/// `/proc/self/cgroup` reads `cgroups`.
pub fn limit_in(root: &Path, cgroups: &str) -> Option<u64> {
    let mut v2 = None;
    let mut v1 = None;
    for line in cgroups.lines() {
        let mut fields = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if controllers.is_empty() {
            v2 = Some(path);
        } else if controllers.split(',').any(|c| c == "memory") {
            v1 = Some(path);
        }
    }
    // A v2 hierarchy may sit under `unified` on hybrid hosts; v1's memory controller has its own.
    let v2_limit = v2.and_then(|path| {
        lowest_limit(root, path, "memory.max")
            .or_else(|| lowest_limit(&root.join("unified"), path, "memory.max"))
    });
    v2_limit.or_else(|| {
        v1.and_then(|path| lowest_limit(&root.join("memory"), path, "memory.limit_in_bytes"))
    })
}

/// The lowest limit in `file` of the cgroup `path` (relative to `base`) and its ancestors.
fn lowest_limit(base: &Path, path: &str, file: &str) -> Option<u64> {
    let mut dir = PathBuf::from(base);
    let mut lowest = read_limit(&dir.join(file));
    for part in path.split('/').filter(|p| !p.is_empty()) {
        dir.push(part);
        if let Some(limit) = read_limit(&dir.join(file)) {
            lowest = Some(lowest.map_or(limit, |l: u64| l.min(limit)));
        }
    }
    lowest
}

fn read_limit(file: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(file).ok()?;
    text.trim()
        .parse::<u64>()
        .ok()
        .filter(|limit| *limit < V1_UNLIMITED)
}

/// Bytes policy calls may use together: `configured_mib` when the admin set it, else
/// [`POLICY_SHARE_PERCENT`] of the container's limit, else [`DEFAULT_MEMORY_BUDGET`].
pub fn policy_budget(configured_mib: Option<u64>, container_limit: Option<u64>) -> usize {
    let bytes = match (configured_mib, container_limit) {
        (Some(mib), _) => mib.saturating_mul(1 << 20),
        (None, Some(limit)) => {
            let share = u128::from(limit) * u128::from(POLICY_SHARE_PERCENT) / 100;
            u64::try_from(share).unwrap_or(u64::MAX)
        }
        (None, None) => return DEFAULT_MEMORY_BUDGET,
    };
    usize::try_from(bytes).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, file: &str, text: &str) {
        let path = root.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn cgroup_v2_gives_the_lowest_memory_max_on_the_path() {
        let root = tempfile::tempdir().unwrap();
        write(root.path(), "kubepods/memory.max", "1073741824\n");
        write(root.path(), "kubepods/pod1/memory.max", "max\n");
        write(
            root.path(),
            "kubepods/pod1/operator/memory.max",
            "536870912\n",
        );
        assert_eq!(
            limit_in(root.path(), "0::/kubepods/pod1/operator\n"),
            Some(512 << 20)
        );
        assert_eq!(limit_in(root.path(), "0::/kubepods/pod1\n"), Some(1 << 30));
    }

    #[test]
    fn inside_a_cgroup_namespace_the_limit_is_at_the_root() {
        let root = tempfile::tempdir().unwrap();
        write(root.path(), "memory.max", "536870912\n");
        assert_eq!(limit_in(root.path(), "0::/\n"), Some(512 << 20));
    }

    #[test]
    fn max_everywhere_is_no_limit() {
        let root = tempfile::tempdir().unwrap();
        write(root.path(), "memory.max", "max\n");
        assert_eq!(limit_in(root.path(), "0::/\n"), None);
    }

    #[test]
    fn cgroup_v1_reads_the_memory_controller_and_ignores_its_no_limit_value() {
        let root = tempfile::tempdir().unwrap();
        write(
            root.path(),
            "memory/memory.limit_in_bytes",
            "9223372036854771712\n",
        );
        write(
            root.path(),
            "memory/docker/abc/memory.limit_in_bytes",
            "268435456\n",
        );
        let cgroups = "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n0::/\n";
        assert_eq!(limit_in(root.path(), cgroups), Some(256 << 20));
        let unlimited = "4:memory:/\n";
        assert_eq!(limit_in(root.path(), unlimited), None);
    }

    #[test]
    fn the_budget_is_the_setting_else_half_the_limit_else_the_default() {
        assert_eq!(policy_budget(Some(100), Some(512 << 20)), 100 << 20);
        assert_eq!(policy_budget(None, Some(512 << 20)), 256 << 20);
        assert_eq!(policy_budget(None, None), DEFAULT_MEMORY_BUDGET);
    }
}
