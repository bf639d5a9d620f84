import DIOSystem

/// The guest's /init: a busybox script that loads the modules, mounts the host's root read-only
/// over 9p, builds a root out of it (so the host's own dio-torture binary, Swift runtime and mkfs
/// tools run unchanged), runs one dio-torture command and powers off. Its progress lines start
/// with `GuestInit.marker`, which the host reads back from the console.
enum GuestInit {
    static let marker = "dio-torture-guest:"
    /// The console line's start once the guest's kernel runs /init.
    static let bootedLine = marker + " booted"
    /// 9p mount tags: the host's root (read-only) and the directory results come back through.
    static let hostTag = "diot-host"
    static let outputTag = "diot-out"
    /// Where the output share appears inside the guest's root.
    static let outputDirectory = "/diot-out"
    /// Where a guest saves operation logs: on the output share, which the host copies them from.
    static let opsLogSubdirectory = "ops-logs"
    static let opsLogDirectory = outputDirectory + "/" + opsLogSubdirectory
    /// The one virtio disk scratch filesystems are made on, in turn.
    static let scratchDisk = "/dev/vda"

    /// `modules` are paths inside the initramfs, in load order; `command` runs in the new root.
    static func script(modules: [String], command: [String]) -> String {
        let quotedCommand = command.map(shellQuoted).joined(separator: " ")
        return """
        #!/bin/busybox sh
        /bin/busybox --install -s /bin
        export PATH=/bin
        mount -t proc proc /proc
        mount -t sysfs sysfs /sys
        mount -t devtmpfs devtmpfs /dev
        say() { echo "\(marker) $*"; }
        say "booted $(uname -r) uptime $(cut -d' ' -f1 /proc/uptime)"
        for module in \(modules.map(shellQuoted).joined(separator: " ")); do
            case "$module" in
                *.xz) unxz -c "$module" > /module.ko && insmod /module.ko ;;
                *.gz) zcat "$module" > /module.ko && insmod /module.ko ;;
                *) insmod "$module" ;;
            esac || say "module-failed $module"
            rm -f /module.ko
        done
        # Foundation's run loop makes its wake-up socket pair over loopback.
        ip link set lo up
        mkdir -p /host /newroot
        options=trans=virtio,version=9p2000.L,msize=262144
        mount -t 9p -o "$options,ro,cache=loose" \(hostTag) /host || { say "broken cannot mount the host's root over 9p"; poweroff -f; }
        mount -t tmpfs -o mode=0755 newroot /newroot
        for entry in /host/*; do
            name=${entry#/host/}
            case "$name" in proc|sys|dev|run) continue ;; esac
            if [ -L "$entry" ]; then ln -s "$(readlink "$entry")" "/newroot/$name"
            elif [ -d "$entry" ]; then mkdir "/newroot/$name" && mount --bind "$entry" "/newroot/$name"
            fi
        done
        mkdir -p /newroot/proc /newroot/sys /newroot/dev /newroot/run /newroot\(outputDirectory)
        mount -t proc proc /newroot/proc
        mount -t sysfs sysfs /newroot/sys
        mount -t devtmpfs devtmpfs /newroot/dev
        mount -t tmpfs -o mode=1777 run /newroot/run
        mount -t 9p -o "$options" \(outputTag) /newroot\(outputDirectory) || { say "broken cannot mount the output share over 9p"; poweroff -f; }
        say "running uptime $(cut -d' ' -f1 /proc/uptime)"
        # Through a pipe, so that the tool does not take the console for a terminal.
        { chroot /newroot /usr/bin/env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin TMPDIR=/run HOME=/run \\
            \(quotedCommand) 2>&1; echo $? > /newroot\(outputDirectory)/status; } | cat
        say "finished status $(cat /newroot\(outputDirectory)/status) uptime $(cut -d' ' -f1 /proc/uptime)"
        sync
        umount /newroot\(outputDirectory)
        poweroff -f
        """ + "\n"
    }

    static func shellQuoted(_ word: String) -> String {
        "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
