import Glibc

/// Facts about the running kernel that decide what can be tested.
public enum Kernel {
    public static var release: String {
        var info = utsname()
        uname(&info)
        return withUnsafeBytes(of: &info.release) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
    }

    public static var isRoot: Bool { geteuid() == 0 }

    /// The build configuration of kernel `release` when this machine has it: Debian's
    /// /boot/config-RELEASE, or /proc/config.gz when `release` is the running kernel.
    public static func configuration(of release: String) -> String? {
        if let text = try? readTextFile("/boot/config-\(release)") { return text }
        guard release == self.release, access("/proc/config.gz", R_OK) == 0 else { return nil }
        return try? runCommandCapturing(["zcat", "/proc/config.gz"])
    }

    /// sync, then /proc/sys/vm/drop_caches = 1: every clean page-cache page on the machine goes.
    public static func dropPageCache() throws {
        sync()
        try writeControl("/proc/sys/vm/drop_caches", "1\n")
    }

    /// Whether KVM can run an ordinary kernel: /dev/kvm opens for read and write and the CPU has
    /// VMX or SVM. Without them a /dev/kvm is a paravirtual hypervisor (PVM), which boots only
    /// kernels built as its guests and spins or stops on any other. Whether a guest then starts
    /// is still QEMU's to find out.
    public static var kvmRunsOrdinaryGuests: Bool {
        let flags = ((try? readTextFile("/proc/cpuinfo")) ?? "").split(separator: "\n").first { $0.hasPrefix("flags") }
        guard let flags, !Set(flags.split(separator: " ")).isDisjoint(with: ["vmx", "svm"]) else { return false }
        let descriptor = open("/dev/kvm", O_RDWR | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        close(descriptor)
        return true
    }

    /// Filesystem types the kernel knows now (/proc/filesystems); built-in or loaded modules only.
    public static var filesystems: Set<String> {
        let text = (try? readTextFile("/proc/filesystems")) ?? ""
        return Set(text.split(separator: "\n").compactMap { $0.split(separator: "\t").last.map(String.init) })
    }

    /// "always", "madvise" or "never": the bracketed word of the THP setting, nil without THP.
    public static var transparentHugePages: String? {
        guard let text = try? readTextFile("/sys/kernel/mm/transparent_hugepage/enabled"),
              let open = text.firstIndex(of: "["), let close = text.firstIndex(of: "]") else { return nil }
        return String(text[text.index(after: open)..<close])
    }
}

/// User + system CPU time of this process, all threads (io-wq workers included).
public func processCPUSeconds() -> Double { cpuSeconds(RUSAGE_SELF) }

/// The same for the children this process has waited for: an external tool's whole cost,
/// its own io-wq workers included.
public func childrenCPUSeconds() -> Double { cpuSeconds(RUSAGE_CHILDREN) }

private func cpuSeconds(_ who: __rusage_who) -> Double {
    var usage = rusage()
    getrusage(who.rawValue, &usage)
    let seconds = { (time: timeval) in Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}
