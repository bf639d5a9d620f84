extension Duration {
    /// Whole milliseconds, rounded down, as poll(2) and io_uring's `sq_thread_idle` take them.
    public var wholeMilliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}
