import CURing
import Glibc

/// Namespaces of this process's own, for a helper that makes a filesystem where nothing else on
/// the machine sees it: mounts that vanish with the process (even killed), a network of its own.
/// unshare(2) moves the calling thread only: everything after it must run on that thread, and
/// the processes it starts inherit its namespaces.
public enum PrivateNamespaces {
    /// A new mount namespace whose tree no longer propagates to or from the machine's, and with
    /// `network` a new network namespace whose loopback interface is up.
    public static func enter(network: Bool) throws {
        _ = try checked { diot_unshare(DIOT_CLONE_NEWNS | (network ? DIOT_CLONE_NEWNET : 0)) }
        _ = try checked { diot_make_mounts_private() }
        if network { _ = try checked { diot_loopback_up() } }
    }
}

extension DetachedMount {
    /// Attaches the mount at `path` (move_mount): for a consumer that refuses detached mounts,
    /// such as overlayfs's layers before Linux 6.15. Only in a private mount namespace, where it
    /// goes with the namespace.
    public func attach(at path: String) throws {
        _ = try checked { diot_move_mount_to(descriptor, path) }
    }
}
