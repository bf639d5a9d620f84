import DIOSystem

/// What a write asked for, and what makes a short or failed write legal for it.
public struct WriteContract: Sendable {
    public var length: Int
    public var path: IOPath
    /// Offset into the write's memory of a PROT_NONE page in the source, if it has one.
    public var inaccessibleOffset: Int?
    /// statx says the write is misaligned for direct I/O: EINVAL is legal for it.
    public var misaligned = false

    public init(length: Int, path: IOPath, inaccessibleOffset: Int? = nil, misaligned: Bool = false) {
        self.length = length
        self.path = path
        self.inaccessibleOffset = inaccessibleOffset
        self.misaligned = misaligned
    }
}

extension Oracle {
    /// Judges a write's first completion. A regular file takes all of it: io_uring finishes a
    /// partial write itself, and a direct write that faulted must fault in and go on (or fall back
    /// to buffered I/O). Only an explicit RWF_NOWAIT may end it early or with EAGAIN, and only a
    /// PROT_NONE page in the source may stop it, exactly there (or make it EFAULT).
    public static func judgeWrite(_ result: TransferResult, contract: WriteContract) -> Judgement {
        guard let written = result.count else {
            return judgeUncounted(result, path: contract.path, inaccessibleOffset: contract.inaccessibleOffset, misaligned: contract.misaligned)
        }
        if written > contract.length {
            return Judgement(outcome: .error, call: .fail, note: "returned \(written) bytes, more than the \(contract.length) asked")
        }
        if written == contract.length { return Judgement(outcome: .full, call: .pass) }
        return judgeShort(written, outcome: .shortWrite, path: contract.path, inaccessibleOffset: contract.inaccessibleOffset,
                          failure: "short write: res \(written) of \(contract.length)")
    }

    /// Judges the file as one way of reading it back found it after a write: its size and every
    /// byte must be what the write reported. `differences` are the sectors that are not.
    public static func judgeReadback(_ way: String, foundSize: Int, expectedSize: Int, differences: [BadRange]) -> Judgement {
        if foundSize != expectedSize {
            return Judgement(outcome: .mismatch, call: .fail, note: "read back \(way): file size \(foundSize), expected \(expectedSize)")
        }
        if let first = differences.first {
            return Judgement(outcome: .mismatch, call: .fail,
                             note: "read back \(way): \(first.diagnosis.rawValue) data at offset \(first.offset)+\(first.length)")
        }
        return Judgement(outcome: .full, call: .pass)
    }

    /// A read-back that could not read at all: a FAIL, except a mapping the filesystem does not
    /// make (that way cannot show the file here, which says nothing about the write).
    public static func judgeReadback(_ way: String, error: any Error) -> Judgement {
        if let refused = error as? SharedMappingRefused {
            return Judgement(outcome: .error, call: .skip("read back \(way): \(refused)"))
        }
        return Judgement(outcome: .error, call: .fail, note: "read back \(way): \((error as? Errno)?.symbol ?? "\(error)")")
    }
}
