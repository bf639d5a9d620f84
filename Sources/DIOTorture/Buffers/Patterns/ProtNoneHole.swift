import DIOSystem

/// One page in the middle made inaccessible on purpose: the read may legally stop there, or fail
/// with EFAULT, and nowhere else.
struct ProtNoneHole: BufferPattern {
    static let name = "prot-none-hole"
    static let summary = "every page touched but one PROT_NONE page in the middle"
    static let traits = PatternTraits()

    static func prepare(_ context: BufferContext) throws -> PreparedBuffer {
        let pages = context.pages
        guard pages >= 2 else { throw BufferSetupError(isUnsupported: true, description: "prot-none-hole needs a buffer of 2 pages or more") }
        let hole = pages / 2
        var buffer = try PreparedBuffer.anonymous(context) { $0 != hole }
        try buffer.region.protect(pageRange: hole..<hole + 1, .none)
        buffer.plan[hole] = PagePlan(resident: false, prior: .inaccessible)
        buffer.inaccessibleOffset = hole * pageSize
        return buffer
    }

    static let reproducerSource: String? = """
    static unsigned char *make_buffer(int pages, long *hole_offset, int *resident) {
        unsigned char *base = anonymous_pages(pages);
        for (int p = 0; p < pages; p++) resident[p] = touch_page(base, p, p != pages / 2);
        if (mprotect(base + (long)(pages / 2) * PAGE, PAGE, PROT_NONE)) die("mprotect");
        *hole_offset = (long)(pages / 2) * PAGE;
        return base;
    }
    """
}

extension FaultPattern {
    public static let protNoneHole = FaultPattern(ProtNoneHole.self)
}
