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

/// Unmounts the filesystem attached at `path` (in a private mount namespace), retrying while
/// it is busy for up to `patience`: what the kernel still holds of it (an NFS server's export
/// cache) lets go shortly after its user stops. `forcing`: still busy then, MNT_FORCE (an NFS
/// client fails its requests in flight, so that no task waits for a server that is going) and
/// MNT_DETACH.
public func unmount(_ path: String, patience: Duration = .seconds(10), forcing: Bool = false) throws {
    let deadline = ContinuousClock.now + patience
    while diot_unmount(path, 0) != 0 {
        let error = Errno(rawValue: errno)
        guard error == .resourceBusy else { throw error }
        if ContinuousClock.now >= deadline {
            guard forcing else { throw error }
            _ = diot_unmount(path, DIOT_MNT_FORCE)
            _ = try checked { diot_unmount(path, DIOT_MNT_DETACH) }
            return
        }
        ThisProcess.pause(microseconds: 50_000)
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
